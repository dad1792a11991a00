// Connection loss: while redis-server is down every call fails fast with a typed
// ConnectionError; once it is back the same handle reconnects by itself, and with appendonly
// everything acknowledged before the crash is still there.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "game_data/errors.hpp"
#include "game_data/store.hpp"
#include "support/redis_server.hpp"
#include "support/wait.hpp"

namespace game_data {
namespace {

using testing::RedisServer;
using testing::wait_until;

constexpr std::int64_t kT0 = 1'700'000'000'000;

Game new_game(const std::string& id) {
    Game g;
    g.id = id;
    g.creator_id = "alice";
    g.capacity = 4;
    g.server_id = "gs-1";
    g.created_at = g.updated_at = kT0;
    return g;
}

Event creator_joined(const std::string& id) {
    Event e;
    e.type = EventType::CreatorJoined;
    e.game_id = id;
    e.server_id = "gs-1";
    e.player_id = "alice";
    return e;
}

std::shared_ptr<Store> open_fast_failing(const RedisServer& server) {
    ConnectOptions o;
    o.ns = "restart";
    o.connect_timeout_ms = 500;
    o.command_timeout_ms = 2000;
    o.pool_size = 2;
    return make_redis_store(Url::parse(server.url()), o);
}

TEST(RedisRestart, CallsDuringAnOutageRaiseConnectionErrorAndTheHandleRecovers) {
    RedisServer server(true);
    auto store = open_fast_failing(server);
    store->create_game(new_game("before"), kT0);
    server.kill();
    EXPECT_THROW(store->get_game("before"), ConnectionError);
    EXPECT_THROW(store->apply(creator_joined("before"), kT0 + 1), ConnectionError);
    EXPECT_THROW(store->create_game(new_game("during"), kT0 + 1), ConnectionError);
    EXPECT_THROW(store->counts(), ConnectionError);
    EXPECT_THROW(store->get_open_games(10), ConnectionError);
    EXPECT_THROW(store->reap(kT0, MaxAges{}, 10), ConnectionError);
    server.restart();
    ASSERT_TRUE(store->get_game("before")) << "acknowledged create lost";
    EXPECT_EQ(store->apply(creator_joined("before"), kT0 + 2).status, ApplyStatus::Applied);
    EXPECT_EQ(store->counts(), (Counts{0, 1, 0}));
}

TEST(RedisRestart, AnInFlightCallWhoseConnectionDiesSaysTheOutcomeIsUnknown) {
    RedisServer server;
    auto store = open_fast_failing(server);
    store->create_game(new_game("g"), kT0);
    // Hold the call in a server that pauses writes (scripts included), then kill it mid-call.
    server.command({"CLIENT", "PAUSE", "10000", "WRITE"});
    std::string message;
    bool typed = false;
    std::jthread caller([&] {
        try {
            store->apply(creator_joined("g"), kT0 + 1);
        } catch (const OutcomeUnknown& e) {
            typed = true;
            message = e.what();
        } catch (const std::exception& e) {
            message = e.what();
        }
    });
    ASSERT_TRUE(wait_until([&] {
        // The call is in flight once Redis reports a client blocked ("flags=b") by the pause.
        return server.command({"CLIENT", "LIST"}).at(0).find("flags=b ") != std::string::npos;
    }));
    server.kill();
    caller.join();
    EXPECT_TRUE(typed) << message;
    EXPECT_NE(message.find("outcome is unknown"), std::string::npos) << message;
}

TEST(RedisRestart, EverythingAcknowledgedSurvivesAKillMidRun) {
    RedisServer server(true);
    auto store = open_fast_failing(server);
    std::mutex mutex;
    std::set<std::string> created, joined;  // acknowledged
    std::atomic<int> successes{0}, connection_errors{0}, other_errors{0};
    std::atomic<bool> stop{false};
    std::string other_message;
    std::jthread worker([&] {
        for (int i = 0; !stop; ++i) {
            const std::string id = "g" + std::to_string(i);
            try {
                store->create_game(new_game(id), kT0 + i);
                {
                    std::lock_guard lock(mutex);
                    created.insert(id);
                }
                if (store->apply(creator_joined(id), kT0 + i).status == ApplyStatus::Applied) {
                    std::lock_guard lock(mutex);
                    joined.insert(id);
                }
                ++successes;
            } catch (const ConnectionError&) {
                ++connection_errors;
            } catch (const std::exception& e) {
                std::lock_guard lock(mutex);
                other_message = e.what();
                ++other_errors;
            }
        }
    });
    ASSERT_TRUE(wait_until([&] { return successes >= 50; }));
    server.kill();
    // Calls from another thread during the outage fail with the typed exception too.
    EXPECT_THROW(store->counts(), ConnectionError);
    ASSERT_TRUE(wait_until([&] { return connection_errors >= 5; }));
    server.restart();
    const int after_restart = successes;
    ASSERT_TRUE(wait_until([&] { return successes >= after_restart + 50; }))
        << "the handle did not recover after the restart";
    stop = true;
    worker.join();
    EXPECT_EQ(other_errors.load(), 0) << "an outage raised something other than ConnectionError: "
                                      << other_message;

    std::lock_guard lock(mutex);
    for (const auto& id : created) EXPECT_TRUE(store->get_game(id)) << id << " lost";
    for (const auto& id : joined) {
        auto g = store->get_game(id);
        ASSERT_TRUE(g) << id;
        EXPECT_EQ(g->state, GameState::CreatorJoined) << id;
        ASSERT_TRUE(store->set_entry(id)) << id;
        EXPECT_EQ(store->set_entry(id)->first, GameSet::Lobby) << id;
    }
}

}  // namespace
}  // namespace game_data
