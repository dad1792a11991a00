// The event stream end to end (SPEC sections 3 and 5): EventPublisher -> StreamTransport ->
// Consumer -> Store, over every backend whose transport works. Waits poll a condition with a
// deadline; nothing sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "game_data/consumer.hpp"
#include "game_data/dead_letters.hpp"
#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/publisher.hpp"
#include "game_data/store.hpp"
#include "support/redis_server.hpp"

namespace game_data {
namespace {

using A = ApplyStatus;
using S = GameState;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(10);

// ---- backends -----------------------------------------------------------------------------

struct StreamParam {
    std::string name;
    std::function<std::shared_ptr<Store>(const ConnectOptions&)> open;
};

std::ostream& operator<<(std::ostream& os, const StreamParam& p) { return os << p.name; }

std::shared_ptr<Store> open_memory(const ConnectOptions& o) {
    return make_memory_store(Url::parse("memory://"), o);
}

std::shared_ptr<Store> open_redis(const ConnectOptions& o) {
    return make_redis_store(Url::parse(testing::shared_redis_server().url()), o);
}

// Every backend, always: a backend that cannot run here is a failure, not a skip.
std::vector<StreamParam> stream_params() {
    return {{"memory", open_memory}, {"redis", open_redis}};
}

std::string unique_namespace() {
    static std::atomic<int> counter{0};
    return "strm" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

Fields with_error(Fields f, const std::string& reason) {
    f.emplace_back("error", reason);
    return f;
}

// ---- fixture ------------------------------------------------------------------------------

class StreamTest : public ::testing::TestWithParam<StreamParam> {
protected:
    void SetUp() override {
        options_.ns = unique_namespace();
        store_ = GetParam().open(options_);
        mm_ = std::make_unique<Matchmaker>(store_, options_);
        transport_ = store_->streams();
        stream_ = mm_->default_stream();
        dead_ = stream_ + ":dead";
    }

    ConsumerOptions consumer_options(const std::string& name, std::int64_t claim_idle_ms = 60'000) {
        ConsumerOptions o;
        o.name = name;
        o.claim_idle_ms = claim_idle_ms;
        return o;
    }

    Game create(const std::string& id, std::int32_t capacity = 8,
                const std::string& server = "gs-1") {
        return mm_->create_game(
            CreateGameRequest{"alice", capacity, server, Metadata{}, id});
    }

    // Polls until `want` results have come back (or the deadline passes); returns them all.
    static std::vector<ApplyResult> poll_until(Consumer& c, std::size_t want) {
        std::vector<ApplyResult> all;
        const auto deadline = SteadyClock::now() + kDeadline;
        while (all.size() < want && SteadyClock::now() < deadline) {
            for (auto& r : c.poll(100, 10)) all.push_back(std::move(r));
        }
        return all;
    }

    static std::size_t count_status(const std::vector<ApplyResult>& rs, ApplyStatus s) {
        std::size_t n = 0;
        for (const auto& r : rs) n += r.status == s ? 1 : 0;
        return n;
    }

    std::vector<Fields> dead_letters() {
        std::vector<Fields> out;
        for (auto& e : transport_->range(dead_)) out.push_back(std::move(e.fields));
        return out;
    }

    // Reads new entries under `consumer` without acknowledging: a consumer that crashed.
    std::vector<StreamEntry> read_without_ack(const std::string& consumer) {
        transport_->ensure_group(stream_, "matchmaker");
        return transport_->read_group(stream_, "matchmaker", consumer, ">", 1'000, 0);
    }

    ConnectOptions options_;
    std::shared_ptr<Store> store_;
    std::unique_ptr<Matchmaker> mm_;
    std::shared_ptr<StreamTransport> transport_;
    std::string stream_;
    std::string dead_;
};

// ---- publish and poll ---------------------------------------------------------------------

TEST_P(StreamTest, PublishedEventIsAppliedByPoll) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    const std::string id = pub.creator_joined("g1", "alice");
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    const auto results = poll_until(c, 1);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].status, A::Applied);
    EXPECT_EQ(results[0].entry_id, id);
    EXPECT_EQ(results[0].game_id, "g1");
    EXPECT_EQ(results[0].state, S::CreatorJoined);
    EXPECT_EQ(mm_->get_game("g1")->state, S::CreatorJoined);
    EXPECT_EQ(c.group_info().pending, 0);
}

TEST_P(StreamTest, EveryPublisherMethodReachesTheStore) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    pub.player_joined("g1", "bob");
    pub.player_joined("g1", "carol");
    pub.player_left("g1", "carol");
    pub.all_players_joined("g1");
    pub.heartbeat("g1");
    pub.game_started("g1");
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    const auto results = poll_until(c, 7);
    ASSERT_EQ(results.size(), 7u);
    EXPECT_EQ(count_status(results, A::Applied), 7u);
    const Game g = *mm_->get_game("g1");
    EXPECT_EQ(g.state, S::InProgress);
    EXPECT_EQ(g.players, (std::vector<std::string>{"alice", "bob"}));
    pub.game_ended("g1");
    ASSERT_EQ(poll_until(c, 1).size(), 1u);
    EXPECT_FALSE(mm_->get_game("g1"));
}

TEST_P(StreamTest, EntriesPublishedBeforeTheFirstConsumerAreNotMissed) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    pub.player_joined("g1", "bob");
    pub.game_started("g1");
    Consumer c = mm_->consumer(consumer_options("mm-1"));  // group created now, at id 0
    const auto results = poll_until(c, 3);
    EXPECT_EQ(count_status(results, A::Applied), 3u);
    EXPECT_EQ(mm_->get_game("g1")->state, S::InProgress);
}

TEST_P(StreamTest, AnExistingGroupIsNotResetWhenEnsuredAgain) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    ASSERT_EQ(poll_until(c, 1).size(), 1u);
    transport_->ensure_group(stream_, "matchmaker");
    pub.game_started("g1");
    Consumer fresh = mm_->consumer(consumer_options("mm-2"));
    const auto results = poll_until(fresh, 1);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].state, S::InProgress);
    EXPECT_TRUE(fresh.poll(100, 0).empty());
}

TEST_P(StreamTest, PollWithNothingToReadReturnsNothing) {
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    EXPECT_TRUE(c.poll(10, 0).empty());
    EXPECT_TRUE(c.poll(10, 5).empty());
}

TEST_P(StreamTest, GroupInfoReportsLagAndPending) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    for (int i = 0; i < 3; ++i) pub.heartbeat("g1");
    transport_->ensure_group(stream_, "matchmaker");
    auto info = transport_->group_info(stream_, "matchmaker");
    EXPECT_EQ(info.pending, 0);
    EXPECT_EQ(info.lag, 3);
    ASSERT_EQ(read_without_ack("mm-1").size(), 3u);
    info = transport_->group_info(stream_, "matchmaker");
    EXPECT_EQ(info.pending, 3);
    EXPECT_EQ(info.lag, 0);
}

TEST_P(StreamTest, RunAppliesEventsUntilStopped) {
    create("g1");
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    std::atomic<bool> stop{false};
    std::thread runner([&] { c.run(stop, 100, 10); });
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    pub.game_started("g1");
    const auto deadline = SteadyClock::now() + kDeadline;
    while (mm_->get_game("g1")->state != S::InProgress && SteadyClock::now() < deadline) {
        std::this_thread::yield();
    }
    stop.store(true);
    runner.join();
    EXPECT_EQ(mm_->get_game("g1")->state, S::InProgress);
    EXPECT_EQ(c.stats().applied, 2);
    EXPECT_EQ(c.group_info().pending, 0);
}

// Consumers in one group share the entries but not their order, so the events here do not
// depend on each other: every game is already in the lobby and no seq is stamped.
TEST_P(StreamTest, ParallelConsumersApplyEveryEntryExactlyOnce) {
    constexpr int kGames = 10;
    constexpr int kPlayers = 20;
    for (int g = 0; g < kGames; ++g) {
        const std::string id = "g" + std::to_string(g);
        create(id, kPlayers + 1);
        const Event joined{EventType::CreatorJoined, id, "gs-1", "alice", {}, {}};
        ASSERT_EQ(mm_->apply(joined).status, A::Applied);
    }
    EventPublisher pub = mm_->publisher("gs-1", std::nullopt, 0, /*stamp_seq=*/false);
    for (int p = 0; p < kPlayers; ++p) {
        for (int g = 0; g < kGames; ++g) {
            pub.player_joined("g" + std::to_string(g), "p" + std::to_string(p));
        }
    }
    const std::size_t total = kGames * kPlayers;

    std::mutex mutex;
    std::vector<ApplyResult> results;
    std::atomic<std::size_t> seen{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        Consumer consumer = mm_->consumer(consumer_options("c" + std::to_string(t)));
        threads.emplace_back([&, c = std::move(consumer)]() mutable {
            const auto deadline = SteadyClock::now() + kDeadline;
            while (seen.load() < total && SteadyClock::now() < deadline) {
                auto batch = c.poll(7, 5);
                seen.fetch_add(batch.size());
                std::lock_guard lock(mutex);
                for (auto& r : batch) results.push_back(std::move(r));
            }
        });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(results.size(), total);
    std::set<std::string> ids;
    for (const auto& r : results) ids.insert(r.entry_id);
    EXPECT_EQ(ids.size(), total);
    EXPECT_EQ(count_status(results, A::Applied), total);
    for (int g = 0; g < kGames; ++g) {
        EXPECT_EQ(mm_->get_game("g" + std::to_string(g))->players.size(),
                  std::size_t{kPlayers + 1});
    }
    EXPECT_EQ(transport_->group_info(stream_, "matchmaker").pending, 0);
}

// ---- bad entries --------------------------------------------------------------------------

class StreamBadEntries : public StreamTest {
protected:
    // Good entries around one of each kind of bad entry. Fills `bad_` with the bad ones.
    void publish_mixed() {
        create("g1");
        create("other", 8, "gs-2");
        EventPublisher pub = mm_->publisher("gs-1");
        pub.creator_joined("g1", "alice");
        bad_ = {
            {{"game_id", "g1"}, {"server_id", "gs-1"}},                        // missing type
            {{"type", "game_paused"}, {"game_id", "g1"}, {"server_id", "gs-1"}},  // unknown type
            {{"type", "heartbeat"}, {"server_id", "gs-1"}},                    // missing game_id
            {{"type", "heartbeat"}, {"game_id", "g1"}},                        // missing server_id
            {{"type", "player_joined"}, {"game_id", "g1"}, {"server_id", "gs-1"}},  // no player
            {{"type", "heartbeat"}, {"game_id", ""}, {"server_id", "gs-1"}},   // empty value
            {{"type", "heartbeat"}, {"game_id", std::string(129, 'g')}, {"server_id", "gs-1"}},
            {{"type", "heartbeat"}, {"game_id", "g1"}, {"server_id", "gs-1"}, {"seq", "abc"}},
            {{"type", "heartbeat"}, {"game_id", "g1"}, {"server_id", "gs-1"}, {"ts", "-5"}},
            {{"type", "heartbeat"}, {"type", "game_started"}, {"game_id", "g1"},  // repeated
             {"server_id", "gs-1"}},
            {{std::string("\xff\x00", 2), std::string("\x01\x02\xfe", 3)}},   // binary garbage
            {{"type", "heartbeat"}, {"game_id", "nope"}, {"server_id", "gs-1"}},   // unknown game
            {{"type", "game_started"}, {"game_id", "other"}, {"server_id", "gs-1"}},  // wrong srv
        };
        for (std::size_t i = 0; i < bad_.size(); ++i) {
            pub.publish_raw(bad_[i]);
            if (i == bad_.size() / 2) pub.player_joined("g1", "bob");
        }
        pub.game_started("g1");
        good_ = 3;
    }

    std::vector<Fields> bad_;
    std::size_t good_ = 0;
};

TEST_P(StreamBadEntries, EachBadEntryIsRejectedWithAShortReason) {
    publish_mixed();
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    const auto results = poll_until(c, bad_.size() + good_);
    ASSERT_EQ(results.size(), bad_.size() + good_);
    EXPECT_EQ(count_status(results, A::Rejected), bad_.size());
    for (const auto& r : results) {
        if (r.status != A::Rejected) continue;
        EXPECT_FALSE(r.reason.empty()) << r.entry_id;
        EXPECT_LE(r.reason.size(), 80u) << r.reason;
    }
    EXPECT_EQ(c.stats().rejected, static_cast<std::int64_t>(bad_.size()));
}

TEST_P(StreamBadEntries, BadEntriesEndInTheDeadLetterStreamWithTheirFieldsPlusError) {
    publish_mixed();
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    const auto results = poll_until(c, bad_.size() + good_);
    std::vector<std::string> reasons;
    for (const auto& r : results) {
        if (r.status == A::Rejected) reasons.push_back(r.reason);
    }
    ASSERT_EQ(reasons.size(), bad_.size());
    const std::vector<Fields> dead = dead_letters();
    ASSERT_EQ(dead.size(), bad_.size());
    for (std::size_t i = 0; i < bad_.size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(dead[i], with_error(bad_[i], reasons[i]));
    }
    EXPECT_EQ(c.stats().dead_lettered, static_cast<std::int64_t>(bad_.size()));
}

TEST_P(StreamBadEntries, UnknownGameAndWrongServerAreNamedInTheDeadLetter) {
    publish_mixed();
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    poll_until(c, bad_.size() + good_);
    const std::vector<Fields> dead = dead_letters();
    ASSERT_EQ(dead.size(), bad_.size());
    using Field = std::pair<std::string, std::string>;
    EXPECT_EQ(dead[dead.size() - 2].back(), (Field{"error", "unknown game"}));
    EXPECT_EQ(dead.back().back(), (Field{"error", "wrong server"}));
}

TEST_P(StreamBadEntries, NothingStaysPendingAfterBadEntries) {
    publish_mixed();
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    poll_until(c, bad_.size() + good_);
    EXPECT_EQ(c.group_info().pending, 0);
    EXPECT_TRUE(c.poll(100, 0).empty());
}

TEST_P(StreamBadEntries, GoodEntriesAroundBadOnesAreApplied) {
    publish_mixed();
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    const auto results = poll_until(c, bad_.size() + good_);
    EXPECT_EQ(count_status(results, A::Applied), good_);
    const Game g = *mm_->get_game("g1");
    EXPECT_EQ(g.state, S::InProgress);
    EXPECT_EQ(g.players, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_EQ(mm_->get_game("other")->state, S::Created);
}

TEST_P(StreamBadEntries, BadEntriesSpreadOverSmallBatchesAreAllHandled) {
    publish_mixed();
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    std::size_t seen = 0;
    const auto deadline = SteadyClock::now() + kDeadline;
    while (seen < bad_.size() + good_ && SteadyClock::now() < deadline) {
        seen += c.poll(2, 10).size();
    }
    EXPECT_EQ(seen, bad_.size() + good_);
    EXPECT_EQ(dead_letters().size(), bad_.size());
    EXPECT_EQ(c.group_info().pending, 0);
}

// ---- redelivery ---------------------------------------------------------------------------

TEST_P(StreamTest, EntriesLeftUnackedByAnotherConsumerAreClaimedAndAppliedOnce) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    for (const char* p : {"p1", "p2", "p3", "p4"}) pub.player_joined("g1", p);
    ASSERT_EQ(read_without_ack("crashed").size(), 5u);
    EXPECT_EQ(transport_->group_info(stream_, "matchmaker").pending, 5);

    Consumer rescuer = mm_->consumer(consumer_options("rescuer", 20));
    const auto results = poll_until(rescuer, 5);
    ASSERT_EQ(results.size(), 5u);
    EXPECT_EQ(count_status(results, A::Applied), 5u);
    EXPECT_EQ(rescuer.stats().claimed, 5);
    EXPECT_EQ(mm_->get_game("g1")->players,
              (std::vector<std::string>{"alice", "p1", "p2", "p3", "p4"}));
    EXPECT_EQ(rescuer.group_info().pending, 0);
    EXPECT_TRUE(rescuer.poll(100, 0).empty());
}

TEST_P(StreamTest, EntriesOfABusyConsumerAreNotClaimedBeforeTheyAreIdle) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    ASSERT_EQ(read_without_ack("busy").size(), 1u);
    Consumer other = mm_->consumer(consumer_options("other", 60'000));
    EXPECT_TRUE(other.poll(100, 0).empty());
    EXPECT_EQ(other.stats().claimed, 0);
    EXPECT_EQ(mm_->get_game("g1")->state, S::Created);
}

TEST_P(StreamTest, ARestartedConsumerDrainsItsOwnPendingEntriesFirst) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    pub.player_joined("g1", "p1");
    const auto pending = read_without_ack("mm-1");
    ASSERT_EQ(pending.size(), 2u);
    pub.player_joined("g1", "p2");
    pub.player_joined("g1", "p3");

    Consumer restarted = mm_->consumer(consumer_options("mm-1"));
    const auto first = restarted.poll(100, 0);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].entry_id, pending[0].id);
    EXPECT_EQ(first[1].entry_id, pending[1].id);
    EXPECT_EQ(count_status(first, A::Applied), 2u);
    const auto rest = poll_until(restarted, 2);
    EXPECT_EQ(count_status(rest, A::Applied), 2u);
    EXPECT_EQ(mm_->get_game("g1")->players, (std::vector<std::string>{"alice", "p1", "p2", "p3"}));
    EXPECT_EQ(restarted.group_info().pending, 0);
}

TEST_P(StreamTest, AnEntryDeliveredMoreThanMaxDeliveriesIsDeadLettered) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    ASSERT_EQ(read_without_ack("mm-1").size(), 1u);  // delivery 1
    ASSERT_EQ(transport_->read_group(stream_, "matchmaker", "mm-1", "0", 10, 0).size(), 1u);  // 2
    ConsumerOptions o = consumer_options("mm-1");
    o.max_deliveries = 2;
    Consumer c = mm_->consumer(o);
    const auto results = c.poll(100, 0);  // delivery 3
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].status, A::Rejected);
    EXPECT_NE(results[0].reason.find("3"), std::string::npos) << results[0].reason;
    EXPECT_EQ(mm_->get_game("g1")->state, S::Created);
    const auto dead = dead_letters();
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].back().first, "error");
    EXPECT_EQ(c.group_info().pending, 0);
}

TEST_P(StreamTest, AnEntryDeliveredExactlyMaxDeliveriesTimesIsStillApplied) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    ASSERT_EQ(read_without_ack("mm-1").size(), 1u);  // delivery 1
    ConsumerOptions o = consumer_options("mm-1");
    o.max_deliveries = 2;
    Consumer c = mm_->consumer(o);
    const auto results = c.poll(100, 0);  // delivery 2
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].status, A::Applied);
    EXPECT_TRUE(dead_letters().empty());
}

// ---- trimming -----------------------------------------------------------------------------

class StreamTrimming : public StreamTest {
protected:
    // Leaves one creator_joined entry pending on `consumer`, then trims it away with valid
    // heartbeats (enough of them that even Redis' approximate MAXLEN ~ drops a whole node).
    // Returns the trimmed id; `fillers_` counts the entries left in the stream.
    std::string leave_pending_then_trim(const std::string& consumer) {
        create("g1");
        EventPublisher pub = mm_->publisher("gs-1");
        pub.creator_joined("g1", "alice");
        const auto pending = read_without_ack(consumer);
        EXPECT_EQ(pending.size(), 1u);
        EventPublisher trimming = mm_->publisher("gs-1", std::nullopt, 1);
        for (int i = 0; i < 250; ++i) trimming.heartbeat("g1");
        const auto first = transport_->range(stream_, 1);
        EXPECT_FALSE(first.empty());
        EXPECT_NE(first.at(0).id, pending.at(0).id) << "the entry was not trimmed";
        fillers_ = static_cast<std::size_t>(transport_->length(stream_));
        return pending.at(0).id;
    }

    std::size_t fillers_ = 0;
};

TEST_P(StreamTrimming, OwnPendingEntryTrimmedAwayIsReportedAndAcked) {
    const std::string trimmed = leave_pending_then_trim("mm-1");
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    const auto first = c.poll(100, 0);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].entry_id, trimmed);
    EXPECT_EQ(first[0].status, A::Rejected);
    EXPECT_FALSE(first[0].reason.empty());
    EXPECT_EQ(c.stats().trimmed, 1);
    poll_until(c, fillers_);
    EXPECT_EQ(c.group_info().pending, 0);
    EXPECT_TRUE(dead_letters().empty());
    // The pending entry, plus every heartbeat trimmed before the group read it: exactly.
    const auto lost = static_cast<std::int64_t>(1 + 250 - fillers_);
    EXPECT_EQ(c.stats().lost, lost);
    EXPECT_EQ(mm_->metrics()->value(metric::kEventsLostTotal), static_cast<double>(lost));
}

TEST_P(StreamTrimming, ConsumerKeepsApplyingAfterATrimmedEntry) {
    leave_pending_then_trim("mm-1");
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    c.poll(100, 0);
    const auto rest = poll_until(c, fillers_);
    EXPECT_EQ(rest.size(), fillers_);
    EXPECT_EQ(count_status(rest, A::Applied), fillers_);  // heartbeats on a pending game
}

TEST_P(StreamTrimming, TrimmedEntryPendingOnAnotherConsumerIsClearedWhenClaimed) {
    leave_pending_then_trim("crashed");
    Consumer rescuer = mm_->consumer(consumer_options("rescuer", 20));
    const auto deadline = SteadyClock::now() + kDeadline;
    while (SteadyClock::now() < deadline &&
           (rescuer.stats().trimmed < 1 || rescuer.group_info().pending > 0)) {
        rescuer.poll(100, 10);
    }
    EXPECT_EQ(rescuer.stats().trimmed, 1);
    EXPECT_EQ(rescuer.group_info().pending, 0);
    EXPECT_EQ(rescuer.stats().claimed, 0);
}

// ---- entries lost to trimming, trimming what was acknowledged --------------------------------

class StreamLoss : public StreamTest {
protected:
    // Polls until every one of `published` entries is either applied or counted lost.
    static void poll_until_accounted(Consumer& c, std::int64_t published) {
        const auto deadline = SteadyClock::now() + kDeadline;
        while (SteadyClock::now() < deadline) {
            const auto s = c.stats();
            if (s.applied + s.lost >= published) return;
            c.poll(100, 10);
        }
    }
    static std::int64_t lag_when_settled(Consumer& c) {
        const auto deadline = SteadyClock::now() + kDeadline;
        std::int64_t lag = c.group_info().lag;
        while (lag != 0 && SteadyClock::now() < deadline) {
            c.poll(100, 10);
            lag = c.group_info().lag;
        }
        return lag;
    }
};

TEST_P(StreamLoss, EntriesTrimmedBeforeTheGroupReadThemAreCountedExactlyAndOnce) {
    create("g1");
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    EventPublisher pub = mm_->publisher("gs-1", std::nullopt, /*maxlen=*/100);
    pub.heartbeat("g1");
    poll_until_accounted(c, 1);  // a consumer that is running, then falls behind
    constexpr std::int64_t kPublished = 2'000;
    for (std::int64_t i = 0; i < kPublished; ++i) pub.heartbeat("g1");
    const std::int64_t left = transport_->length(stream_);
    ASSERT_LT(left, kPublished);

    poll_until_accounted(c, 1 + kPublished);

    EXPECT_EQ(c.stats().applied, 1 + left);
    EXPECT_EQ(c.stats().lost, kPublished - left);
    EXPECT_EQ(c.stats().trimmed, 0);
    EXPECT_EQ(mm_->metrics()->value(metric::kEventsLostTotal), static_cast<double>(kPublished - left));
    EXPECT_EQ(lag_when_settled(c), 0) << "the lag must not stay stuck at the lost entries";
    EXPECT_EQ(mm_->metrics()->value(metric::kConsumerLag), 0.0);
    EXPECT_TRUE(dead_letters().empty());
    // Counted once per group: another consumer of the group does not count them again.
    Consumer other = mm_->consumer(consumer_options("mm-2"));
    for (int i = 0; i < 3; ++i) other.poll(100, 0);
    EXPECT_EQ(other.stats().lost, 0);
    EXPECT_EQ(c.stats().lost, kPublished - left);
}

TEST_P(StreamLoss, WhileConsumingAPublisherWithMaxlenLosesEntriesEveryOneIsAccountedFor) {
    create("g1");
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    EXPECT_TRUE(c.poll(100, 0).empty());
    std::atomic<bool> stop{false};
    std::thread runner([&] { c.run(stop, 7, 1); });  // small batches: trimming overtakes it
    EventPublisher pub = mm_->publisher("gs-1", std::nullopt, /*maxlen=*/10);
    constexpr std::int64_t kPublished = 2'000;
    for (std::int64_t i = 0; i < kPublished; ++i) pub.heartbeat("g1");
    const auto deadline = SteadyClock::now() + kDeadline;
    while (SteadyClock::now() < deadline &&
           c.stats().applied + c.stats().lost < kPublished) {
        std::this_thread::yield();
    }
    stop.store(true);
    runner.join();
    const auto s = c.stats();
    EXPECT_EQ(s.applied + s.lost, kPublished) << "applied " << s.applied << ", lost " << s.lost;
    EXPECT_EQ(mm_->metrics()->value(metric::kEventsLostTotal), static_cast<double>(s.lost));
    EXPECT_EQ(lag_when_settled(c), 0);
}

TEST_P(StreamLoss, EntriesTrimmedBeforeTheGroupExistedAreCountedAsLost) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1", std::nullopt, /*maxlen=*/50);
    for (int i = 0; i < 400; ++i) pub.heartbeat("g1");
    const std::int64_t left = transport_->length(stream_);
    Consumer c = mm_->consumer(consumer_options("late"));  // the group starts at id 0
    poll_until_accounted(c, 400);
    EXPECT_EQ(c.stats().applied, left);
    EXPECT_EQ(c.stats().lost, 400 - left);
}

TEST_P(StreamLoss, APublisherTrimsNothingUnlessGivenAMaxlen) {
    EventPublisher pub = mm_->publisher("gs-1");
    for (int i = 0; i < 300; ++i) pub.heartbeat("g1");
    EXPECT_EQ(transport_->length(stream_), 300);
}

TEST_P(StreamLoss, TrimAcknowledgedRemovesOnlyWhatEveryGroupHasAcknowledged) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    for (int i = 0; i < 5; ++i) pub.heartbeat("g1");
    EXPECT_EQ(transport_->trim_acknowledged(stream_), 0) << "no group has read anything";
    Consumer fast = mm_->consumer(consumer_options("fast"));
    ASSERT_EQ(poll_until(fast, 5).size(), 5u);  // group matchmaker: all read and acknowledged
    // A second group has read three entries and acknowledged only the first of them.
    transport_->ensure_group(stream_, "audit");
    const auto audit = transport_->read_group(stream_, "audit", "a1", ">", 3, 0);
    ASSERT_EQ(audit.size(), 3u);
    transport_->ack(stream_, "audit", {audit[0].id});
    for (int i = 0; i < 2; ++i) pub.heartbeat("g1");
    ASSERT_EQ(poll_until(fast, 2).size(), 2u);

    EXPECT_EQ(fast.trim_acknowledged(), 1);  // audit still needs its pending entry 1
    EXPECT_EQ(transport_->range(stream_, 1).at(0).id, audit[1].id);
    transport_->ack(stream_, "audit", {audit[1].id, audit[2].id});
    EXPECT_EQ(fast.trim_acknowledged(), 2);  // audit has not read entries 3..6 yet
    EXPECT_EQ(transport_->length(stream_), 4);
    EXPECT_EQ(fast.trim_acknowledged(), 0);
    EXPECT_EQ(fast.stats().trimmed_acknowledged, 3);
    EXPECT_EQ(transport_->read_group(stream_, "audit", "a1", ">", 10, 0).size(), 4u);
    EXPECT_EQ(transport_->take_lost(stream_, "audit").lost, 0) << "trimming lost nothing";
    EXPECT_EQ(transport_->take_lost(stream_, "matchmaker").lost, 0);
}

TEST_P(StreamLoss, AConsumerWithATrimIntervalTrimsAcknowledgedEntriesAsItGoes) {
    create("g1");
    ConsumerOptions o = consumer_options("mm-1", 2);  // periodic work every millisecond
    o.trim_interval_ms = 1;
    Consumer c = mm_->consumer(o);
    EventPublisher pub = mm_->publisher("gs-1");
    for (int i = 0; i < 20; ++i) pub.heartbeat("g1");
    const auto deadline = SteadyClock::now() + kDeadline;
    while (SteadyClock::now() < deadline &&
           (c.stats().applied < 20 || transport_->length(stream_) > 0)) {
        c.poll(100, 1);
    }
    EXPECT_EQ(c.stats().applied, 20);
    EXPECT_EQ(transport_->length(stream_), 0);
    EXPECT_EQ(c.stats().trimmed_acknowledged, 20);
    EXPECT_EQ(c.stats().lost, 0);
}

// ---- dead letters, idle consumers, limits ---------------------------------------------------

TEST_P(StreamTest, ADeadLetterKeepsTheEntrysOwnErrorFieldAsOrigError) {
    EventPublisher pub = mm_->publisher("gs-1");
    pub.publish_raw({{"type", "heartbeat"}, {"game_id", "ghost"}, {"server_id", "gs-1"},
                     {"error", "from the server"}});
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    const auto results = poll_until(c, 1);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].status, A::Rejected);
    const Fields want = {{"type", "heartbeat"}, {"game_id", "ghost"}, {"server_id", "gs-1"},
                         {"orig_error", "from the server"}, {"error", "unknown game"}};
    EXPECT_EQ(dead_letters(), std::vector<Fields>{want});
}

TEST_P(StreamTest, ReplayGivesBackExactlyTheEntrysOwnFields) {
    // Each entry carries fields named like the one the consumer adds (error) or like its
    // escaped form (orig_...), alone and together, in several orders.
    const std::vector<Fields> owns = {
        {{"orig_error", "O1"}},
        {{"error", "E1"}, {"orig_error", "O1"}},
        {{"orig_error", "O1"}, {"error", "E1"}},
        {{"orig_orig_error", "OO1"}},
        {{"orig_orig_error", "OO1"}, {"error", "E1"}, {"orig_error", "O1"}},
        {{"orig_", "P"}, {"orig", "Q"}, {"errors", "R"}},
    };
    std::vector<Fields> entries;
    for (const Fields& own : owns) {
        Fields entry = {{"type", "heartbeat"}, {"game_id", "ghost"}, {"server_id", "gs-1"}};
        entry.insert(entry.begin() + 1, own.begin(), own.end());
        entries.push_back(entry);
    }
    EventPublisher pub = mm_->publisher("gs-1");
    for (const Fields& entry : entries) pub.publish_raw(entry);
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    ASSERT_EQ(poll_until(c, entries.size()).size(), entries.size());
    const std::vector<Fields> dead = dead_letters();
    ASSERT_EQ(dead.size(), entries.size());
    for (std::size_t i = 0; i < dead.size(); ++i) {
        // Exactly one error, the consumer's, last.
        EXPECT_EQ(std::count_if(dead[i].begin(), dead[i].end(),
                                [](const auto& f) { return f.first == "error"; }), 1);
        EXPECT_EQ(dead[i].back(), (std::pair<std::string, std::string>{"error", "unknown game"}));
    }
    EXPECT_EQ(dead[1], (Fields{{"type", "heartbeat"}, {"orig_error", "E1"},
                               {"orig_orig_error", "O1"}, {"game_id", "ghost"},
                               {"server_id", "gs-1"}, {"error", "unknown game"}}));

    ASSERT_EQ(replay_dead_letters(*transport_, dead_, stream_, std::nullopt).size(), entries.size());
    std::vector<Fields> replayed;
    for (auto& e : transport_->range(stream_)) replayed.push_back(std::move(e.fields));
    ASSERT_EQ(replayed.size(), 2 * entries.size());  // the published entries, then their copies
    replayed.erase(replayed.begin(), replayed.begin() + std::ssize(entries));
    EXPECT_EQ(replayed, entries);
}

TEST_P(StreamTest, IdleConsumersWithNothingPendingAreRemovedFromTheGroup) {
    create("g1");
    mm_->publisher("gs-1").heartbeat("g1");
    ASSERT_EQ(read_without_ack("busy").size(), 1u);  // busy keeps one entry pending
    for (const char* stale : {"old-1", "old-2", "old-3"}) {
        transport_->read_group(stream_, "matchmaker", stale, "0", 10, 0);  // joins, reads nothing
    }
    ConsumerOptions o = consumer_options("mm-1");  // claims after a minute: busy keeps its entry
    o.remove_idle_consumers_ms = 50;
    Consumer c = mm_->consumer(o);
    const auto deadline = SteadyClock::now() + kDeadline;
    while (SteadyClock::now() < deadline && c.stats().consumers_removed < 3) c.poll(10, 10);
    // busy went idle before the stale ones, so the sweep that removed them weighed busy too:
    // it stays for its pending entry, and mm-1 never removes itself.
    EXPECT_EQ(c.stats().consumers_removed, 3);
    EXPECT_EQ(c.group_info().pending, 1);
    if (GetParam().name == "redis") {
        std::vector<std::string> names;
        const auto flat = testing::shared_redis_server().command(
            {"XINFO", "CONSUMERS", stream_, "matchmaker"});
        for (std::size_t i = 0; i + 1 < flat.size(); ++i) {
            if (flat[i] == "name") names.push_back(flat[i + 1]);
        }
        EXPECT_EQ(names, (std::vector<std::string>{"busy", "mm-1"}));
    }
}

TEST_P(StreamTest, PollAndRunRefuseArgumentsOutOfRange) {
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    constexpr std::int64_t kHuge = std::numeric_limits<std::int64_t>::max();
    const std::vector<std::pair<std::int64_t, std::int64_t>> bad = {
        {0, 0}, {Consumer::kMaxCount + 1, 0}, {kHuge, 0},
        {1, -1}, {1, Consumer::kMaxBlockMs + 1}, {1, kHuge}};
    for (const auto& [count, block_ms] : bad) {
        EXPECT_THROW(c.poll(count, block_ms), InvalidArgument) << count << " " << block_ms;
    }
    std::atomic<bool> stop{false};
    EXPECT_THROW(c.run(stop, 1, kHuge), InvalidArgument);
    EXPECT_TRUE(c.poll(Consumer::kMaxCount, 0).empty());
}

TEST_P(StreamTest, ConsumerOptionsOutOfRangeAreRefused) {
    constexpr std::int64_t kHuge = std::numeric_limits<std::int64_t>::max();
    const std::vector<std::function<void(ConsumerOptions&)>> bad = {
        [](ConsumerOptions& o) { o.claim_idle_ms = 0; },
        [](ConsumerOptions& o) { o.claim_idle_ms = kHuge; },
        [](ConsumerOptions& o) { o.claim_idle_ms = Consumer::kMaxClaimIdleMs + 1; },
        [](ConsumerOptions& o) { o.trim_interval_ms = -1; },
        [](ConsumerOptions& o) { o.trim_interval_ms = kHuge; },
        [](ConsumerOptions& o) { o.remove_idle_consumers_ms = -1; },
        [](ConsumerOptions& o) { o.remove_idle_consumers_ms = kHuge; },
    };
    for (std::size_t i = 0; i < bad.size(); ++i) {
        ConsumerOptions o = consumer_options("mm-1");
        bad[i](o);
        EXPECT_THROW(mm_->consumer(o), InvalidArgument) << i;
    }
}

TEST_P(StreamTest, ATransportReadRefusesABlockBeyondItsLimit) {
    transport_->ensure_group(stream_, "g");
    constexpr std::int64_t kHuge = std::numeric_limits<std::int64_t>::max();
    EXPECT_THROW(transport_->read_group(stream_, "g", "c", ">", 1, kHuge), InvalidArgument);
    EXPECT_THROW(transport_->read_group(stream_, "g", "c", ">", 1, -1), InvalidArgument);
    EXPECT_TRUE(transport_->read_group(stream_, "g", "c", ">", 1, 1).empty());
}

// ---- publisher ----------------------------------------------------------------------------

TEST_P(StreamTest, PublisherStampsServerIdTsAndAnIncreasingSeqPerGame) {
    EventPublisher pub = mm_->publisher("gs-1");
    for (int i = 0; i < 5; ++i) {
        pub.heartbeat("g1");
        pub.heartbeat("g2");
    }
    pub.publish(Event{EventType::GameStarted, "g1", "", std::nullopt, std::nullopt, std::nullopt});
    std::map<std::string, std::int64_t> last;
    const auto entries = transport_->range(stream_);
    ASSERT_EQ(entries.size(), 11u);
    for (const auto& e : entries) {
        std::map<std::string, std::string> f(e.fields.begin(), e.fields.end());
        EXPECT_EQ(f["server_id"], "gs-1");
        ASSERT_TRUE(f.contains("ts"));
        ASSERT_TRUE(f.contains("seq"));
        const std::int64_t seq = std::stoll(f["seq"]);
        EXPECT_GT(seq, last[f["game_id"]]) << f["game_id"];
        last[f["game_id"]] = seq;
    }
}

TEST_P(StreamTest, PublisherKeepsAnExplicitSeq) {
    EventPublisher pub = mm_->publisher("gs-1");
    pub.publish(Event{EventType::Heartbeat, "g1", "gs-1", std::nullopt, 5, 77});
    const auto entries = transport_->range(stream_);
    ASSERT_EQ(entries.size(), 1u);
    const Fields want = {{"type", "heartbeat"}, {"game_id", "g1"}, {"server_id", "gs-1"},
                         {"ts", "5"},           {"seq", "77"}};
    EXPECT_EQ(entries[0].fields, want);
}

TEST_P(StreamTest, PublisherRefusesInvalidEventsWithoutWriting) {
    EventPublisher pub = mm_->publisher("gs-1");
    EXPECT_THROW(pub.player_joined("g1", "bad id"), InvalidArgument);
    EXPECT_THROW(pub.heartbeat("g:1"), InvalidArgument);
    EXPECT_EQ(transport_->length(stream_), 0);
}

TEST_P(StreamTest, ARedeliveredEventWithTheSameSeqIsADuplicate) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    pub.player_joined("g1", "bob");
    Consumer c = mm_->consumer(consumer_options("mm-1"));
    ASSERT_EQ(count_status(poll_until(c, 2), A::Applied), 2u);
    const Game before = *mm_->get_game("g1");
    const auto entries = transport_->range(stream_);
    pub.publish_raw(entries.at(1).fields);  // bob's join again, same seq
    pub.publish_raw(entries.at(0).fields);
    const auto again = poll_until(c, 2);
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[0].status, A::Duplicate);
    EXPECT_EQ(again[1].status, A::Duplicate);
    EXPECT_EQ(mm_->get_game("g1"), before);
}

std::string param_name(const ::testing::TestParamInfo<StreamParam>& info) {
    return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Streams, StreamTest, ::testing::ValuesIn(stream_params()), param_name);
INSTANTIATE_TEST_SUITE_P(Streams, StreamBadEntries, ::testing::ValuesIn(stream_params()),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Streams, StreamTrimming, ::testing::ValuesIn(stream_params()),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Streams, StreamLoss, ::testing::ValuesIn(stream_params()), param_name);

// memory://NAME: a publisher opened by URL and a matchmaker connected by URL meet in one
// in-process backend (SPEC section 5: the same calls work over an in-process stream).
TEST(MemoryStream, PublisherAndMatchmakerOpenedByTheSameNameShareTheStream) {
    const std::string url = "memory://stream-test-" + unique_namespace();
    Matchmaker mm = connect(url);
    mm.create_game(CreateGameRequest{"alice", 2, "gs-1", Metadata{}, "g1"});
    EventPublisher pub(url, "gs-1", mm.default_stream());
    pub.creator_joined("g1", "alice");
    Consumer c = mm.consumer(ConsumerOptions{});
    std::vector<ApplyResult> results;
    const auto deadline = SteadyClock::now() + kDeadline;
    while (results.empty() && SteadyClock::now() < deadline) results = c.poll(10, 10);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].status, A::Applied);
}

}  // namespace
}  // namespace game_data
