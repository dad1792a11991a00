// The Redis store under contention and against the reference: random event streams give
// exactly the memory store's results, and many threads and processes applying events to the
// same games never break the set invariants (checked raw, key by key).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "game_data/errors.hpp"
#include "game_data/store.hpp"
#include "support/redis_server.hpp"

namespace game_data {
namespace {

using testing::RedisServer;
using testing::shared_redis_server;

constexpr std::int64_t kT0 = 1'700'000'000'000;
const std::vector<std::string> kPlayers = {"alice", "p1", "p2", "p3", "p4"};

std::string fresh_ns(const std::string& base) {
    static std::atomic<int> counter{0};
    return base + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

std::shared_ptr<Store> redis_store(const std::string& ns, int pool_size = 4) {
    ConnectOptions o;
    o.ns = ns;
    o.pool_size = pool_size;
    return make_redis_store(Url::parse(shared_redis_server().url()), o);
}

Game new_game(const std::string& id, int capacity) {
    Game g;
    g.id = id;
    g.creator_id = "alice";
    g.capacity = capacity;
    g.server_id = "gs-1";
    g.metadata = {{"n", capacity}};
    g.created_at = g.updated_at = kT0;
    return g;
}

// A random, valid event: mostly lifecycle and roster traffic; game_ended with probability
// 3% * keep_ends (the rest become heartbeats).
Event random_event(std::mt19937& rng, const std::vector<std::string>& ids, bool with_seq,
                   double keep_ends = 1.0) {
    std::uniform_int_distribution<int> pick(0, 99);
    Event e;
    int t = pick(rng);
    if (t >= 78 && t < 81 && std::uniform_real_distribution<double>(0, 1)(rng) >= keep_ends) t = 90;
    e.type = t < 15 ? EventType::CreatorJoined
           : t < 40 ? EventType::PlayerJoined
           : t < 60 ? EventType::PlayerLeft
           : t < 70 ? EventType::AllPlayersJoined
           : t < 78 ? EventType::GameStarted
           : t < 81 ? EventType::GameEnded
                    : EventType::Heartbeat;
    e.game_id = ids[static_cast<std::size_t>(pick(rng)) % ids.size()];
    e.server_id = pick(rng) < 5 ? "gs-2" : "gs-1";
    if (e.type == EventType::CreatorJoined || e.type == EventType::PlayerJoined ||
        e.type == EventType::PlayerLeft || pick(rng) < 10) {
        e.player_id = kPlayers[static_cast<std::size_t>(pick(rng)) % kPlayers.size()];
    }
    if (with_seq && pick(rng) < 30) e.seq = pick(rng) % 20;
    return e;
}

// Raw check, key by key: a live game is in exactly the set of its state; an ended or reaped
// one is in none; the open index is exactly the creator_joined games with free seats, at
// their lobby score; no set holds anything else.
void expect_invariants(const RedisServer& s, const std::string& ns,
                       const std::vector<std::string>& ids) {
    const std::string p = ns + ":{0}:";
    std::int64_t live[3] = {0, 0, 0};
    std::int64_t open = 0;
    for (const auto& id : ids) {
        auto rec = s.command({"HMGET", p + "game:" + id, "state", "players", "capacity"});
        const std::string pending = s.command({"ZSCORE", p + "pending", id}).at(0);
        const std::string lobby = s.command({"ZSCORE", p + "lobby", id}).at(0);
        const std::string active = s.command({"ZSCORE", p + "active", id}).at(0);
        const std::string in_open = s.command({"ZSCORE", p + "open", id}).at(0);
        const std::string& state = rec.at(0);
        SCOPED_TRACE("game " + id + " state " + state);
        if (state == "(nil)") {
            EXPECT_EQ(pending, "(nil)");
            EXPECT_EQ(lobby, "(nil)");
            EXPECT_EQ(active, "(nil)");
            EXPECT_EQ(in_open, "(nil)");
            continue;
        }
        const bool want_pending = state == "created";
        const bool want_lobby = state == "creator_joined" || state == "all_players_joined";
        const bool want_active = state == "in_progress";
        ASSERT_TRUE(want_pending || want_lobby || want_active) << "unknown state";
        EXPECT_EQ(pending != "(nil)", want_pending);
        EXPECT_EQ(lobby != "(nil)", want_lobby);
        EXPECT_EQ(active != "(nil)", want_active);
        live[0] += want_pending;
        live[1] += want_lobby;
        live[2] += want_active;
        std::size_t players = rec.at(1).empty() ? 0 : 1;
        for (char c : rec.at(1)) players += c == ',';
        const bool want_open = state == "creator_joined" && players < std::stoul(rec.at(2));
        EXPECT_EQ(in_open != "(nil)", want_open);
        if (want_open) {
            EXPECT_EQ(in_open, lobby) << "open index score must equal the lobby score";
            ++open;
        }
    }
    EXPECT_EQ(std::stoll(s.command({"ZCARD", p + "pending"}).at(0)), live[0]);
    EXPECT_EQ(std::stoll(s.command({"ZCARD", p + "lobby"}).at(0)), live[1]);
    EXPECT_EQ(std::stoll(s.command({"ZCARD", p + "active"}).at(0)), live[2]);
    EXPECT_EQ(std::stoll(s.command({"ZCARD", p + "open"}).at(0)), open);
}

TEST(RedisParity, RandomEventStreamsGiveTheMemoryStoresResults) {
    ConnectOptions o;
    o.ns = fresh_ns("parity");
    auto memory = make_memory_store(Url::parse("memory://"), o);
    auto redis = make_redis_store(Url::parse(shared_redis_server().url()), o);
    std::mt19937 rng(20261125);
    std::vector<std::string> ids;
    std::int64_t now = kT0;
    for (int step = 0; step < 1500; ++step) {
        now += std::uniform_int_distribution<int>(0, 2000)(rng);
        const int what = std::uniform_int_distribution<int>(0, 99)(rng);
        if (ids.size() < 3 || what < 4) {
            // New ids, and sometimes an old one (live or tombstoned): both must refuse alike.
            std::string id = what < 2 && !ids.empty() ? ids[static_cast<std::size_t>(what) % ids.size()]
                                                      : "g" + std::to_string(ids.size());
            Game g = new_game(id, 1 + static_cast<int>(rng() % 4));
            bool m_exists = false, r_exists = false;
            try { memory->create_game(g, now); } catch (const GameExists&) { m_exists = true; }
            try { redis->create_game(g, now); } catch (const GameExists&) { r_exists = true; }
            ASSERT_EQ(m_exists, r_exists) << "create " << id;
            if (!m_exists) ids.push_back(id);
        } else if (what < 7) {
            MaxAges ages{30'000, 60'000, 120'000};
            auto m = memory->reap(now, ages, 3);
            auto r = redis->reap(now, ages, 3);
            ASSERT_EQ(m, r) << "reap at step " << step;
        } else if (what < 15) {
            std::vector<Event> batch;
            for (int i = 0; i < 5; ++i) batch.push_back(random_event(rng, ids, true));
            ASSERT_EQ(memory->apply_many(batch, now), redis->apply_many(batch, now)) << "step " << step;
        } else {
            Event e = random_event(rng, ids, true);
            if (what < 20) e.game_id = "unknown-" + std::to_string(what);
            ASSERT_EQ(memory->apply(e, now), redis->apply(e, now))
                << "step " << step << ": " << to_string(e.type) << " " << e.game_id;
        }
        for (const auto& id : ids) {
            ASSERT_EQ(memory->get_game(id), redis->get_game(id)) << "step " << step << " game " << id;
            ASSERT_EQ(memory->set_entry(id), redis->set_entry(id)) << "step " << step << " game " << id;
        }
        ASSERT_EQ(memory->get_open_games(100), redis->get_open_games(100)) << "step " << step;
        ASSERT_EQ(memory->counts(), redis->counts()) << "step " << step;
    }
    expect_invariants(shared_redis_server(), o.ns, ids);
}

// Applies `n` random events; returns how many calls failed (they must not fail at all).
int hammer(Store& store, const std::vector<std::string>& ids, unsigned seed, int n, bool batched) {
    std::mt19937 rng(seed);
    int failures = 0;
    for (int i = 0; i < n;) {
        try {
            if (batched) {
                std::vector<Event> batch;
                for (int k = 0; k < 8; ++k) batch.push_back(random_event(rng, ids, false, 0.1));
                store.apply_many(batch, now_ms());
                i += 8;
            } else {
                store.apply(random_event(rng, ids, false, 0.1), now_ms());
                ++i;
            }
        } catch (const std::exception&) {
            ++failures;
            ++i;
        }
    }
    return failures;
}

TEST(RedisConcurrency, ThreadsAndProcessesNeverBreakTheSetInvariants) {
    const std::string ns = fresh_ns("conc");
    std::vector<std::string> ids;
    auto shared = redis_store(ns, 2);  // fewer connections than threads: callers queue
    for (int i = 0; i < 30; ++i) {
        ids.push_back("g" + std::to_string(i));
        shared->create_game(new_game(ids.back(), 2 + i % 3), now_ms());
    }
    // Processes first, while this process has no other threads (fork safety).
    std::vector<pid_t> children;
    for (unsigned c = 0; c < 2; ++c) {
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            int failures = 1;
            try {
                auto own = redis_store(ns);
                failures = hammer(*own, ids, 1000 + c, 400, c == 1);
            } catch (...) {
            }
            ::_exit(failures == 0 ? 0 : 1);
        }
        children.push_back(pid);
    }
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
            // Half the threads share one store (and its pool), half open their own.
            std::shared_ptr<Store> store = t % 2 == 0 ? shared : redis_store(ns);
            failures += hammer(*store, ids, t, 400, t % 3 == 2);
        });
    }
    threads.emplace_back([&] {  // a reaper racing the appliers (removes nothing recent)
        for (int i = 0; i < 50; ++i) shared->reap(now_ms(), MaxAges{}, 2);
    });
    for (auto& th : threads) th.join();
    for (pid_t pid : children) {
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child process failed";
    }
    EXPECT_EQ(failures.load(), 0);
    expect_invariants(shared_redis_server(), ns, ids);
    const Counts c = shared->counts();
    EXPECT_GT(c.pending + c.lobby + c.active, 0) << "the run ended every game: nothing was checked";
    // And what the store reports agrees with what is stored.
    for (const auto& g : shared->get_open_games(100)) EXPECT_TRUE(g.is_open()) << g.id;
}

}  // namespace
}  // namespace game_data
