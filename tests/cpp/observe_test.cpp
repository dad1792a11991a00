// What an operator sees (SPEC sections 8 and 11), on every backend: the metrics of stats()
// exist from the start and count what happened (entries the consumer cannot decode included);
// a set's members are listed oldest first; dead letters go back to the stream with their
// original fields and are removed only after the copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <unistd.h>
#include <vector>

#include "game_data/consumer.hpp"
#include "game_data/dead_letters.hpp"
#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/metrics.hpp"
#include "game_data/publisher.hpp"
#include "game_data/store.hpp"
#include "support/redis_server.hpp"

namespace game_data {
namespace {

struct ObserveParam {
    std::string name;
    std::function<std::shared_ptr<Store>(const ConnectOptions&)> open;
};

std::ostream& operator<<(std::ostream& os, const ObserveParam& p) { return os << p.name; }

std::vector<ObserveParam> observe_params() {
    return {{"memory", [](const ConnectOptions& o) { return make_memory_store(Url::parse("memory://"), o); }},
            {"redis", [](const ConnectOptions& o) {
                 return make_redis_store(Url::parse(testing::shared_redis_server().url()), o);
             }}};
}

std::string unique_namespace() {
    static std::atomic<int> counter{0};
    return "obs" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

Event event(EventType type, const std::string& game, std::optional<std::string> player = {}) {
    return Event{type, game, "gs-1", std::move(player), {}, {}};
}

std::string events_series(std::string_view type, std::string_view status) {
    return labelled(metric::kEventsTotal, {{"type", type}, {"status", status}});
}

class ObserveTest : public ::testing::TestWithParam<ObserveParam> {
protected:
    void SetUp() override {
        options_.ns = unique_namespace();
        store_ = GetParam().open(options_);
        mm_ = std::make_unique<Matchmaker>(store_, options_);
    }

    StreamTransport& streams() { return *store_->streams(); }
    std::string stream() const { return mm_->default_stream(); }
    std::string dead() const { return stream() + ":dead"; }

    Game create(const std::string& id, const std::string& server = "gs-1") {
        return mm_->create_game(CreateGameRequest{"alice", 4, server, Metadata{}, id});
    }

    Consumer consumer() {
        ConsumerOptions o;
        o.name = "mm-1";
        return mm_->consumer(o);
    }

    // Polls until the stream has nothing new for the group.
    static std::size_t drain(Consumer& c) {
        std::size_t n = 0;
        for (int i = 0; i < 100; ++i) {
            const auto got = c.poll(100, 0).size();
            if (got == 0 && c.group_info().lag == 0) break;
            n += got;
        }
        return n;
    }

    double stat(const std::string& name) { return mm_->stats().at(name); }

    ConnectOptions options_;
    std::shared_ptr<Store> store_;
    std::unique_ptr<Matchmaker> mm_;
};

// ---- metrics ------------------------------------------------------------------------------

TEST(MetricFamilies, NameEverySpecMetricOnceWithItsKindAndHelp) {
    const std::vector<std::pair<std::string_view, Metrics::Kind>> spec = {
        {"game_data_events_total", Metrics::Kind::Counter},
        {"game_data_games", Metrics::Kind::Gauge},
        {"game_data_reaped_total", Metrics::Kind::Counter},
        {"game_data_reservations_total", Metrics::Kind::Counter},
        {"game_data_dead_letters_total", Metrics::Kind::Counter},
        {"game_data_events_lost_total", Metrics::Kind::Counter},
        {"game_data_consumer_lag", Metrics::Kind::Gauge},
        {"game_data_consumer_pending", Metrics::Kind::Gauge},
        {"game_data_apply_seconds", Metrics::Kind::Histogram},
    };
    const auto& families = Metrics::families();
    for (const auto& [name, kind] : spec) {
        const auto found = std::count_if(families.begin(), families.end(),
                                         [&](const auto& f) { return f.name == name; });
        ASSERT_EQ(found, 1) << name;
        const auto& f = *std::find_if(families.begin(), families.end(),
                                      [&](const auto& fam) { return fam.name == name; });
        EXPECT_EQ(f.kind, kind) << name;
        EXPECT_FALSE(f.help.empty()) << name;
    }
}

TEST_P(ObserveTest, StatsHoldEverySpecCounterFromTheStartAtZero) {
    const auto stats = mm_->stats();
    std::vector<std::string> want = {
        std::string(metric::kDeadLettersTotal), std::string(metric::kEventsLostTotal),
        "game_data_apply_seconds_count", "game_data_apply_seconds_sum",
        R"(game_data_apply_seconds_bucket{le="+Inf"})",
        events_series("creator_joined", "applied"), events_series("heartbeat", "rejected"),
        events_series(metric::kInvalidEventTypeLabel, "rejected")};
    for (const char* set : {"pending", "lobby", "active"}) {
        want.push_back(labelled(metric::kGames, {{"set", set}}));
        want.push_back(labelled(metric::kReapedTotal, {{"set", set}}));
    }
    for (const char* outcome : {"reserved", "quick_join", "cancelled", "no_game", "not open", "full",
                                "already joined"}) {
        want.push_back(labelled(metric::kReservationsTotal, {{"outcome", outcome}}));
    }
    for (const char* kind : kBackendErrorKinds) {
        want.push_back(labelled(metric::kBackendErrorsTotal, {{"kind", kind}}));
    }
    for (const auto& name : want) {
        ASSERT_TRUE(stats.contains(name)) << name;
        EXPECT_EQ(stats.at(name), 0.0) << name;
    }
}

TEST_P(ObserveTest, EventsTotalCountsEveryConsumedEntryByTypeAndStatusIncludingUndecodableOnes) {
    create("g1");
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    pub.creator_joined("g1", "alice");  // duplicate
    pub.heartbeat("nope");              // unknown game: rejected, dead-lettered
    streams().add(stream(), {{"type", "teleported"}, {"game_id", "g1"}, {"server_id", "gs-1"}});
    streams().add(stream(), {{"type", "game_started"}, {"server_id", "gs-1"}});  // no game_id
    Consumer c = consumer();
    ASSERT_EQ(drain(c), 5u);

    const auto stats = mm_->stats();
    EXPECT_EQ(stats.at(events_series("creator_joined", "applied")), 1);
    EXPECT_EQ(stats.at(events_series("creator_joined", "duplicate")), 1);
    EXPECT_EQ(stats.at(events_series("heartbeat", "rejected")), 1);
    EXPECT_EQ(stats.at(events_series("invalid", "rejected")), 1);      // no known type
    EXPECT_EQ(stats.at(events_series("game_started", "rejected")), 1);  // known type, bad entry
    EXPECT_EQ(stats.at(std::string(metric::kDeadLettersTotal)), 3);
    double consumed = 0;
    for (const auto& [name, value] : stats) {
        if (name.starts_with(std::string(metric::kEventsTotal) + "{")) consumed += value;
    }
    EXPECT_EQ(consumed, 5);
    const auto s = c.stats();
    EXPECT_EQ(s.applied + s.duplicate + s.rejected, 5);
    EXPECT_EQ(stats.at(std::string(metric::kConsumerLag)), 0);
    EXPECT_EQ(stats.at(std::string(metric::kConsumerPending)), 0);
}

TEST_P(ObserveTest, ApplySecondsCountsOneObservationPerApplyCallInCumulativeBuckets) {
    create("g1");
    for (int i = 0; i < 3; ++i) mm_->apply(event(EventType::Heartbeat, "g1"));
    const auto stats = mm_->stats();
    EXPECT_EQ(stats.at("game_data_apply_seconds_count"), 3);
    double previous = 0;
    for (double bound : Metrics::histogram_buckets()) {
        std::string le = std::to_string(bound);
        le.erase(le.find_last_not_of('0') + 1);
        if (le.back() == '.') le.pop_back();
        const double n = stats.at(R"(game_data_apply_seconds_bucket{le=")" + le + "\"}");
        EXPECT_GE(n, previous) << le;
        previous = n;
    }
    EXPECT_EQ(stats.at(R"(game_data_apply_seconds_bucket{le="+Inf"})"), 3);
}

TEST_P(ObserveTest, ReapedAndReservationCountersFollowWhatHappened) {
    create("g1");
    mm_->apply(event(EventType::CreatorJoined, "g1", "alice"));
    mm_->reserve_seat("g1", "bob");
    EXPECT_THROW(mm_->reserve_seat("g1", "alice"), SeatUnavailable);
    EXPECT_TRUE(mm_->cancel_reservation("g1", "bob"));
    create("g2");
    mm_->reap(now_ms() + options_.max_age.lobby + 1);
    const auto stats = mm_->stats();
    EXPECT_EQ(stats.at(labelled(metric::kReservationsTotal, {{"outcome", "reserved"}})), 1);
    EXPECT_EQ(stats.at(labelled(metric::kReservationsTotal, {{"outcome", "already joined"}})), 1);
    EXPECT_EQ(stats.at(labelled(metric::kReservationsTotal, {{"outcome", "cancelled"}})), 1);
    EXPECT_EQ(stats.at(labelled(metric::kReapedTotal, {{"set", "lobby"}})), 1);
    EXPECT_EQ(stats.at(labelled(metric::kReapedTotal, {{"set", "pending"}})), 1);
    EXPECT_EQ(stats.at(labelled(metric::kGames, {{"set", "lobby"}})), 0);
}

// ---- set members --------------------------------------------------------------------------

TEST_P(ObserveTest, SetMembersListsOneSetOldestFirstWithScoresUpToTheLimit) {
    for (const char* id : {"a", "b", "c"}) create(id);
    mm_->apply(event(EventType::CreatorJoined, "b", "alice"));
    const auto pending = store_->set_members(GameSet::Pending, 10, now_ms());
    ASSERT_EQ(pending.size(), 2u);
    EXPECT_EQ(pending[0].game.id, "a");
    EXPECT_EQ(pending[1].game.id, "c");
    EXPECT_LE(pending[0].score, pending[1].score);
    EXPECT_EQ(pending[0].score, store_->set_entry("a")->second);
    const auto lobby = store_->set_members(GameSet::Lobby, 10, now_ms());
    ASSERT_EQ(lobby.size(), 1u);
    EXPECT_EQ(lobby[0].game.state, GameState::CreatorJoined);
    EXPECT_EQ(store_->set_members(GameSet::Pending, 1, now_ms()).size(), 1u);
    EXPECT_TRUE(store_->set_members(GameSet::Active, 10, now_ms()).empty());
    EXPECT_THROW(store_->set_members(GameSet::Pending, 10'001, now_ms()), InvalidArgument);
}

// ---- dead letters -------------------------------------------------------------------------

TEST(DeadLetterFields, OriginalFieldsUndoWhatTheConsumerAdded) {
    const Fields entry = {{"type", "heartbeat"}, {"error", "theirs"}, {"game_id", "g1"}};
    const Fields dead = dead_letter_fields(entry, "unknown game");
    EXPECT_EQ(dead, (Fields{{"type", "heartbeat"}, {"orig_error", "theirs"}, {"game_id", "g1"},
                            {"error", "unknown game"}}));
    EXPECT_EQ(original_fields(dead), entry);
}

TEST(DeadLetterFields, OwnFieldsNamedLikeAddedOrEscapedOnesGetOneMorePrefix) {
    const Fields entry = {{"orig_error", "O1"}, {"error", "E1"}, {"orig_orig_error", "OO1"},
                          {"orig_", "P"}, {"original", "Q"}, {"type", "heartbeat"}};
    const Fields dead = dead_letter_fields(entry, "bad");
    EXPECT_EQ(dead, (Fields{{"orig_orig_error", "O1"}, {"orig_error", "E1"},
                            {"orig_orig_orig_error", "OO1"}, {"orig_orig_", "P"},
                            {"original", "Q"}, {"type", "heartbeat"}, {"error", "bad"}}));
    EXPECT_EQ(original_fields(dead), entry);
}

TEST(DeadLetterFields, EveryCombinationOfErrorAndOrigErrorRoundTrips) {
    const std::vector<std::string> names = {"error", "orig_error", "orig_orig_error"};
    for (unsigned mask = 0; mask < 8; ++mask) {
        for (bool reversed : {false, true}) {
            Fields entry = {{"type", "heartbeat"}};
            for (std::size_t i = 0; i < names.size(); ++i) {
                if (mask & (1u << i)) entry.emplace_back(names[i], "v" + std::to_string(i));
            }
            if (reversed) std::reverse(entry.begin() + 1, entry.end());
            const Fields dead = dead_letter_fields(entry, "reason");
            EXPECT_EQ(std::count_if(dead.begin(), dead.end(),
                                    [](const auto& f) { return f.first == "error"; }), 1);
            EXPECT_EQ(original_fields(dead), entry) << "mask " << mask;
        }
    }
}

TEST_P(ObserveTest, ReplayedDeadLettersAreAppliedOnceTheirGameExists) {
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("late", "alice");  // the game does not exist yet
    Consumer c = consumer();
    drain(c);
    ASSERT_EQ(streams().length(dead()), 1);
    const std::string dead_id = streams().range(dead()).at(0).id;

    create("late");
    const auto moved = replay_dead_letters(streams(), dead(), stream(), std::nullopt);
    ASSERT_EQ(moved.size(), 1u);
    EXPECT_EQ(moved[0].dead_letter_id, dead_id);
    EXPECT_EQ(streams().length(dead()), 0);
    const auto copy = streams().range(stream()).back();
    EXPECT_EQ(copy.id, moved[0].entry_id);
    EXPECT_EQ(std::count_if(copy.fields.begin(), copy.fields.end(),
                            [](const auto& f) { return f.first == "error"; }), 0);
    drain(c);
    EXPECT_EQ(mm_->get_game("late")->state, GameState::CreatorJoined);
    EXPECT_EQ(streams().length(dead()), 0);
}

TEST_P(ObserveTest, ReplayByIdMovesOnlyThoseAndSkipsUnknownIds) {
    for (const char* game : {"x1", "x2", "x3"}) {
        streams().add(dead(), dead_letter_fields({{"type", "heartbeat"}, {"game_id", game},
                                                   {"server_id", "gs-1"}}, "unknown game"));
    }
    const auto letters = streams().range(dead());
    const auto moved = replay_dead_letters(streams(), dead(), stream(),
                                           std::vector<std::string>{letters[1].id, "1-999"});
    ASSERT_EQ(moved.size(), 1u);
    EXPECT_EQ(moved[0].dead_letter_id, letters[1].id);
    const auto left = streams().range(dead());
    ASSERT_EQ(left.size(), 2u);
    EXPECT_EQ(left[0].id, letters[0].id);
    EXPECT_EQ(left[1].id, letters[2].id);
    EXPECT_EQ(streams().range(stream()).at(0).fields,
              (Fields{{"type", "heartbeat"}, {"game_id", "x2"}, {"server_id", "gs-1"}}));
}

TEST_P(ObserveTest, ReplayOfEverythingStopsAtWhatWasThereWhenItStarted) {
    EventPublisher pub = mm_->publisher("gs-1");
    for (int i = 0; i < 3; ++i) pub.heartbeat("ghost" + std::to_string(i));
    Consumer c = consumer();
    drain(c);
    ASSERT_EQ(streams().length(dead()), 3);
    EXPECT_EQ(replay_dead_letters(streams(), dead(), stream(), std::nullopt).size(), 3u);
    drain(c);  // still no such games: dead-lettered again, as new dead letters
    EXPECT_EQ(streams().length(dead()), 3);
    EXPECT_EQ(stat(std::string(metric::kDeadLettersTotal)), 6);
    EXPECT_THROW(replay_dead_letters(streams(), stream(), stream(), std::nullopt), InvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, ObserveTest, ::testing::ValuesIn(observe_params()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace game_data
