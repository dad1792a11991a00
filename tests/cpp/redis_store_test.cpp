// The Redis backend seen from Redis itself: the exact key layout of SPEC section 4 after each
// transition, namespace isolation, script reloading after SCRIPT FLUSH, URL handling and
// agreement with the memory store on random event sequences.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "game_data/errors.hpp"
#include "game_data/lifecycle.hpp"
#include "game_data/event_codec.hpp"
#include "game_data/store.hpp"
#include "support/redis_server.hpp"

namespace game_data {
namespace {

using testing::RedisServer;
using testing::shared_redis_server;
using Strings = std::vector<std::string>;

constexpr std::int64_t kT0 = 1'700'000'000'000;

std::string fresh_ns(const std::string& base) {
    static std::atomic<int> counter{0};
    return base + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

std::shared_ptr<Store> open_store_at(const std::string& url, const std::string& ns,
                                     ConnectOptions o = {}) {
    o.ns = ns;
    return make_redis_store(Url::parse(url), o);
}

Game new_game(const std::string& id, int capacity = 2, const std::string& creator = "alice") {
    Game g;
    g.id = id;
    g.creator_id = creator;
    g.capacity = capacity;
    g.server_id = "gs-1";
    g.metadata = {{"mode", "duel"}};
    g.created_at = g.updated_at = kT0;
    return g;
}

Event event(EventType type, const std::string& game, std::optional<std::string> player = {},
            std::optional<std::int64_t> seq = {}) {
    Event e;
    e.type = type;
    e.game_id = game;
    e.server_id = "gs-1";
    e.player_id = std::move(player);
    e.seq = seq;
    return e;
}

Strings sorted_keys(const RedisServer& s, const std::string& ns, int db = 0) {
    Strings keys = s.command({"KEYS", ns + ":*"}, db);
    std::sort(keys.begin(), keys.end());
    return keys;
}

// HGETALL as a sorted list of "field=value".
Strings hash_fields(const RedisServer& s, const std::string& key) {
    Strings flat = s.command({"HGETALL", key});
    Strings out;
    for (std::size_t i = 0; i + 1 < flat.size(); i += 2) out.push_back(flat[i] + "=" + flat[i + 1]);
    std::sort(out.begin(), out.end());
    return out;
}

std::string zscore(const RedisServer& s, const std::string& key, const std::string& id) {
    return s.command({"ZSCORE", key, id}).at(0);
}

int unused_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// ---- layout --------------------------------------------------------------------------------

class RedisLayout : public ::testing::Test {
protected:
    const RedisServer& server = shared_redis_server();
    std::string ns = fresh_ns("layout");
    std::shared_ptr<Store> store = open_store_at(server.url(), ns);
    std::string k(const std::string& suffix) const { return ns + ":{0}:" + suffix; }
};

TEST_F(RedisLayout, CreateWritesTheGameHashAndThePendingEntry) {
    store->create_game(new_game("g1"), kT0);
    EXPECT_EQ(sorted_keys(server, ns), (Strings{k("game:g1"), k("pending")}));
    EXPECT_EQ(server.command({"TYPE", k("game:g1")}), Strings{"hash"});
    EXPECT_EQ(server.command({"TYPE", k("pending")}), Strings{"zset"});
    EXPECT_EQ(hash_fields(server, k("game:g1")),
              (Strings{"capacity=2", "created_at=" + std::to_string(kT0), "creator_id=alice",
                       "id=g1", "last_seq=0", "metadata={\"mode\":\"duel\"}", "players=", "rev=1",
                       "score=" + std::to_string(kT0), "server_id=gs-1", "state=created",
                       "updated_at=" + std::to_string(kT0)}));
    EXPECT_EQ(zscore(server, k("pending"), "g1"), std::to_string(kT0));
}

TEST_F(RedisLayout, EveryTransitionMovesTheGameBetweenSetsAndTheOpenIndex) {
    const auto t = [](int s) { return std::to_string(kT0 + s * 1000); };
    store->create_game(new_game("g1", 2), kT0);

    ASSERT_EQ(store->apply(event(EventType::CreatorJoined, "g1", "alice", 5), kT0 + 1000).status,
              ApplyStatus::Applied);
    EXPECT_EQ(sorted_keys(server, ns), (Strings{k("game:g1"), k("lobby"), k("open")}));
    EXPECT_EQ(server.command({"HMGET", k("game:g1"), "state", "players", "updated_at", "last_seq"}),
              (Strings{"creator_joined", "alice", t(1), "5"}));
    EXPECT_EQ(zscore(server, k("lobby"), "g1"), t(1));
    EXPECT_EQ(zscore(server, k("open"), "g1"), t(0)) << "open games are scored by creation";

    store->apply(event(EventType::PlayerJoined, "g1", "bob"), kT0 + 2000);  // now full
    EXPECT_EQ(sorted_keys(server, ns), (Strings{k("game:g1"), k("lobby")}));
    EXPECT_EQ(server.command({"HGET", k("game:g1"), "players"}), Strings{"alice,bob"});
    EXPECT_EQ(zscore(server, k("lobby"), "g1"), t(1)) << "roster changes keep the lobby score";

    store->apply(event(EventType::PlayerLeft, "g1", "bob"), kT0 + 3000);  // a seat again
    EXPECT_EQ(zscore(server, k("open"), "g1"), t(0)) << "open again at its creation";

    store->apply(event(EventType::Heartbeat, "g1"), kT0 + 4000);
    EXPECT_EQ(zscore(server, k("lobby"), "g1"), t(4));
    EXPECT_EQ(zscore(server, k("open"), "g1"), t(0)) << "a heartbeat never reorders open games";
    EXPECT_EQ(server.command({"HMGET", k("game:g1"), "updated_at", "score"}), (Strings{t(4), t(4)}));

    store->apply(event(EventType::AllPlayersJoined, "g1"), kT0 + 5000);
    EXPECT_EQ(sorted_keys(server, ns), (Strings{k("game:g1"), k("lobby")}));
    EXPECT_EQ(server.command({"HGET", k("game:g1"), "state"}), Strings{"all_players_joined"});
    EXPECT_EQ(zscore(server, k("lobby"), "g1"), t(4)) << "same set, same score";

    store->apply(event(EventType::GameStarted, "g1"), kT0 + 6000);
    EXPECT_EQ(sorted_keys(server, ns), (Strings{k("active"), k("game:g1")}));
    EXPECT_EQ(zscore(server, k("active"), "g1"), t(6));
    EXPECT_EQ(server.command({"HGET", k("game:g1"), "state"}), Strings{"in_progress"});

    store->apply(event(EventType::GameEnded, "g1"), kT0 + 7000);
    EXPECT_EQ(sorted_keys(server, ns), (Strings{k("tomb:g1")}));
    EXPECT_EQ(server.command({"TYPE", k("tomb:g1")}), Strings{"string"});
    EXPECT_EQ(server.command({"GET", k("tomb:g1")}), Strings{"ended"});
    const std::int64_t pttl = std::stoll(server.command({"PTTL", k("tomb:g1")}).at(0));
    EXPECT_GT(pttl, 0);
    EXPECT_LE(pttl, ConnectOptions{}.tombstone_ttl_ms);
}

TEST_F(RedisLayout, RefusedEventsWriteNothing) {
    store->create_game(new_game("g1", 1), kT0);
    store->apply(event(EventType::CreatorJoined, "g1", "alice", 3), kT0 + 1000);
    for (std::size_t i = 0; i < kMaxHeldJoins; ++i) {  // fill the joins held for a seat
        store->apply(event(EventType::PlayerJoined, "g1", "h" + std::to_string(i)), kT0 + 1500);
    }
    const Strings before = hash_fields(server, k("game:g1"));
    EXPECT_EQ(store->apply(event(EventType::PlayerJoined, "g1", "bob"), kT0 + 2000).reason, "game is full");
    EXPECT_EQ(store->apply(event(EventType::PlayerLeft, "g1", "alice", 3), kT0 + 2000).reason,
              "seq already applied");
    Event wrong = event(EventType::GameEnded, "g1");
    wrong.server_id = "gs-2";
    EXPECT_EQ(store->apply(wrong, kT0 + 2000).reason, "wrong server");
    EXPECT_EQ(hash_fields(server, k("game:g1")), before);
    EXPECT_EQ(zscore(server, k("lobby"), "g1"), std::to_string(kT0 + 1000));
    EXPECT_EQ(server.command({"HGET", k("game:g1"), "rev"}), Strings{std::to_string(2 + kMaxHeldJoins)});
}

TEST_F(RedisLayout, ReapRemovesOldGamesAndLeavesReapedTombstones) {
    store->create_game(new_game("old"), kT0);
    store->create_game(new_game("new"), kT0 + 50'000);
    MaxAges ages;
    auto removed = store->reap(kT0 + 60'001, ages, 1);
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_EQ(removed[0].id, "old");
    EXPECT_EQ(removed[0].metadata, (Metadata{{"mode", "duel"}}));
    EXPECT_EQ(sorted_keys(server, ns),
              (Strings{k("game:new"), k("pending"), k("reaped"), k("tomb:old")}));
    EXPECT_EQ(server.command({"GET", k("tomb:old")}), Strings{"reaped"});
    EXPECT_EQ(server.command({"XLEN", k("reaped")}), Strings{"1"});
    EXPECT_THROW(store->create_game(new_game("old"), kT0 + 70'000), GameExists);
}

TEST_F(RedisLayout, ReapWorksThroughManyBatches) {
    for (int i = 0; i < 25; ++i) store->create_game(new_game("g" + std::to_string(i)), kT0 + i);
    auto removed = store->reap(kT0 + 60'000 + 20, MaxAges{}, 4);  // scores below kT0 + 20
    EXPECT_EQ(removed.size(), 20u);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(removed[i].id, "g" + std::to_string(i)) << "oldest first";
    EXPECT_EQ(store->counts().pending, 5);
}

TEST_F(RedisLayout, OpenIndexHoldsOnlyCreatorJoinedGamesWithFreeSeats) {
    store->create_game(new_game("a", 2), kT0 + 3);
    store->create_game(new_game("b", 1), kT0);
    store->create_game(new_game("c", 3), kT0 + 2);
    store->apply(event(EventType::CreatorJoined, "a", "alice"), kT0 + 3);
    store->apply(event(EventType::CreatorJoined, "b", "alice"), kT0 + 1);  // full at once
    store->apply(event(EventType::CreatorJoined, "c", "alice"), kT0 + 2);
    EXPECT_EQ(server.command({"ZRANGE", k("open"), "0", "-1", "WITHSCORES"}),
              (Strings{"c", std::to_string(kT0 + 2), "a", std::to_string(kT0 + 3)}));
    auto open = store->get_open_games(10);
    ASSERT_EQ(open.size(), 2u);
    EXPECT_EQ(open[0].id, "c");
    EXPECT_EQ(open[1].players, Strings{"alice"});
    EXPECT_EQ(store->get_open_games(1).size(), 1u);
}

// ---- heartbeats without a read (Backend::refresh_blind) -------------------------------------

TEST_F(RedisLayout, AHeartbeatRescoresOnlyTheSetOfItsStateAndBumpsTheRevision) {
    store->create_game(new_game("g1", 3), kT0);
    store->create_game(new_game("g2", 3), kT0 + 1);
    store->apply(event(EventType::CreatorJoined, "g1", "alice"), kT0 + 10);
    store->apply(event(EventType::CreatorJoined, "g2", "alice"), kT0 + 20);
    const Strings open_before = server.command({"ZRANGE", k("open"), "0", "-1", "WITHSCORES"});
    ASSERT_EQ(server.command({"HGET", k("game:g1"), "rev"}), Strings{"2"});
    ASSERT_EQ(store->apply(event(EventType::Heartbeat, "g1", {}, 7), kT0 + 500).status, ApplyStatus::Applied);
    EXPECT_EQ(zscore(server, k("lobby"), "g1"), std::to_string(kT0 + 500));
    EXPECT_EQ(server.command({"ZRANGE", k("open"), "0", "-1", "WITHSCORES"}), open_before);
    EXPECT_EQ(server.command({"HMGET", k("game:g1"), "rev", "updated_at", "score", "last_seq"}),
              (Strings{"3", std::to_string(kT0 + 500), std::to_string(kT0 + 500), "7"}));
    // A lower seq leaves last_seq as it was; the game is still served first.
    store->apply(event(EventType::Heartbeat, "g1", {}, 3), kT0 + 600);
    EXPECT_EQ(server.command({"HGET", k("game:g1"), "last_seq"}), Strings{"7"});
    auto open = store->get_open_games(10);
    ASSERT_EQ(open.size(), 2u);
    EXPECT_EQ(open[0].id, "g1");
    EXPECT_EQ(open[0].updated_at, kT0 + 600);
}

TEST_F(RedisLayout, AHeartbeatOfAGoneOrForeignGameWritesNothing) {
    store->create_game(new_game("live"), kT0);
    store->create_game(new_game("ended"), kT0);
    store->apply(event(EventType::GameEnded, "ended"), kT0 + 1);
    store->create_game(new_game("reaped"), kT0 - 100'000);
    ASSERT_EQ(store->reap(kT0, MaxAges{}, 10).size(), 1u);
    const Strings keys_before = sorted_keys(server, ns);
    const Strings record_before = hash_fields(server, k("game:live"));
    Event foreign = event(EventType::Heartbeat, "live");
    foreign.server_id = "gs-2";
    const std::vector<Event> batch = {event(EventType::Heartbeat, "ended"),
                                      event(EventType::Heartbeat, "reaped"),
                                      event(EventType::Heartbeat, "nobody"), foreign};
    auto results = store->apply_many(batch, kT0 + 5);
    ASSERT_EQ(results.size(), 4u);
    EXPECT_EQ(results[0].status, ApplyStatus::Duplicate);
    EXPECT_EQ(results[0].reason, "game has ended");
    EXPECT_EQ(results[1].status, ApplyStatus::Rejected);
    EXPECT_EQ(results[1].reason, "game was reaped");
    EXPECT_EQ(results[2].status, ApplyStatus::Rejected);
    EXPECT_EQ(results[2].reason, "unknown game");
    EXPECT_EQ(results[3].status, ApplyStatus::Rejected);
    EXPECT_EQ(results[3].reason, "wrong server");
    EXPECT_EQ(results[3].state, GameState::Created);
    EXPECT_EQ(sorted_keys(server, ns), keys_before) << "no heartbeat resurrects a game";
    EXPECT_EQ(hash_fields(server, k("game:live")), record_before);
    EXPECT_EQ(zscore(server, k("pending"), "live"), std::to_string(kT0));
}

TEST_F(RedisLayout, AHeartbeatAgainstASetOfAnotherTypeIsRefusedWritingNothing) {
    store->create_game(new_game("g1"), kT0);
    store->apply(event(EventType::CreatorJoined, "g1", "alice"), kT0 + 1);
    server.command({"DEL", k("lobby")});
    server.command({"XADD", k("lobby"), "*", "x", "1"});
    const Strings record_before = hash_fields(server, k("game:g1"));
    const ApplyResult r = store->apply(event(EventType::Heartbeat, "g1"), kT0 + 2);
    EXPECT_EQ(r.status, ApplyStatus::Rejected);
    EXPECT_NE(r.reason.find("storage refused the write"), std::string::npos) << r.reason;
    EXPECT_NE(r.reason.find(k("lobby")), std::string::npos) << r.reason;
    EXPECT_EQ(hash_fields(server, k("game:g1")), record_before);
}

TEST_F(RedisLayout, AHeartbeatAfterAReadMakesTheCommitOfThatReadDecideAgain) {
    // A roster change read before a heartbeat commits only after deciding again, so neither
    // write is lost: the reader's guard is the revision the heartbeat bumped.
    auto backend = make_redis_backend(Url::parse(server.url()), [&] {
        ConnectOptions o;
        o.ns = ns;
        return o;
    }());
    store->create_game(new_game("g1", 3), kT0);
    store->apply(event(EventType::CreatorJoined, "g1", "alice"), kT0 + 1);
    const std::string id = "g1";
    StoredGame read = backend->read(std::span(&id, 1)).at(0);
    const Backend::BlindRefresh hb{"g1", "gs-1", std::nullopt};
    ASSERT_EQ(backend->refresh_blind(std::span(&hb, 1), kT0 + 50).at(0).kind, BlindSeen::Kind::Applied);
    GameWrite w;
    w.id = id;
    w.expect_revision = read.revision;
    w.after = *read.slot.game;
    w.after->players.push_back("bob");
    w.revision = read.revision + 1;
    w.score = read.slot.score;
    EXPECT_EQ(backend->commit(std::span(&w, 1)), std::vector<bool>{false});
    EXPECT_EQ(server.command({"HGET", k("game:g1"), "players"}), Strings{"alice"});
    // Through Store, the same join lands on top of the heartbeat.
    store->apply(event(EventType::PlayerJoined, "g1", "bob"), kT0 + 60);
    EXPECT_EQ(server.command({"HMGET", k("game:g1"), "players", "score"}),
              (Strings{"alice,bob", std::to_string(kT0 + 50)}));
}

TEST_F(RedisLayout, HeartbeatsBesideOtherEventsOfTheirGameKeepTheBatchOrder) {
    store->create_game(new_game("g1", 3), kT0);
    store->create_game(new_game("g2", 3), kT0);
    store->apply(event(EventType::CreatorJoined, "g2", "alice"), kT0 + 1);
    const std::vector<Event> batch = {event(EventType::Heartbeat, "g1"),
                                      event(EventType::CreatorJoined, "g1", "alice"),
                                      event(EventType::Heartbeat, "g2"),
                                      event(EventType::Heartbeat, "g1"),
                                      event(EventType::GameEnded, "g1"),
                                      event(EventType::Heartbeat, "g1")};
    auto results = store->apply_many(batch, kT0 + 100);
    ASSERT_EQ(results.size(), 6u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(results[i].status, ApplyStatus::Applied) << i;
    EXPECT_EQ(results[0].state, GameState::Created);
    EXPECT_EQ(results[3].state, GameState::CreatorJoined);
    EXPECT_EQ(results[5].status, ApplyStatus::Duplicate);
    EXPECT_EQ(server.command({"GET", k("tomb:g1")}), Strings{"ended"});
    EXPECT_EQ(zscore(server, k("lobby"), "g2"), std::to_string(kT0 + 100));
}

TEST(RedisNamespaces, StoresWithDifferentNamespacesNeverMeet) {
    const RedisServer& server = shared_redis_server();
    const std::string a = fresh_ns("nsa"), b = fresh_ns("nsb");
    auto sa = open_store_at(server.url(), a);
    auto sb = open_store_at(server.url(), b);
    sa->create_game(new_game("same"), kT0);
    sb->create_game(new_game("same", 4), kT0);
    sa->apply(event(EventType::GameEnded, "same"), kT0 + 1);
    EXPECT_FALSE(sa->get_game("same"));
    ASSERT_TRUE(sb->get_game("same"));
    EXPECT_EQ(sb->get_game("same")->capacity, 4);
    EXPECT_EQ(sorted_keys(server, a), Strings{a + ":{0}:tomb:same"});
    EXPECT_EQ(sorted_keys(server, b), (Strings{b + ":{0}:game:same", b + ":{0}:pending"}));
    EXPECT_EQ(sb->counts(), (Counts{1, 0, 0}));
}

// ---- scripts -------------------------------------------------------------------------------

TEST(RedisScripts, EveryCallStillWorksAfterScriptFlush) {
    RedisServer server;
    auto store = open_store_at(server.url(), "flush");
    auto flush = [&] { ASSERT_EQ(server.command({"SCRIPT", "FLUSH"}), Strings{"OK"}); };
    flush();
    store->create_game(new_game("g1"), kT0);
    flush();
    EXPECT_EQ(store->apply(event(EventType::CreatorJoined, "g1", "alice"), kT0 + 1).status,
              ApplyStatus::Applied);
    flush();
    EXPECT_EQ(store->get_open_games(5).size(), 1u);
    flush();
    EXPECT_EQ(store->counts(), (Counts{0, 1, 0}));
    flush();
    EXPECT_EQ(store->set_entry("g1"), std::make_pair(GameSet::Lobby, kT0 + 1));
    flush();
    std::vector<Event> batch{event(EventType::PlayerJoined, "g1", "bob"),
                             event(EventType::PlayerLeft, "g1", "bob"),
                             event(EventType::GameStarted, "g1")};
    auto results = store->apply_many(batch, kT0 + 2);
    ASSERT_EQ(results.size(), 3u);
    for (const auto& r : results) EXPECT_EQ(r.status, ApplyStatus::Applied);
    EXPECT_EQ(store->get_game("g1")->state, GameState::InProgress);
    flush();
    EXPECT_EQ(store->reap(kT0 + 10'000'000, MaxAges{}, 10).size(), 1u);
}

TEST(RedisScripts, ApplyManyReturnsOneResultPerEventInOrder) {
    auto store = open_store_at(shared_redis_server().url(), fresh_ns("many"));
    store->create_game(new_game("g1", 2), kT0);
    std::vector<Event> batch{event(EventType::PlayerJoined, "g1", "bob"),   // before the creator
                             event(EventType::CreatorJoined, "g1", "alice"),
                             event(EventType::PlayerJoined, "g1", "bob"),    // again
                             event(EventType::PlayerJoined, "g1", "carol"),  // full: held
                             event(EventType::Heartbeat, "nope")};
    auto r = store->apply_many(batch, kT0 + 1);
    ASSERT_EQ(r.size(), 5u);
    EXPECT_EQ(r[0].status, ApplyStatus::Applied);
    EXPECT_EQ(r[1].status, ApplyStatus::Applied);
    EXPECT_EQ(r[2].reason, "player already in game");
    EXPECT_EQ(r[3].reason, "held until a seat frees");
    EXPECT_EQ(store->get_game("g1")->players, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_EQ(r[4].reason, "unknown game");
    EXPECT_FALSE(r[4].state);
    EXPECT_EQ(store->apply_many({}, kT0).size(), 0u);
}

TEST(RedisScripts, ApplyManyKeepsItsOrderWhenTheScriptCacheIsFlushedMidway) {
    // One thread applies [bob joins, bob leaves] per game in batches; another keeps flushing
    // the script cache and reloading it through a second store. A batch must never be split
    // into a NOSCRIPT part retried after a part that ran: every game ends without bob.
    RedisServer& server = shared_redis_server();
    const std::string ns = fresh_ns("flushrace");
    auto store = open_store_at(server.url(), ns);
    auto other = open_store_at(server.url(), ns);
    constexpr int kGames = 2000;
    constexpr int kPerBatch = 250;  // 500 commands: larger than one server read, so others interleave
    for (int i = 0; i < kGames; ++i) {
        const std::string id = "g" + std::to_string(i);
        store->create_game(new_game(id, 4), kT0);
        store->apply(event(EventType::CreatorJoined, id, "alice"), kT0);
    }
    other->create_game(new_game("probe"), kT0);
    std::atomic<bool> done{false};
    std::thread flusher([&] {
        while (!done.load()) {
            server.command({"SCRIPT", "FLUSH"});
            for (int k = 0; k < 5 && !done.load(); ++k) {  // the first reloads the script
                other->apply(event(EventType::Heartbeat, "probe"), kT0);
            }
        }
    });
    std::vector<ApplyResult> results;
    std::string error;
    try {
        for (int i = 0; i < kGames; i += kPerBatch) {
            std::vector<Event> batch;
            for (int k = i; k < i + kPerBatch; ++k) {
                const std::string id = "g" + std::to_string(k);
                batch.push_back(event(EventType::PlayerJoined, id, "bob"));
                batch.push_back(event(EventType::PlayerLeft, id, "bob"));
            }
            auto r = store->apply_many(batch, kT0 + 1);
            results.insert(results.end(), r.begin(), r.end());
        }
    } catch (const std::exception& e) {
        error = e.what();
    }
    done = true;
    flusher.join();
    ASSERT_EQ(error, "");
    ASSERT_EQ(results.size(), static_cast<std::size_t>(2 * kGames));
    for (const auto& r : results) EXPECT_EQ(r.status, ApplyStatus::Applied) << r.game_id << " " << r.reason;
    for (int i = 0; i < kGames; ++i) {
        EXPECT_EQ(store->get_game("g" + std::to_string(i))->players, Strings{"alice"}) << i;
    }
}

TEST(RedisScripts, AStoreLoadsNoScriptUntilItRunsOne) {
    // A game server's Redis user may be allowed XADD only: opening a store (as the publisher
    // does) must not need SCRIPT LOAD.
    RedisServer& server = shared_redis_server();
    const std::string user = fresh_ns("xaddonly");
    // The README's advice: XADD on its events stream and nothing else (a narrow key pattern).
    server.command({"ACL", "SETUSER", user, "on", ">pw", "resetkeys", "~gd-xaddonly:events",
                    "resetchannels", "-@all", "+xadd", "+ping", "+auth", "+select"});
    const std::string url = "redis://" + user + ":pw@127.0.0.1:" + std::to_string(server.port()) + "/0";
    auto store = open_store_at(url, fresh_ns("pub"));
    EXPECT_FALSE(store->streams()->add("gd-xaddonly:events", {{"type", "heartbeat"}}).empty());
    EXPECT_THROW(store->counts(), ReplyError);  // scripts are loaded on first use, and refused here
    EXPECT_THROW(store->streams()->add(store->ns() + ":{0}:lobby", {{"x", "y"}}), ReplyError)
        << "no other key";
    server.command({"ACL", "DELUSER", user});
}

TEST(RedisScripts, SeqsUpTo2To53MinusOneCompareExactly) {
    auto store = open_store_at(shared_redis_server().url(), fresh_ns("seq"));
    store->create_game(new_game("g1"), kT0);
    const std::int64_t big = kMaxSeq;
    ASSERT_EQ(store->apply(event(EventType::CreatorJoined, "g1", "alice", 1), kT0).status,
              ApplyStatus::Applied);
    EXPECT_EQ(store->apply(event(EventType::PlayerJoined, "g1", "bob", big - 1), kT0 + 1).status,
              ApplyStatus::Applied);
    EXPECT_EQ(store->apply(event(EventType::PlayerLeft, "g1", "bob", big), kT0 + 2).status,
              ApplyStatus::Applied);
    EXPECT_EQ(store->get_game("g1")->last_seq, big);
    EXPECT_EQ(store->get_game("g1")->player_seqs.at("bob"), big);
    EXPECT_EQ(store->apply(event(EventType::PlayerJoined, "g1", "bob", big), kT0 + 3).status,
              ApplyStatus::Duplicate);
    EXPECT_THROW(store->apply(event(EventType::Heartbeat, "g1", {}, big + 1), kT0 + 4),
                 InvalidArgument);
}

// ---- URLs and connecting -------------------------------------------------------------------

TEST(RedisUrls, ConnectionRefusedIsAConnectionError) {
    EXPECT_THROW(open_store_at("redis://127.0.0.1:" + std::to_string(unused_port()) + "/0", "x"),
                 ConnectionError);
}

TEST(RedisUrls, MissingUnixSocketIsAConnectionError) {
    EXPECT_THROW(open_store_at("unix:///nonexistent/gd-test.sock", "x"), ConnectionError);
}

TEST(RedisUrls, MalformedUrlsAndOptionsAreInvalidArguments) {
    const std::string base = shared_redis_server().url();
    EXPECT_THROW(open_store_at("redis://127.0.0.1:notaport/0", "x"), InvalidArgument);
    EXPECT_THROW(open_store_at("redis://127.0.0.1:6379/zero", "x"), InvalidArgument);
    EXPECT_THROW(open_store_at(base + "?pool_size=0", "x"), InvalidArgument);
    EXPECT_THROW(open_store_at(base + "?timeout_ms=abc", "x"), InvalidArgument);
    EXPECT_THROW(open_store_at(base + "?connect_timeout_ms=0", "x"), InvalidArgument);
    EXPECT_THROW(open_store_at(base + "?no_such_option=1", "x"), InvalidArgument);
    EXPECT_THROW(open_store_at("memory://", "x"), InvalidArgument);
    EXPECT_THROW(open_store_at(base, "bad{ns}"), InvalidArgument);
    const std::string db99 = "redis://127.0.0.1:" + std::to_string(shared_redis_server().port()) + "/99";
    EXPECT_THROW(open_store_at(db99, "x"), InvalidArgument);
}

TEST(RedisUrls, RedissNeedsAHiredisWithSsl) {
    const std::string url = "rediss://127.0.0.1:" + std::to_string(shared_redis_server().port());
#if __has_include(<hiredis/hiredis_ssl.h>)
    // A TLS build: the handshake with this plain-text server fails.
    EXPECT_THROW(open_store_at(url, "x"), ConnectionError);
#else
    try {
        open_store_at(url, "x");
        FAIL() << "rediss:// opened without SSL support";
    } catch (const Unsupported& e) {
        EXPECT_NE(std::string(e.what()).find("SSL"), std::string::npos) << e.what();
    }
#endif
}

TEST(RedisUrls, QueryOptionsAreAccepted) {
    auto store = open_store_at(shared_redis_server().url() +
                                   "?connect_timeout_ms=500&timeout_ms=1000&pool_size=1",
                               fresh_ns("opts"));
    store->create_game(new_game("g1"), kT0);
    EXPECT_TRUE(store->get_game("g1"));
}

TEST(RedisUrls, UnixSocketWithDbSelectsThatDatabase) {
    const RedisServer& server = shared_redis_server();
    const std::string ns = fresh_ns("unix");
    auto store = open_store_at("unix://" + server.unix_socket() + "?db=3", ns);
    store->create_game(new_game("g1"), kT0);
    EXPECT_EQ(sorted_keys(server, ns, 3), (Strings{ns + ":{0}:game:g1", ns + ":{0}:pending"}));
    EXPECT_TRUE(sorted_keys(server, ns, 0).empty());
}

TEST(RedisUrls, TcpDbNumberSelectsThatDatabase) {
    const RedisServer& server = shared_redis_server();
    const std::string ns = fresh_ns("db");
    auto store = open_store_at(server.url(5), ns);
    store->create_game(new_game("g1"), kT0);
    EXPECT_EQ(sorted_keys(server, ns, 5).size(), 2u);
    EXPECT_TRUE(sorted_keys(server, ns, 0).empty());
}

TEST(RedisUrls, PasswordAndAclUserAuthenticate) {
    RedisServer server;
    server.command({"ACL", "SETUSER", "mm", "on", ">s3cret", "~*", "+@all"});
    server.command({"CONFIG", "SET", "requirepass", "topsecret"});
    const std::string host = "127.0.0.1:" + std::to_string(server.port());
    EXPECT_NO_THROW(open_store_at("redis://:topsecret@" + host + "/0", "a")->counts());
    EXPECT_NO_THROW(open_store_at("redis://mm:s3cret@" + host + "/0", "a")->counts());
    try {
        open_store_at("redis://mm:wrong@" + host + "/0", "a");
        FAIL() << "wrong password accepted";
    } catch (const ConnectionError& e) {
        EXPECT_EQ(std::string(e.what()).find("wrong@"), std::string::npos) << "password leaked";
    }
}

TEST(RedisUrls, ACommandTimeoutIsATimeoutErrorAndTheHandleRecovers) {
    RedisServer server;
    auto store = open_store_at(server.url() + "?timeout_ms=100", "slow");
    store->create_game(new_game("g1"), kT0);
    server.command({"CLIENT", "PAUSE", "1000", "ALL"});
    try {
        store->apply(event(EventType::CreatorJoined, "g1", "alice"), kT0 + 1);
        FAIL() << "no timeout while Redis was paused";
    } catch (const TimeoutError& e) {
        EXPECT_NE(std::string(e.what()).find("outcome is unknown"), std::string::npos) << e.what();
    }
    // Poll (with a deadline) until the pause is over; the same handle then works.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::optional<Game> g;
    while (std::chrono::steady_clock::now() < deadline) {
        try {
            g = store->get_game("g1");
            break;
        } catch (const TimeoutError&) {
        }
    }
    ASSERT_TRUE(g);
    // Whether the timed-out call ran is unknown; re-applying it is safe either way.
    auto again = store->apply(event(EventType::CreatorJoined, "g1", "alice"), kT0 + 2);
    EXPECT_NE(again.status, ApplyStatus::Rejected) << again.reason;
    EXPECT_EQ(again.state, GameState::CreatorJoined);
}

}  // namespace
}  // namespace game_data
