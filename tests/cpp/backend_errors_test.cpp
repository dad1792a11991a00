// Backend failures as types: Redis error replies are parsed once where they enter
// (redis_connection.cpp), so nothing downstream matches on message text.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "game_data/errors.hpp"
#include "redis/redis_connection.hpp"

namespace game_data {
namespace {

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
        {"GAMEEXISTS g1", K::GameExists},
        {"ERR no such key", K::NoSuchKey},
        {"ERR syntax error", K::Other},
        {"OOMPH not a code we know", K::Other},
        {"WRONGTYPE Operation against a key holding the wrong kind of value", K::Other},
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

}  // namespace
}  // namespace game_data
