// Change callbacks (SPEC section 8) on every backend: one call per committed change made
// through the matchmaker, in the calling thread, none for duplicates, rejections or refusals; a
// throwing callback is counted and stops nothing; handles remove safely from anywhere.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "game_data/consumer.hpp"
#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/publisher.hpp"
#include "support/redis_server.hpp"

namespace game_data {
namespace {

using K = ChangeKind;

std::string unique_namespace() {
    static std::atomic<int> counter{0};
    return "chg" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

Event event(EventType type, const std::string& game, std::optional<std::string> player = {}) {
    Event e;
    e.type = type;
    e.game_id = game;
    e.server_id = "gs-1";
    e.player_id = std::move(player);
    return e;
}

// Every change a callback saw, in order (callbacks here run in one thread at a time).
struct Recorder {
    std::vector<Change> changes;
    ChangeCallback callback() {
        return [this](const Change& c) { changes.push_back(c); };
    }
    std::vector<K> kinds() const {
        std::vector<K> out;
        for (const auto& c : changes) out.push_back(c.kind);
        return out;
    }
};

class ChangeCallbacks : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        ConnectOptions o;
        o.ns = unique_namespace();
        o.filter_keys = std::vector<std::string>{"mode"};
        const std::string url = GetParam() == "memory" ? "memory://" : testing::shared_redis_server().url();
        mm_ = std::make_unique<Matchmaker>(connect(url, o));
    }

    std::string open_game(const std::string& id, std::int32_t capacity = 4) {
        mm_->create_game(CreateGameRequest{"alice", capacity, "gs-1", {{"mode", "duel"}}, id});
        mm_->apply(event(EventType::CreatorJoined, id, "alice"));
        return id;
    }

    double callback_errors() { return mm_->stats().at(std::string(metric::kCallbackErrorsTotal)); }

    std::unique_ptr<Matchmaker> mm_;
};

TEST_P(ChangeCallbacks, CreateGameFiresCreatedWithStateCreatedAndNoEvent) {
    Recorder r;
    mm_->on_change(r.callback());
    const Game g = mm_->create_game("alice", 2, "gs-1");
    ASSERT_EQ(r.changes.size(), 1u);
    EXPECT_EQ(r.changes[0], (Change{K::Created, g.id, GameState::Created, std::nullopt}));
    EXPECT_EQ(to_string(r.changes[0].kind), "created");
}

TEST_P(ChangeCallbacks, ApplyFiresAppliedWithTheEventAndTheStateAfter) {
    mm_->create_game(CreateGameRequest{"alice", 2, "gs-1", Metadata{}, "g1"});
    Recorder r;
    mm_->on_change(r.callback());
    const Event e = event(EventType::CreatorJoined, "g1", "alice");
    mm_->apply(e);
    ASSERT_EQ(r.changes.size(), 1u);
    EXPECT_EQ(r.changes[0], (Change{K::Applied, "g1", GameState::CreatorJoined, e}));
}

TEST_P(ChangeCallbacks, DuplicatesAndRejectionsFireNothing) {
    open_game("g1");
    Recorder r;
    mm_->on_change(r.callback());
    EXPECT_EQ(mm_->apply(event(EventType::CreatorJoined, "g1", "alice")).status, ApplyStatus::Duplicate);
    EXPECT_EQ(mm_->apply(event(EventType::GameStarted, "nope")).status, ApplyStatus::Rejected);
    Event wrong_server = event(EventType::GameStarted, "g1");
    wrong_server.server_id = "gs-2";
    EXPECT_EQ(mm_->apply(wrong_server).status, ApplyStatus::Rejected);
    EXPECT_TRUE(r.changes.empty());
}

TEST_P(ChangeCallbacks, ApplyManyFiresOncePerAppliedEventInOrder) {
    mm_->create_game(CreateGameRequest{"alice", 3, "gs-1", Metadata{}, "g1"});
    mm_->create_game(CreateGameRequest{"bob", 3, "gs-1", Metadata{}, "g2"});
    Recorder r;
    mm_->on_change(r.callback());
    const std::vector<Event> events = {
        event(EventType::CreatorJoined, "g2", "bob"),
        event(EventType::CreatorJoined, "g2", "bob"),  // duplicate
        event(EventType::GameStarted, "missing"),      // rejected
        event(EventType::GameStarted, "g1"),
        event(EventType::PlayerJoined, "g2", "carol"),
    };
    mm_->apply_many(events);
    ASSERT_EQ(r.changes.size(), 3u);
    EXPECT_EQ(r.changes[0], (Change{K::Applied, "g2", GameState::CreatorJoined, events[0]}));
    EXPECT_EQ(r.changes[1], (Change{K::Applied, "g1", GameState::InProgress, events[3]}));
    EXPECT_EQ(r.changes[2], (Change{K::Applied, "g2", GameState::CreatorJoined, events[4]}));
}

TEST_P(ChangeCallbacks, ReservationsQuickJoinsAndCancellationsFireWithoutState) {
    open_game("g1");
    Recorder r;
    mm_->on_change(r.callback());
    mm_->reserve_seat("g1", "bob");
    ASSERT_TRUE(mm_->quick_join("carol", {{"mode", "duel"}}));
    EXPECT_TRUE(mm_->cancel_reservation("g1", "bob"));
    EXPECT_EQ(r.changes, (std::vector<Change>{{K::Reserved, "g1", std::nullopt, std::nullopt},
                                              {K::Reserved, "g1", std::nullopt, std::nullopt},
                                              {K::ReservationCancelled, "g1", std::nullopt, std::nullopt}}));
}

TEST_P(ChangeCallbacks, RefusedReservationsAndEmptyCancellationsFireNothing) {
    open_game("g1", 2);
    Recorder r;
    mm_->on_change(r.callback());
    EXPECT_THROW(mm_->reserve_seat("g1", "alice"), SeatUnavailable);  // already joined
    EXPECT_THROW(mm_->reserve_seat("nope", "bob"), GameNotFound);
    EXPECT_FALSE(mm_->cancel_reservation("g1", "nobody"));
    EXPECT_FALSE(mm_->quick_join("dave", {{"mode", "battle-royale"}}));
    EXPECT_THROW(mm_->create_game(CreateGameRequest{"alice", 2, "gs-1", Metadata{}, "g1"}), GameExists);
    EXPECT_TRUE(r.changes.empty());
}

TEST_P(ChangeCallbacks, ReapFiresOneReapedPerGameWithTheStateItWasReapedIn) {
    mm_->create_game(CreateGameRequest{"alice", 2, "gs-1", Metadata{}, "pending-1"});
    open_game("lobby-1");
    Recorder r;
    mm_->on_change(r.callback());
    const auto reaped = mm_->reap(mm_->now() + 365LL * 24 * 3'600'000);
    ASSERT_EQ(reaped.size(), 2u);
    ASSERT_EQ(r.changes.size(), 2u);
    for (std::size_t i = 0; i < reaped.size(); ++i) {
        EXPECT_EQ(r.changes[i], (Change{K::Reaped, reaped[i].id, reaped[i].state, std::nullopt}));
    }
}

TEST_P(ChangeCallbacks, ConsumerBatchesFireInThePollingThreadAfterTheCommit) {
    mm_->create_game(CreateGameRequest{"alice", 2, "gs-1", Metadata{}, "g1"});
    std::vector<Change> seen;
    std::vector<std::optional<GameState>> committed;  // the state a read finds inside the callback
    std::vector<std::thread::id> threads;
    mm_->on_change([&](const Change& c) {
        seen.push_back(c);
        threads.push_back(std::this_thread::get_id());
        const auto g = mm_->get_game(c.game_id);
        committed.push_back(g ? std::optional(g->state) : std::nullopt);
    });
    EventPublisher pub = mm_->publisher("gs-1");
    pub.creator_joined("g1", "alice");
    pub.creator_joined("g1", "alice");  // duplicate
    pub.game_started("nope");          // rejected, dead-lettered
    pub.game_started("g1");
    Consumer consumer = mm_->consumer(ConsumerOptions{});
    std::thread poller([&] { consumer.poll(100, 0); });
    const auto poller_id = poller.get_id();
    poller.join();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].kind, K::Applied);
    EXPECT_EQ(seen[0].state, GameState::CreatorJoined);
    EXPECT_EQ(seen[1].state, GameState::InProgress);
    EXPECT_EQ(seen[1].event->type, EventType::GameStarted);
    EXPECT_EQ(committed, (std::vector<std::optional<GameState>>{GameState::InProgress, GameState::InProgress}));
    EXPECT_EQ(threads, (std::vector<std::thread::id>{poller_id, poller_id}));
}

TEST_P(ChangeCallbacks, AThrowingCallbackIsCountedAndStopsNeitherTheChangeNorTheOthers) {
    Recorder before, after;
    mm_->on_change(before.callback());
    mm_->on_change([](const Change&) { throw std::runtime_error("callback bug"); });
    mm_->on_change([](const Change&) { throw 42; });
    mm_->on_change(after.callback());
    EXPECT_EQ(callback_errors(), 0);
    const Game g = mm_->create_game("alice", 2, "gs-1");
    EXPECT_EQ(mm_->apply(event(EventType::CreatorJoined, g.id, "alice")).status, ApplyStatus::Applied);
    EXPECT_EQ(before.kinds(), (std::vector<K>{K::Created, K::Applied}));
    EXPECT_EQ(after.kinds(), (std::vector<K>{K::Created, K::Applied}));
    EXPECT_EQ(callback_errors(), 4);
    ASSERT_TRUE(mm_->get_game(g.id));
    EXPECT_EQ(mm_->get_game(g.id)->state, GameState::CreatorJoined);
}

TEST_P(ChangeCallbacks, RemovedCallbacksAreNotCalledAndRemovingTwiceIsSafe) {
    Recorder r;
    ChangeHandle h = mm_->on_change(r.callback());
    EXPECT_TRUE(h.active());
    mm_->create_game("alice", 2, "gs-1");
    h.remove();
    EXPECT_FALSE(h.active());
    h.remove();
    ChangeHandle().remove();  // an empty handle too
    mm_->create_game("alice", 2, "gs-1");
    EXPECT_EQ(r.changes.size(), 1u);
}

TEST_P(ChangeCallbacks, ACallbackMayRemoveItselfOrALaterOneWhileBeingCalled) {
    int self_calls = 0, later_calls = 0, last_calls = 0;
    ChangeHandle self, later;
    self = mm_->on_change([&](const Change&) {
        ++self_calls;
        self.remove();
        later.remove();  // registered after this one: not called for this change either
    });
    later = mm_->on_change([&](const Change&) { ++later_calls; });
    mm_->on_change([&](const Change&) { ++last_calls; });
    mm_->create_game("alice", 2, "gs-1");
    mm_->create_game("alice", 2, "gs-1");
    EXPECT_EQ(self_calls, 1);
    EXPECT_EQ(later_calls, 0);
    EXPECT_EQ(last_calls, 2);
}

TEST_P(ChangeCallbacks, ACallbackMayAddCallbacksAndCallTheMatchmaker) {
    Recorder added;
    bool once = false;
    mm_->on_change([&](const Change& c) {
        EXPECT_TRUE(mm_->get_game(c.game_id));  // no lock is held while callbacks run
        if (!once) {
            once = true;
            mm_->on_change(added.callback());  // from the next change on
        }
    });
    mm_->create_game("alice", 2, "gs-1");
    mm_->create_game("alice", 2, "gs-1");
    EXPECT_EQ(added.changes.size(), 1u);
}

TEST_P(ChangeCallbacks, AHandleOutlivesItsMatchmaker) {
    ChangeHandle h = mm_->on_change([](const Change&) {});
    mm_.reset();
    EXPECT_FALSE(h.active());
    h.remove();
}

TEST_P(ChangeCallbacks, CopiesOfAMatchmakerShareItsCallbacks) {
    Recorder r;
    mm_->on_change(r.callback());
    Matchmaker copy = *mm_;
    copy.create_game("alice", 2, "gs-1");
    EXPECT_EQ(r.changes.size(), 1u);
}

TEST_P(ChangeCallbacks, WithoutCallbacksTheHooksAreInactive) {
    // Made directly, not by connect(), which adds the callbacks of loaded plug-ins.
    Matchmaker mm(mm_->store(), mm_->options());
    EXPECT_FALSE(mm.change_hooks()->active());
    ChangeHandle h = mm.on_change([](const Change&) {});
    EXPECT_TRUE(mm.change_hooks()->active());
    h.remove();
    EXPECT_FALSE(mm.change_hooks()->active());
    EXPECT_THROW(mm.on_change(ChangeCallback{}), InvalidArgument);
}

TEST_P(ChangeCallbacks, CallbacksComeAndGoWhileOtherThreadsApply) {
    constexpr int kThreads = 4, kGamesEach = 25;
    std::atomic<int> calls{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < kGamesEach; ++i) {
                const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
                mm_->create_game(CreateGameRequest{"alice", 2, "gs-1", Metadata{}, id});
                mm_->apply(event(EventType::CreatorJoined, id, "alice"));
            }
        });
    }
    for (int i = 0; i < 200; ++i) {
        ChangeHandle h = mm_->on_change([&calls](const Change&) { calls.fetch_add(1); });
        h.remove();
    }
    for (auto& w : workers) w.join();
    Recorder r;
    mm_->on_change(r.callback());
    mm_->create_game("alice", 2, "gs-1");
    EXPECT_EQ(r.changes.size(), 1u);
    EXPECT_EQ(mm_->counts().lobby, kThreads * kGamesEach);
}

INSTANTIATE_TEST_SUITE_P(Backends, ChangeCallbacks, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace game_data
