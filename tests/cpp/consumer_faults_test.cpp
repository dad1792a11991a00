// The consumer under faults: a read that fails after the server delivered, a group that
// vanished, tombstones outliving a reap at a simulated future time. Faults are injected by
// wrapping the real memory transport, or by acting on a real redis-server; Redis is never mocked.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "game_data/consumer.hpp"
#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/publisher.hpp"
#include "game_data/store.hpp"
#include "support/redis_server.hpp"

namespace game_data {
namespace {

// Forwards to a real transport; the next read of new entries is performed (the entries are
// delivered and pending) and then reported as a lost connection, like a reply lost in transit.
class LosesNextReadReply final : public StreamTransport {
public:
    explicit LosesNextReadReply(std::shared_ptr<StreamTransport> inner) : inner_(std::move(inner)) {}
    std::atomic<bool> armed{false};

    std::string add(const std::string& s, const Fields& f, std::int64_t maxlen) override {
        return inner_->add(s, f, maxlen);
    }
    void ensure_group(const std::string& s, const std::string& g) override { inner_->ensure_group(s, g); }
    std::vector<StreamEntry> read_group(const std::string& s, const std::string& g, const std::string& c,
                                        const std::string& from, std::int64_t count,
                                        std::int64_t block_ms) override {
        auto out = inner_->read_group(s, g, c, from, count, block_ms);
        if (from == ">" && !out.empty() && armed.exchange(false)) {
            throw OutcomeUnknown("connection lost after XREADGROUP was sent; the outcome is unknown");
        }
        return out;
    }
    std::vector<StreamEntry> autoclaim(const std::string& s, const std::string& g, const std::string& c,
                                       std::int64_t idle, std::string& cursor, std::int64_t count) override {
        return inner_->autoclaim(s, g, c, idle, cursor, count);
    }
    std::int64_t ack(const std::string& s, const std::string& g, const std::vector<std::string>& ids) override {
        return inner_->ack(s, g, ids);
    }
    std::int64_t length(const std::string& s) override { return inner_->length(s); }
    GroupInfo group_info(const std::string& s, const std::string& g) override { return inner_->group_info(s, g); }
    std::vector<StreamEntry> range(const std::string& s, std::int64_t count) override {
        return inner_->range(s, count);
    }
    LostEntries take_lost(const std::string& s, const std::string& g) override {
        return inner_->take_lost(s, g);
    }

private:
    std::shared_ptr<StreamTransport> inner_;
};

TEST(ConsumerFaults, EntriesDeliveredByAFailedReadAreAppliedBeforeNewerOnes) {
    auto mm = connect("memory://");
    auto lossy = std::make_shared<LosesNextReadReply>(mm.store()->streams());
    ConsumerOptions options;
    options.stream = "gd:events";
    options.claim_idle_ms = 3'600'000;  // no claim could rescue the lost entries in this test
    Consumer consumer(mm.store(), lossy, options, {});
    EventPublisher pub(lossy, "gs-1", "gd:events");
    const Game game = mm.create_game("alice", 3, "gs-1");

    EXPECT_TRUE(consumer.poll(10, 0).empty());  // drains (nothing of) its own pending first
    pub.creator_joined(game.id, "alice");
    lossy->armed = true;
    EXPECT_THROW(consumer.poll(10, 0), ConnectionError);
    pub.player_joined(game.id, "bob");

    std::vector<ApplyResult> applied;
    for (int i = 0; i < 3; ++i) {
        auto r = consumer.poll(10, 0);
        applied.insert(applied.end(), r.begin(), r.end());
    }
    ASSERT_EQ(applied.size(), 2u);
    EXPECT_EQ(applied[0].status, ApplyStatus::Applied);  // creator_joined, re-read from pending
    EXPECT_EQ(applied[0].state, GameState::CreatorJoined);
    EXPECT_EQ(applied[1].status, ApplyStatus::Applied);  // then bob's join
    EXPECT_EQ(mm.get_game(game.id)->players, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_EQ(consumer.group_info().pending, 0);
}

TEST(ConsumerFaults, AConsumerRecreatesAVanishedGroupAndKeepsConsuming) {
    auto& server = testing::shared_redis_server();
    ConnectOptions o;
    o.ns = "vanish" + std::to_string(::getpid());
    auto mm = connect(server.url(), o);
    auto consumer = mm.consumer(ConsumerOptions{});
    auto pub = mm.publisher("gs-1");
    const Game first = mm.create_game("alice", 2, "gs-1");
    pub.creator_joined(first.id, "alice");
    ASSERT_EQ(consumer.poll(10, 0).size(), 1u);

    server.command({"DEL", mm.default_stream()});  // FLUSHDB, or a restart without persistence
    const Game second = mm.create_game("carol", 2, "gs-1");
    pub.creator_joined(second.id, "carol");
    auto results = consumer.poll(10, 0);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].game_id, second.id);
    EXPECT_EQ(results[0].status, ApplyStatus::Applied);
}

TEST(ConsumerFaults, TombstonesOutliveAReapAtASimulatedFutureTime) {
    // Tombstones expire by the real clock on every backend (Redis expires keys that way), so a
    // reap at now + 2 h must not make an ended game unknown or its id reusable.
    static std::atomic<int> run{0};
    const std::string unique = std::to_string(::getpid()) + "-" + std::to_string(run.fetch_add(1));
    for (const std::string& url : {std::string("memory://"), testing::shared_redis_server().url()}) {
        ConnectOptions o;
        o.ns = "tomb" + unique;
        auto mm = connect(url, o);
        const Game g = mm.create_game("alice", 2, "gs-1", Metadata{}, "ended-" + unique);
        ASSERT_EQ(mm.apply({EventType::GameEnded, g.id, "gs-1", {}, {}, {}}).status, ApplyStatus::Applied);
        mm.reap(mm.now() + 2 * 3'600'000);
        const ApplyResult late = mm.apply({EventType::GameEnded, g.id, "gs-1", {}, {}, {}});
        EXPECT_EQ(late.status, ApplyStatus::Duplicate) << url;
        EXPECT_EQ(late.reason, "game has ended") << url;
        EXPECT_THROW(mm.create_game("alice", 2, "gs-1", Metadata{}, g.id), GameExists) << url;
    }
}

}  // namespace
}  // namespace game_data
