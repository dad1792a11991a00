// The Redis StreamTransport against a real redis-server: the commands it issues leave the
// stream and its consumer group exactly as Redis Streams semantics say.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "game_data/errors.hpp"
#include "game_data/store.hpp"
#include "support/redis_server.hpp"

namespace game_data {
namespace {

using testing::shared_redis_server;

class RedisStreamsTest : public ::testing::Test {
protected:
    std::shared_ptr<StreamTransport> open(const std::string& query = "") {
        ConnectOptions o;
        o.ns = "streams";
        return make_redis_store(Url::parse(shared_redis_server().url() + query), o)->streams();
    }
    std::shared_ptr<StreamTransport> t = open();
    std::string stream = fresh();

    static std::string fresh() {
        static std::atomic<int> n{0};
        return "s" + std::to_string(::getpid()) + "-" + std::to_string(n.fetch_add(1));
    }
    std::vector<std::string> add(int n) {
        std::vector<Fields> entries;
        for (int i = 0; i < n; ++i) entries.push_back({{"k", std::to_string(i)}});
        return t->add_many(stream, entries);
    }
};

TEST_F(RedisStreamsTest, AddManyAppendsInOrderInOneCall) {
    auto ids = add(3);
    ASSERT_EQ(ids.size(), 3u);
    auto all = t->range(stream);
    ASSERT_EQ(all.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(all[i].id, ids[i]);
        EXPECT_EQ(all[i].fields, (Fields{{"k", std::to_string(i)}}));
    }
    EXPECT_EQ(t->range(stream, 2).size(), 2u);
    EXPECT_EQ(t->length(stream), 3);
    EXPECT_THROW(t->add(stream, {}), InvalidArgument);
}

TEST_F(RedisStreamsTest, MaxlenTrimsApproximately) {
    for (int i = 0; i < 500; ++i) t->add(stream, {{"i", std::to_string(i)}}, 10);
    const std::int64_t len = t->length(stream);
    EXPECT_GE(len, 10);
    EXPECT_LT(len, 500);
}

TEST_F(RedisStreamsTest, EnsureGroupStartsAtZeroAndIsIdempotent) {
    add(2);
    t->ensure_group(stream, "g");
    EXPECT_EQ(t->read_group(stream, "g", "c", ">", 10, 0).size(), 2u);
    t->ensure_group(stream, "g");  // BUSYGROUP: kept, not reset
    EXPECT_TRUE(t->read_group(stream, "g", "c", ">", 10, 0).empty());
    t->ensure_group(fresh(), "g");  // MKSTREAM
}

TEST_F(RedisStreamsTest, MissingGroupIsAReplyError) {
    add(1);
    EXPECT_THROW(t->read_group(stream, "nope", "c", ">", 1, 0), ReplyError);
    EXPECT_THROW(t->group_info(stream, "nope"), ReplyError);
    EXPECT_THROW(t->group_info(fresh(), "nope"), ReplyError);
}

TEST_F(RedisStreamsTest, OwnPendingReadsCountDeliveries) {
    add(2);
    t->ensure_group(stream, "g");
    auto fresh_read = t->read_group(stream, "g", "c", ">", 10, 0);
    ASSERT_EQ(fresh_read.size(), 2u);
    EXPECT_EQ(fresh_read[0].deliveries, 1);
    auto again = t->read_group(stream, "g", "c", "0", 10, 0);
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[0].deliveries, 2);
    EXPECT_EQ(again[0].fields, fresh_read[0].fields);
    EXPECT_EQ(t->read_group(stream, "g", "c", "0", 1, 0).at(0).deliveries, 3);
    EXPECT_EQ(t->read_group(stream, "g", "other", "0", 10, 0).size(), 0u);
    EXPECT_EQ(t->ack(stream, "g", {again[0].id, again[1].id}), 2);
    EXPECT_TRUE(t->read_group(stream, "g", "c", "0", 10, 0).empty());
    EXPECT_EQ(t->ack(stream, "g", {}), 0);
}

TEST_F(RedisStreamsTest, TrimmedOwnPendingEntryComesBackDeleted) {
    auto ids = add(3);
    t->ensure_group(stream, "g");
    t->read_group(stream, "g", "c", ">", 10, 0);
    shared_redis_server().command({"XDEL", stream, ids[1]});
    auto pending = t->read_group(stream, "g", "c", "0", 10, 0);
    ASSERT_EQ(pending.size(), 3u);
    EXPECT_FALSE(pending[0].deleted);
    EXPECT_TRUE(pending[1].deleted);
    EXPECT_TRUE(pending[1].fields.empty());
    EXPECT_EQ(pending[1].id, ids[1]);
}

TEST_F(RedisStreamsTest, AutoclaimTakesIdleEntriesAndReportsTrimmedOnes) {
    auto ids = add(3);
    t->ensure_group(stream, "g");
    t->read_group(stream, "g", "dead", ">", 10, 0);
    shared_redis_server().command({"XDEL", stream, ids[2]});
    std::string cursor = "0-0";
    auto claimed = t->autoclaim(stream, "g", "alive", 0, cursor, 10);
    EXPECT_EQ(cursor, "0-0");
    ASSERT_EQ(claimed.size(), 3u);
    EXPECT_EQ(claimed[0].id, ids[0]);
    EXPECT_EQ(claimed[0].deliveries, 2);
    EXPECT_FALSE(claimed[1].deleted);
    EXPECT_TRUE(claimed[2].deleted);
    EXPECT_EQ(claimed[2].id, ids[2]);
    EXPECT_EQ(t->group_info(stream, "g").pending, 2) << "the trimmed id left the PEL";
    EXPECT_EQ(t->read_group(stream, "g", "alive", "0", 10, 0).size(), 2u);
}

TEST_F(RedisStreamsTest, AutoclaimLeavesBusyEntriesAlone) {
    add(1);
    t->ensure_group(stream, "g");
    t->read_group(stream, "g", "busy", ">", 10, 0);
    std::string cursor = "0-0";
    EXPECT_TRUE(t->autoclaim(stream, "g", "thief", 60'000, cursor, 10).empty());
}

TEST_F(RedisStreamsTest, GroupInfoReportsPendingAndLag) {
    add(5);
    t->ensure_group(stream, "g");
    t->read_group(stream, "g", "c", ">", 2, 0);
    auto info = t->group_info(stream, "g");
    EXPECT_EQ(info.pending, 2);
    EXPECT_EQ(info.lag, 3);
}

TEST_F(RedisStreamsTest, BlockingReadLongerThanTheCommandTimeoutIsNotATimeout) {
    // Redis ends a BLOCK up to one server tick (100 ms) late; the command timeout covers it.
    auto quick = open("?timeout_ms=300");
    quick->ensure_group(stream, "g");
    EXPECT_TRUE(quick->read_group(stream, "g", "c", ">", 10, 600).empty());
    add(1);
    EXPECT_EQ(quick->read_group(stream, "g", "c", ">", 10, 600).size(), 1u);
}

}  // namespace
}  // namespace game_data
