// Backend failures as types: Redis error replies are parsed once where they enter
// (redis_connection.cpp) and the memory transport throws the same types, so nothing downstream
// matches on message text; a Redis that is out of memory is a ConnectionError that the one
// run loop (run_loop, Consumer::run) rides out.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <thread>
#include <vector>

#include "game_data/consumer.hpp"
#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/publisher.hpp"
#include "game_data/run_loop.hpp"
#include "redis/redis_connection.hpp"
#include "support/redis_server.hpp"
#include "support/wait.hpp"

namespace game_data {
namespace {

using Clock = std::chrono::steady_clock;

using testing::wait_until;

// An error reply as hiredis hands it over.
struct ErrorReply {
    explicit ErrorReply(std::string message) : text(std::move(message)) {
        reply.type = REDIS_REPLY_ERROR;
        reply.str = text.data();
        reply.len = text.size();
    }
    std::string text;
    redisReply reply{};
};

// ---- parsing ------------------------------------------------------------------------------

TEST(RedisErrorKind, EachErrorCodeIsParsedOnce) {
    using K = redis::ErrorKind;
    const std::vector<std::pair<std::string, K>> cases = {
        {"OOM command not allowed when used memory > 'maxmemory'.", K::OutOfMemory},
        {"OOM command not allowed when used memory > 'maxmemory'. script: 1f, on @user_script:3.",
         K::OutOfMemory},
        {"NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option", K::NoGroup},
        {"UNBLOCKED the stream key no longer exists", K::StreamDeleted},
        {"UNBLOCKED client unblocked via CLIENT UNBLOCK", K::Other},
        {"BUSYGROUP Consumer Group name already exists", K::BusyGroup},
        {"NOSCRIPT No matching script. Please use EVAL.", K::NoScript},
        {"LOADING Redis is loading the dataset in memory", K::Loading},
        {"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
         K::MasterDown},
        {"EXECABORT Transaction discarded because of previous errors.", K::ExecAbort},
        {"ERR no such key", K::NoSuchKey},
        {"ERR syntax error", K::Other},
        {"OOMPH not a code we know", K::Other},
        {"WRONGTYPE Operation against a key holding the wrong kind of value", K::WrongType},
    };
    for (const auto& [text, kind] : cases) {
        ErrorReply e(text);
        EXPECT_EQ(redis::error_kind(e.reply), kind) << text;
    }
    redisReply ok{};
    ok.type = REDIS_REPLY_STATUS;
    EXPECT_EQ(redis::error_kind(ok), K::None);
}

template <typename Expected>
void expect_thrown_as(const std::string& text) {
    ErrorReply e(text);
    try {
        redis::throw_if_error(e.reply, "TEST");
        ADD_FAILURE() << "nothing thrown for " << text;
    } catch (const Expected& error) {
        EXPECT_NE(std::string(error.what()).find(text), std::string::npos) << error.what();
    } catch (const std::exception& other) {
        ADD_FAILURE() << text << " was thrown as " << typeid(other).name();
    }
}

TEST(RedisErrorKind, ErrorRepliesBecomeTypedExceptions) {
    expect_thrown_as<OutOfMemory>("OOM command not allowed when used memory > 'maxmemory'.");
    expect_thrown_as<BusyLoading>("LOADING Redis is loading the dataset in memory");
    expect_thrown_as<GroupMissing>("NOGROUP No such key 's' or consumer group 'g'");
    expect_thrown_as<GroupMissing>("UNBLOCKED the stream key no longer exists");
    expect_thrown_as<ScriptMissing>("NOSCRIPT No matching script. Please use EVAL.");
    expect_thrown_as<ConnectionError>("MASTERDOWN Link with MASTER is down");
    expect_thrown_as<ReplyError>("ERR syntax error");
    redisReply ok{};
    ok.type = REDIS_REPLY_INTEGER;
    EXPECT_NO_THROW(redis::throw_if_error(ok, "TEST"));
}

TEST(BackendErrorTypes, RetryableOnesAreConnectionErrorsAndMissingOnesReplyErrors) {
    // The consumer's run loop (and any caller's) retries ConnectionErrors: OOM and LOADING
    // must be among them; a missing group or script is an answer, not an outage.
    static_assert(std::is_base_of_v<ConnectionError, OutOfMemory>);
    static_assert(std::is_base_of_v<ConnectionError, BusyLoading>);
    static_assert(std::is_base_of_v<ReplyError, GroupMissing>);
    static_assert(std::is_base_of_v<ReplyError, ScriptMissing>);
    static_assert(!std::is_base_of_v<ConnectionError, ReplyError>);
    EXPECT_STREQ(backend_error_kind(OutOfMemory("x")), "oom");
    EXPECT_STREQ(backend_error_kind(BusyLoading("x")), "loading");
    EXPECT_STREQ(backend_error_kind(TimeoutError("x")), "timeout");
    EXPECT_STREQ(backend_error_kind(OutcomeUnknown("x")), "outcome_unknown");
    EXPECT_STREQ(backend_error_kind(ConnectionError("x")), "connection");
    EXPECT_STREQ(backend_error_kind(GroupMissing("x")), "group_missing");
    EXPECT_STREQ(backend_error_kind(ReplyError("x")), "reply");
}

TEST(BackendErrorTypes, BothTransportsThrowGroupMissingForAMissingGroup) {
    ConnectOptions o;
    o.ns = "errors" + std::to_string(::getpid());
    const std::string stream = o.ns + ":events";
    for (const std::string& url : {std::string("memory://"), testing::shared_redis_server().url()}) {
        auto streams = open_store(Url::parse(url), o)->streams();
        streams->add(stream, {{"k", "v"}});
        EXPECT_THROW(streams->read_group(stream, "nope", "c", ">", 1, 0), GroupMissing) << url;
        EXPECT_THROW(streams->read_group(stream, "nope", "c", "0", 1, 0), GroupMissing) << url;
        std::string cursor = "0-0";
        EXPECT_THROW(streams->autoclaim(stream, "nope", "c", 0, cursor, 1), GroupMissing) << url;
        EXPECT_THROW(streams->group_info(stream, "nope"), GroupMissing) << url;
        EXPECT_THROW(streams->group_info(stream + ":none", "nope"), GroupMissing) << url;
        EXPECT_THROW(streams->take_lost(stream, "nope"), GroupMissing) << url;
        EXPECT_THROW(streams->remove_idle_consumers(stream, "nope", 0, "c"), GroupMissing) << url;
    }
}

// ---- out of memory ------------------------------------------------------------------------

class OutOfMemoryRedis : public ::testing::Test {
protected:
    void fill_up() { server_.command({"CONFIG", "SET", "maxmemory", "1"}); }
    void make_room() { server_.command({"CONFIG", "SET", "maxmemory", "0"}); }

    testing::RedisServer server_;  // private: the others must not run out of memory
};

TEST_F(OutOfMemoryRedis, WritesAreRefusedWithOutOfMemoryAndAnExistingGroupNeedsNoWrite) {
    ConnectOptions o;
    auto streams = open_store(Url::parse(server_.url()), o)->streams();
    streams->ensure_group("s", "g");
    streams->add("s", {{"k", "v"}});
    fill_up();
    EXPECT_THROW(streams->add("s", {{"k", "v"}}), OutOfMemory);
    // Starting a consumer again on its existing group only reads: it works while Redis is full.
    EXPECT_NO_THROW(streams->ensure_group("s", "g"));
    EXPECT_THROW(streams->ensure_group("s", "another"), OutOfMemory);
    EXPECT_EQ(streams->group_info("s", "g").lag, 1);
    make_room();
    EXPECT_NO_THROW(streams->ensure_group("s", "another"));
}

TEST_F(OutOfMemoryRedis, ConsumerRunRidesOutOutOfMemoryCountsItAndCatchesUpAfterwards) {
    ConnectOptions o;
    o.ns = "oom";
    auto mm = connect(server_.url(), o);
    const Game game = mm.create_game("alice", 4, "gs-1");
    ConsumerOptions options;
    options.name = "daemon";
    mm.consumer(options).poll(10, 0);  // an earlier run created the group
    auto pub = mm.publisher("gs-1");
    pub.creator_joined(game.id, "alice");
    pub.player_joined(game.id, "bob");
    pub.game_started(game.id);
    fill_up();

    auto consumer = mm.consumer(options);  // restarted while Redis is full
    std::atomic<bool> stop{false};
    std::exception_ptr failure;
    std::thread runner([&] {
        try {
            consumer.run(stop, 100, 10);
        } catch (...) {
            failure = std::current_exception();
        }
    });
    const std::string oom = labelled(metric::kBackendErrorsTotal, {{"kind", "oom"}});
    const bool reported = wait_until([&] { return mm.metrics()->value(oom) >= 3 || failure; });
    const GameState while_full = mm.get_game(game.id)->state;  // reads still work
    make_room();
    const bool caught_up = wait_until([&] {
        return failure || mm.get_game(game.id)->state == GameState::InProgress;
    });
    stop.store(true);
    runner.join();

    ASSERT_FALSE(failure) << "run() ended on an out-of-memory Redis";
    EXPECT_TRUE(reported);
    EXPECT_EQ(while_full, GameState::Created);
    EXPECT_TRUE(caught_up);
    EXPECT_EQ(consumer.stats().applied, 3);
    EXPECT_EQ(consumer.stats().rejected, 0);
    EXPECT_EQ(consumer.group_info().pending, 0);
}

// ---- the one run loop ---------------------------------------------------------------------

RunLoopOptions quick_loop() {
    RunLoopOptions o;
    o.min_backoff_ms = 1;
    o.max_backoff_ms = 2;
    o.report_interval_ms = 0;
    return o;
}

TEST(RunLoop, ConnectionErrorsAreRetriedAndAStopEndsTheLoopBetweenSteps) {
    int steps = 0, reports = 0;
    bool stop = false;
    run_loop([&] { return stop; },
             [&] {
                 ++steps;
                 if (steps == 1) throw OutOfMemory("full");
                 if (steps == 2) throw BusyLoading("loading");
                 if (steps == 3) throw OutcomeUnknown("lost");
                 if (steps == 5) stop = true;
             },
             [&] { ++reports; }, quick_loop());
    EXPECT_EQ(steps, 5);
    EXPECT_EQ(reports, 1);  // the final one
}

TEST(RunLoop, OtherErrorsEndTheLoopAfterTheFinalReport) {
    int reports = 0;
    EXPECT_THROW(run_loop([] { return false; }, [] { throw ReplyError("NOPERM"); },
                          [&] { ++reports; }, quick_loop()),
                 ReplyError);
    EXPECT_EQ(reports, 1);
}

TEST(RunLoop, WithoutRetryTheFirstConnectionErrorEndsTheLoop) {
    RunLoopOptions o = quick_loop();
    o.retry = false;
    int steps = 0;
    EXPECT_THROW(run_loop([] { return false; }, [&] { ++steps; throw OutOfMemory("full"); }, {}, o),
                 OutOfMemory);
    EXPECT_EQ(steps, 1);
}

TEST(RunLoop, ReportsEveryIntervalAndSurvivesAFailingReport) {
    RunLoopOptions o = quick_loop();
    o.report_interval_ms = 1;
    int reports = 0;
    run_loop([&] { return reports >= 3; }, [] { std::this_thread::yield(); },
             [&] {
                 ++reports;
                 throw ConnectionError("report failed");
             },
             o);
    EXPECT_EQ(reports, 4);  // three periodic, then the final one
}

TEST(RunLoop, AStopEndsABackoffWaitEarly) {
    RunLoopOptions o = quick_loop();
    o.min_backoff_ms = o.max_backoff_ms = 600'000;
    int asked = 0, steps = 0;
    const auto started = Clock::now();
    // Asked before the step, at the start of the ten-minute wait, then again a slice later.
    run_loop([&] { return ++asked >= 3; }, [&] { ++steps; throw ConnectionError("down"); }, {}, o);
    EXPECT_EQ(steps, 1);
    EXPECT_EQ(asked, 4);  // and once more by the loop itself
    EXPECT_LT(Clock::now() - started, std::chrono::seconds(5));
}

}  // namespace
}  // namespace game_data
