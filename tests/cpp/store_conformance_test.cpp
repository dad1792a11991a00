// The store conformance suite: written once against the Store/Matchmaker interfaces and run
// against every backend. A backend is correct when it passes this file unchanged. Times come
// from an injected clock so scores are exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <ostream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "game_data/json.hpp"
#include "game_data/errors.hpp"
#include "game_data/lifecycle.hpp"
#include "game_data/event_codec.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/store.hpp"
#include "support/redis_server.hpp"
#include "support/wait.hpp"

namespace game_data {
namespace {

using S = GameState;
using E = EventType;
using A = ApplyStatus;

constexpr std::int64_t kT0 = 1'700'000'000'000;  // setup time
constexpr std::int64_t kT1 = kT0 + 1'000;         // time of the event under test

// ---- backends -----------------------------------------------------------------------------

struct StoreParam {
    std::string name;
    // Opens the backend for `options`; `shared_name` names a backend instance that two opens
    // share (memory://NAME), "" for the per-test default.
    std::function<std::shared_ptr<Store>(const ConnectOptions&, const std::string& shared_name)>
        open;
};

std::ostream& operator<<(std::ostream& os, const StoreParam& p) { return os << p.name; }

std::shared_ptr<Store> open_memory(const ConnectOptions& o, const std::string& shared_name) {
    return make_memory_store(Url::parse("memory://" + shared_name), o);
}

std::shared_ptr<Store> open_redis(const ConnectOptions& o, const std::string&) {
    // Every test runs under its own namespace on the one shared server, so tests never meet.
    return make_redis_store(Url::parse(testing::shared_redis_server().url()), o);
}

// Every backend, always: a backend that cannot run here is a failure, not a skip. Each Redis
// test gets its own namespace on the one shared test server.
std::vector<StoreParam> store_params() { return {{"memory", open_memory}, {"redis", open_redis}}; }

// A namespace no other test (or earlier run against the same server) has used.
std::string unique_namespace() {
    static std::atomic<int> counter{0};
    return "conf" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

CreateGameRequest request(std::string creator, std::int32_t capacity, std::string server,
                          std::string id, Metadata metadata = {}) {
    return CreateGameRequest{std::move(creator), capacity, std::move(server), std::move(metadata),
                             std::move(id)};
}

std::string state_name(std::optional<GameState> s) {
    return s ? std::string(to_string(*s)) : std::string("none");
}

// ---- fixture ------------------------------------------------------------------------------

class StoreConformance : public ::testing::TestWithParam<StoreParam> {
protected:
    void SetUp() override {
        options_.ns = unique_namespace();
        options_.max_age = MaxAges{100, 200, 300};
        options_.reap_batch = 500;
        store_ = GetParam().open(options_, "");
        mm_ = std::make_unique<Matchmaker>(store_, options_, [c = clock_] { return c->load(); });
    }

    void set_now(std::int64_t t) { clock_->store(t); }

    Game create(const std::string& id, std::int32_t capacity = 4,
                const std::string& server = "gs-1") {
        return mm_->create_game(request("alice", capacity, server, id, {{"mode", "duel"}}));
    }

    static Event ev(EventType t, const std::string& id, std::optional<std::string> player = {},
                    std::optional<std::int64_t> seq = {}) {
        return Event{t, id, "gs-1", std::move(player), std::nullopt, seq};
    }

    // The event of each type used by the state x event tests: creator_joined by the creator,
    // player_joined by a newcomer, player_left by the (seated) creator.
    static Event standard_event(EventType t, const std::string& id) {
        switch (t) {
            case E::CreatorJoined:
            case E::PlayerLeft: return ev(t, id, "alice");
            case E::PlayerJoined: return ev(t, id, "bob");
            default: return ev(t, id);
        }
    }

    ApplyResult apply(const Event& e) { return mm_->apply(e); }

    // A fresh game (capacity 4) brought to `state` at time kT0 along the usual path.
    void bring_to(const std::string& id, GameState state) {
        set_now(kT0);
        create(id);
        auto step = [&](const Event& e) {
            ASSERT_EQ(apply(e).status, A::Applied) << to_string(e.type);
        };
        if (state == S::Created) return;
        step(ev(E::CreatorJoined, id, "alice"));
        if (state == S::AllPlayersJoined) step(ev(E::AllPlayersJoined, id));
        if (state == S::InProgress) step(ev(E::GameStarted, id));
        if (state == S::Ended) step(ev(E::GameEnded, id));
    }

    std::vector<std::string> open_ids(std::size_t limit = 10'000) {
        std::vector<std::string> ids;
        for (const Game& g : mm_->get_open_games(limit)) ids.push_back(g.id);
        return ids;
    }

    // Invariant of SPEC section 2 for one game id: live iff in exactly the set of its state.
    void expect_consistent(const std::string& id) {
        auto g = store_->get_game(id);
        auto entry = store_->set_entry(id);
        if (!g) {
            EXPECT_FALSE(entry) << id;
            return;
        }
        ASSERT_TRUE(entry) << id << " is live in state " << to_string(g->state) << " but in no set";
        EXPECT_EQ(entry->first, set_of(g->state)) << id;
    }

    ConnectOptions options_;
    std::shared_ptr<std::atomic<std::int64_t>> clock_ =
        std::make_shared<std::atomic<std::int64_t>>(kT0);
    std::shared_ptr<Store> store_;
    std::unique_ptr<Matchmaker> mm_;
};

// ---- create -------------------------------------------------------------------------------

TEST_P(StoreConformance, CreateGamePutsItInPendingScoredNow) {
    set_now(kT0 + 7);
    const Game g = create("g1");
    EXPECT_EQ(g.state, S::Created);
    EXPECT_EQ(g.created_at, kT0 + 7);
    EXPECT_EQ(g.updated_at, kT0 + 7);
    EXPECT_EQ(store_->set_entry("g1"), std::make_pair(GameSet::Pending, kT0 + 7));
    EXPECT_EQ(mm_->counts(), (Counts{1, 0, 0}));
}

TEST_P(StoreConformance, CreatedGameReadsBackWithEveryField) {
    const Metadata meta = to_metadata(nlohmann::json{
        {"mode", "duel"}, {"map", {{"name", "dust"}, {"w", 64}}}, {"tags", {"eu", "ranked"}}});
    const Game created = mm_->create_game(CreateGameRequest{"alice", 7, "gs-9", meta, "g1"});
    auto got = mm_->get_game("g1");
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, created);
    EXPECT_EQ(got->creator_id, "alice");
    EXPECT_EQ(got->capacity, 7);
    EXPECT_EQ(got->server_id, "gs-9");
    EXPECT_EQ(got->metadata, meta);
    EXPECT_TRUE(got->players.empty());
    EXPECT_EQ(got->last_seq, 0);
}

TEST_P(StoreConformance, CreateGameWithoutIdGeneratesDistinctValidIds) {
    const Game a = mm_->create_game("alice", 2, "gs-1");
    const Game b = mm_->create_game("alice", 2, "gs-1");
    EXPECT_NE(a.id, b.id);
    EXPECT_TRUE(mm_->get_game(a.id));
    EXPECT_TRUE(mm_->get_game(b.id));
}

TEST_P(StoreConformance, GetGameOfAnUnknownIdIsEmpty) { EXPECT_FALSE(mm_->get_game("nope")); }

TEST_P(StoreConformance, ReusingALiveIdThrowsGameExistsAndKeepsTheOriginal) {
    create("g1");
    ASSERT_EQ(apply(ev(E::CreatorJoined, "g1", "alice")).status, A::Applied);
    const Game before = *mm_->get_game("g1");
    const auto entry = store_->set_entry("g1");
    set_now(kT1);
    EXPECT_THROW(mm_->create_game(request("zed", 9, "gs-2", "g1")), GameExists);
    EXPECT_EQ(mm_->get_game("g1"), before);
    EXPECT_EQ(store_->set_entry("g1"), entry);
    EXPECT_EQ(mm_->counts(), (Counts{0, 1, 0}));
}

TEST_P(StoreConformance, ReusingAnEndedIdThrowsGameExists) {
    bring_to("g1", S::Ended);
    EXPECT_THROW(create("g1"), GameExists);
    EXPECT_FALSE(mm_->get_game("g1"));
    EXPECT_EQ(mm_->counts(), (Counts{0, 0, 0}));
}

// create_games: one guarded commit per batch, all or none.
static std::vector<CreateGameRequest> batch(const std::string& prefix, int n) {
    std::vector<CreateGameRequest> out;
    for (int i = 0; i < n; ++i) {
        out.push_back(CreateGameRequest{"c" + std::to_string(i), 2 + i % 7, "gs-1",
                                        Metadata{{"mode", i % 2 ? "duel" : "ffa"}},
                                        prefix + std::to_string(i)});
    }
    return out;
}

TEST_P(StoreConformance, CreateGamesCreatesEveryGameAtOneTime) {
    set_now(kT1);
    const auto requests = batch("b", 50);
    const auto made = mm_->create_games(requests);
    ASSERT_EQ(made.size(), 50u);
    for (std::size_t i = 0; i < made.size(); ++i) {
        EXPECT_EQ(made[i].id, requests[i].game_id);
        EXPECT_EQ(made[i].created_at, kT1);
        EXPECT_EQ(made[i].state, S::Created);
        EXPECT_EQ(mm_->get_game(made[i].id), made[i]) << "as stored";
        EXPECT_EQ(store_->set_entry(made[i].id), (std::pair{GameSet::Pending, kT1}));
    }
    EXPECT_EQ(mm_->counts(), (Counts{50, 0, 0}));
    EXPECT_TRUE(mm_->create_games({}).empty());
}

TEST_P(StoreConformance, CreateGamesWithATakenIdCreatesNoneAndNamesEachTakenId) {
    create("b3");
    bring_to("b7", S::Ended);  // ended: its id is held by the tombstone
    const Game before = *mm_->get_game("b3");
    try {
        mm_->create_games(batch("b", 10));
        FAIL() << "no GameExists";
    } catch (const GameExists& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("'b3'"), std::string::npos) << what;
        EXPECT_NE(what.find("'b7'"), std::string::npos) << what;
        EXPECT_EQ(what.find("'b4'"), std::string::npos) << what;
    }
    for (int i = 0; i < 10; ++i) {
        if (i != 3) {
            EXPECT_FALSE(mm_->get_game("b" + std::to_string(i))) << i;
        }
    }
    EXPECT_EQ(mm_->get_game("b3"), before);
    EXPECT_EQ(mm_->counts(), (Counts{1, 0, 0}));
    auto free = batch("b", 10);
    free.erase(free.begin() + 7);
    free.erase(free.begin() + 3);
    EXPECT_EQ(mm_->create_games(free).size(), 8u) << "the free ids were not taken by the refusal";
}

TEST_P(StoreConformance, CreateGamesRefusesRepeatedIdsAndOversizedBatchesWritingNothing) {
    auto twice = batch("t", 3);
    twice.push_back(twice[1]);
    EXPECT_THROW(mm_->create_games(twice), InvalidArgument);
    auto bad = batch("v", 3);
    bad[2].capacity = 0;
    EXPECT_THROW(mm_->create_games(bad), InvalidArgument);
    EXPECT_THROW(mm_->create_games(batch("o", static_cast<int>(Store::kMaxCreateBatch) + 1)),
                 InvalidArgument);
    EXPECT_EQ(mm_->counts(), (Counts{0, 0, 0}));
    EXPECT_EQ(mm_->create_games(batch("o", static_cast<int>(Store::kMaxCreateBatch))).size(),
              Store::kMaxCreateBatch);
}

TEST_P(StoreConformance, ConcurrentBatchesSharingAnIdCreateOneBatchWhole) {
    for (int round = 0; round < 10; ++round) {
        const std::string shared = "s" + std::to_string(round);
        std::vector<std::vector<CreateGameRequest>> batches(4);
        for (int t = 0; t < 4; ++t) {
            batches[t] = batch("r" + std::to_string(round) + "-" + std::to_string(t) + "-", 30);
            batches[t].push_back(CreateGameRequest{"c", 2, "gs-1", Metadata{}, shared});
        }
        std::atomic<int> won = 0;
        {
            std::vector<std::jthread> threads;
            for (int t = 0; t < 4; ++t) {
                threads.emplace_back([&, t] {
                    try {
                        mm_->create_games(batches[t]);
                        ++won;
                    } catch (const GameExists&) {
                    }
                });
            }
        }
        EXPECT_EQ(won.load(), 1);
        int whole = 0;
        for (const auto& b : batches) {  // each batch's own 30 ids: all stored or none
            int stored = 0;
            for (std::size_t i = 0; i + 1 < b.size(); ++i) stored += mm_->get_game(*b[i].game_id) ? 1 : 0;
            EXPECT_TRUE(stored == 0 || stored == 30) << stored;
            whole += stored == 30 ? 1 : 0;
        }
        EXPECT_EQ(whole, 1);
        EXPECT_TRUE(mm_->get_game(shared));
    }
}

TEST_P(StoreConformance, ReusingAReapedIdThrowsGameExists) {
    create("g1");
    ASSERT_EQ(mm_->reap(kT0 + 1'000).size(), 1u);
    EXPECT_THROW(create("g1"), GameExists);
    EXPECT_FALSE(mm_->get_game("g1"));
}

TEST_P(StoreConformance, EveryEndedOrReapedGameIsRememberedWhileItsTombstoneLasts) {
    // Far more tombstones than a small table holds, made one by one and by a reap batch.
    for (int i = 0; i < 200; ++i) bring_to("e" + std::to_string(i), S::Ended);
    for (int i = 0; i < 50; ++i) create("r" + std::to_string(i));
    ASSERT_EQ(mm_->reap(kT0 + 1'000).size(), 50u);
    for (int i = 0; i < 200; ++i) {
        const std::string id = "e" + std::to_string(i);
        EXPECT_EQ(apply(ev(E::Heartbeat, id)).reason, "game has ended") << id;
        EXPECT_THROW(create(id), GameExists) << id;
    }
    for (int i = 0; i < 50; ++i) {
        const std::string id = "r" + std::to_string(i);
        EXPECT_EQ(apply(ev(E::Heartbeat, id)).reason, "game was reaped") << id;
        EXPECT_THROW(create(id), GameExists) << id;
    }
}

TEST_P(StoreConformance, AnIdIsFreeAgainOnceItsTombstoneExpiresAndLaterTombstonesLast) {
    options_.tombstone_ttl_ms = 500;  // of the real clock, as Redis expires keys
    store_ = GetParam().open(options_, "");
    mm_ = std::make_unique<Matchmaker>(store_, options_, [c = clock_] { return c->load(); });
    const auto becomes_free = [&](const std::string& id) {
        return testing::wait_until([&] {
            try {
                create(id);
                return true;
            } catch (const GameExists&) {
                return false;
            }
        });
    };
    for (int i = 0; i < 30; ++i) bring_to("a" + std::to_string(i), S::Ended);
    EXPECT_THROW(create("a0"), GameExists);
    ASSERT_TRUE(becomes_free("a0"));
    // A tombstone made now lasts, though older ones expired (each has its own time to live);
    // checked right after it is made, well within its 500 ms whatever the machine's load.
    bring_to("b", S::Ended);
    EXPECT_THROW(create("b"), GameExists);
    ASSERT_EQ(apply(ev(E::GameEnded, "a0")).status, A::Applied);
    EXPECT_THROW(create("a0"), GameExists) << "a0 ended again: a new tombstone";
    for (int i = 1; i < 30; ++i) EXPECT_TRUE(becomes_free("a" + std::to_string(i))) << i;
}

TEST_P(StoreConformance, RefusedCreateWritesNothing) {
    create("g1");
    EXPECT_THROW(mm_->create_game(request("alice", 0, "gs-1", "g2")), InvalidArgument);
    EXPECT_THROW(mm_->create_game(request("al ice", 2, "gs-1", "g2")), InvalidArgument);
    EXPECT_THROW(mm_->create_game(request("alice", 2, "gs-1", "g2", to_metadata(nlohmann::json::array()))),
                 InvalidArgument);
    EXPECT_THROW(mm_->create_game(request("alice", 2, "gs-1", "g:2")), InvalidArgument);
    EXPECT_FALSE(mm_->get_game("g2"));
    EXPECT_EQ(mm_->counts(), (Counts{1, 0, 0}));
}

TEST_P(StoreConformance, MaximalIdsWithEveryAllowedCharacterRoundTrip) {
    const std::string id = "Az09_.-" + std::string(121, 'x');
    const std::string creator = std::string(127, 'c') + "-";
    const std::string server = "." + std::string(127, 's');
    ASSERT_EQ(id.size(), 128u);
    mm_->create_game(request(creator, 2, server, id));
    const Event joined{E::CreatorJoined, id, server, creator, {}, {}};
    EXPECT_EQ(apply(joined).status, A::Applied);
    const auto g = mm_->get_game(id);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->creator_id, creator);
    EXPECT_EQ(g->server_id, server);
    EXPECT_EQ(g->players, std::vector<std::string>{creator});
    EXPECT_EQ(open_ids(), std::vector<std::string>{id});
}

TEST_P(StoreConformance, MetadataOfSixteenKibWithUnicodeAndNumbersRoundTrips) {
    nlohmann::json meta = {{"name", "caf\xc3\xa9 \xe2\x9c\x93"}, {"big", 9007199254740993LL},
                           {"neg", -12}, {"pi", 3.25}, {"flag", false}, {"none", nullptr},
                           {"nested", {{"list", {1, "two", {{"three", 3}}}}}}};
    meta["pad"] = "";
    meta["pad"] = std::string(16384 - meta.dump().size(), 'p');
    ASSERT_EQ(meta.dump().size(), 16384u);
    mm_->create_game(request("alice", 2, "gs-1", "g1", to_metadata(meta)));
    EXPECT_EQ(json_of(mm_->get_game("g1")->metadata), meta);
}

TEST_P(StoreConformance, LargeRosterKeepsJoinOrder) {
    set_now(kT0);
    create("g1", 1024);
    apply(ev(E::CreatorJoined, "g1", "alice"));
    std::vector<std::string> want = {"alice"};
    for (int i = 0; i < 150; ++i) {
        want.push_back("p" + std::to_string(149 - i));
        ASSERT_EQ(apply(ev(E::PlayerJoined, "g1", want.back())).status, A::Applied);
    }
    EXPECT_EQ(mm_->get_game("g1")->players, want);
    EXPECT_EQ(mm_->get_game("g1")->free_seats(), 1024 - 151);
}

// ---- every state x event pair -------------------------------------------------------------

struct Row {
    ApplyStatus status;
    std::optional<GameState> state;  // in the result; the record is gone when Ended
    bool rescored;                   // set score becomes the event time (else stays kT0)
};

// SPEC section 2 and 3, written out per starting state (not derived from the code).
const std::map<GameState, std::map<EventType, Row>> kTransitions = {
    {S::Created,
     {{E::CreatorJoined, {A::Applied, S::CreatorJoined, true}},
      {E::PlayerJoined, {A::Applied, S::Created, false}},  // the creator's seat kept free
      {E::PlayerLeft, {A::Duplicate, S::Created, false}},
      {E::AllPlayersJoined, {A::Applied, S::AllPlayersJoined, true}},
      {E::GameStarted, {A::Applied, S::InProgress, true}},
      {E::GameEnded, {A::Applied, S::Ended, false}},
      {E::Heartbeat, {A::Applied, S::Created, true}}}},
    {S::CreatorJoined,
     {{E::CreatorJoined, {A::Duplicate, S::CreatorJoined, false}},
      {E::PlayerJoined, {A::Applied, S::CreatorJoined, false}},
      {E::PlayerLeft, {A::Applied, S::CreatorJoined, false}},
      {E::AllPlayersJoined, {A::Applied, S::AllPlayersJoined, false}},  // stays in lobby
      {E::GameStarted, {A::Applied, S::InProgress, true}},
      {E::GameEnded, {A::Applied, S::Ended, false}},
      {E::Heartbeat, {A::Applied, S::CreatorJoined, true}}}},
    {S::AllPlayersJoined,
     {{E::CreatorJoined, {A::Duplicate, S::AllPlayersJoined, false}},
      {E::PlayerJoined, {A::Applied, S::AllPlayersJoined, false}},
      {E::PlayerLeft, {A::Applied, S::AllPlayersJoined, false}},
      {E::AllPlayersJoined, {A::Duplicate, S::AllPlayersJoined, false}},
      {E::GameStarted, {A::Applied, S::InProgress, true}},
      {E::GameEnded, {A::Applied, S::Ended, false}},
      {E::Heartbeat, {A::Applied, S::AllPlayersJoined, true}}}},
    {S::InProgress,
     {{E::CreatorJoined, {A::Duplicate, S::InProgress, false}},
      {E::PlayerJoined, {A::Applied, S::InProgress, false}},
      {E::PlayerLeft, {A::Applied, S::InProgress, false}},
      {E::AllPlayersJoined, {A::Duplicate, S::InProgress, false}},
      {E::GameStarted, {A::Duplicate, S::InProgress, false}},
      {E::GameEnded, {A::Applied, S::Ended, false}},
      {E::Heartbeat, {A::Applied, S::InProgress, true}}}},
};

class StoreTransitions : public StoreConformance {
protected:
    // Applies every event type to its own fresh game in `start` and checks result, record,
    // set and score against kTransitions.
    void check_every_event_from(GameState start) {
        for (EventType t : kAllEventTypes) {
            const std::string id = std::string(to_string(start)) + "." + std::string(to_string(t));
            SCOPED_TRACE(id);
            bring_to(id, start);
            const Game before = *mm_->get_game(id);
            const auto entry_before = store_->set_entry(id);
            ASSERT_EQ(entry_before, std::make_pair(*set_of(start), kT0));

            set_now(kT1);
            const Row& want = kTransitions.at(start).at(t);
            const ApplyResult r = apply(standard_event(t, id));
            EXPECT_EQ(r.status, want.status) << r.reason;
            EXPECT_EQ(state_name(r.state), state_name(want.state));
            EXPECT_EQ(r.game_id, id);
            if (r.status != A::Applied) {
                EXPECT_FALSE(r.reason.empty());
            }

            const auto after = mm_->get_game(id);
            const auto entry = store_->set_entry(id);
            if (want.state == S::Ended) {
                EXPECT_FALSE(after);
                EXPECT_FALSE(entry);
                continue;
            }
            ASSERT_TRUE(after);
            ASSERT_TRUE(entry);
            EXPECT_EQ(after->state, *want.state);
            EXPECT_EQ(entry->first, *set_of(*want.state));
            EXPECT_EQ(entry->second, want.rescored ? kT1 : kT0);
            if (want.status == A::Applied) {
                EXPECT_EQ(after->updated_at, kT1);
            } else {
                EXPECT_EQ(*after, before);  // nothing at all changed
                EXPECT_EQ(entry, entry_before);
            }
        }
    }
};

TEST_P(StoreTransitions, FromCreatedEveryEventMovesSetsAsSpecified) {
    check_every_event_from(S::Created);
}
TEST_P(StoreTransitions, FromCreatorJoinedEveryEventMovesSetsAsSpecified) {
    check_every_event_from(S::CreatorJoined);
}
TEST_P(StoreTransitions, FromAllPlayersJoinedEveryEventMovesSetsAsSpecified) {
    check_every_event_from(S::AllPlayersJoined);
}
TEST_P(StoreTransitions, FromInProgressEveryEventMovesSetsAsSpecified) {
    check_every_event_from(S::InProgress);
}

TEST_P(StoreTransitions, AfterGameEndedEveryEventIsADuplicateBecauseTheGameHasEnded) {
    for (EventType t : kAllEventTypes) {
        const std::string id = "ended." + std::string(to_string(t));
        SCOPED_TRACE(id);
        bring_to(id, S::Ended);
        set_now(kT1);
        const ApplyResult r = apply(standard_event(t, id));
        EXPECT_EQ(r.status, A::Duplicate);
        EXPECT_EQ(r.reason, "game has ended");
        EXPECT_FALSE(r.state);
        EXPECT_FALSE(mm_->get_game(id));
        EXPECT_FALSE(store_->set_entry(id));
    }
    EXPECT_EQ(mm_->counts(), (Counts{0, 0, 0}));
}

TEST_P(StoreConformance, GameEndedRemovesTheRecordAndItsSetEntry) {
    bring_to("g1", S::InProgress);
    create("g2");
    set_now(kT1);
    const ApplyResult r = apply(ev(E::GameEnded, "g1"));
    EXPECT_EQ(r.status, A::Applied);
    EXPECT_FALSE(mm_->get_game("g1"));
    EXPECT_FALSE(store_->set_entry("g1"));
    EXPECT_EQ(mm_->counts(), (Counts{1, 0, 0}));
}

TEST_P(StoreConformance, ForwardSkipFromCreatedToInProgressGoesStraightToActive) {
    create("g1");
    set_now(kT1);
    EXPECT_EQ(apply(ev(E::GameStarted, "g1")).status, A::Applied);
    EXPECT_EQ(mm_->get_game("g1")->state, S::InProgress);
    EXPECT_EQ(store_->set_entry("g1"), std::make_pair(GameSet::Active, kT1));
    EXPECT_EQ(mm_->counts(), (Counts{0, 0, 1}));
}

TEST_P(StoreConformance, ForwardSkipFromCreatedToAllPlayersJoinedGoesToLobbyButNotOpen) {
    create("g1");
    set_now(kT1);
    EXPECT_EQ(apply(ev(E::AllPlayersJoined, "g1")).status, A::Applied);
    EXPECT_EQ(store_->set_entry("g1"), std::make_pair(GameSet::Lobby, kT1));
    EXPECT_TRUE(open_ids().empty());
}

TEST_P(StoreConformance, ARepeatedTransitionChangesNeitherRecordNorScore) {
    bring_to("g1", S::InProgress);
    const Game before = *mm_->get_game("g1");
    const auto entry = store_->set_entry("g1");
    set_now(kT1);
    const ApplyResult r = apply(ev(E::GameStarted, "g1"));
    EXPECT_EQ(r.status, A::Duplicate);
    EXPECT_EQ(r.state, S::InProgress);
    EXPECT_EQ(mm_->get_game("g1"), before);
    EXPECT_EQ(store_->set_entry("g1"), entry);
}

// ---- seq ----------------------------------------------------------------------------------

TEST_P(StoreConformance, ARosterSeqNotAboveThePlayersLastIsADuplicateThatChangesNothing) {
    create("g1");
    ASSERT_EQ(apply(ev(E::CreatorJoined, "g1", "alice", 1)).status, A::Applied);
    ASSERT_EQ(apply(ev(E::PlayerJoined, "g1", "bob", 5)).status, A::Applied);
    const Game before = *mm_->get_game("g1");
    const auto entry = store_->set_entry("g1");
    EXPECT_EQ(before.last_seq, 5);
    EXPECT_EQ(before.player_seqs.at("bob"), 5);
    set_now(kT1);
    for (std::int64_t seq : {5, 4, 0}) {
        const ApplyResult r = apply(ev(E::PlayerLeft, "g1", "bob", seq));
        EXPECT_EQ(r.status, A::Duplicate) << seq;
        EXPECT_EQ(r.reason, "seq already applied") << seq;
        EXPECT_EQ(r.state, S::CreatorJoined) << seq;
    }
    EXPECT_EQ(mm_->get_game("g1"), before);
    EXPECT_EQ(store_->set_entry("g1"), entry);
}

TEST_P(StoreConformance, EventsOfOnePlayerArrivingAfterNewerOnesOfAnotherStillApply) {
    // What several consumers (or a claim after a crash) do to one game's events.
    create("g1", 4);
    ASSERT_EQ(apply(ev(E::CreatorJoined, "g1", "alice", 1)).status, A::Applied);
    ASSERT_EQ(apply(ev(E::PlayerJoined, "g1", "carol", 8)).status, A::Applied);
    EXPECT_EQ(apply(ev(E::PlayerJoined, "g1", "bob", 5)).status, A::Applied);
    EXPECT_EQ(apply(ev(E::AllPlayersJoined, "g1", {}, 3)).status, A::Applied);
    const Game after = *mm_->get_game("g1");
    // Seated in publish (seq) order, whatever the delivery order.
    EXPECT_EQ(after.players, (std::vector<std::string>{"alice", "bob", "carol"}));
    EXPECT_EQ(after.state, S::AllPlayersJoined);
    EXPECT_EQ(after.last_seq, 8);
}

TEST_P(StoreConformance, AStaleRosterEventNeverUndoesANewerOne) {
    create("g1", 4);
    ASSERT_EQ(apply(ev(E::CreatorJoined, "g1", "alice", 1)).status, A::Applied);
    ASSERT_EQ(apply(ev(E::PlayerJoined, "g1", "bob", 2)).status, A::Applied);
    ASSERT_EQ(apply(ev(E::PlayerLeft, "g1", "bob", 3)).status, A::Applied);
    EXPECT_EQ(apply(ev(E::PlayerJoined, "g1", "bob", 2)).status, A::Duplicate);  // redelivered
    EXPECT_FALSE(mm_->get_game("g1")->has_player("bob"));
    // And the other way round: the leave arrives before the join it follows.
    ASSERT_EQ(apply(ev(E::PlayerLeft, "g1", "dave", 6)).status, A::Applied);
    EXPECT_EQ(apply(ev(E::PlayerJoined, "g1", "dave", 5)).status, A::Duplicate);
    EXPECT_FALSE(mm_->get_game("g1")->has_player("dave"));
    EXPECT_EQ(mm_->get_game("g1")->player_seqs,
              (std::map<std::string, std::int64_t>{{"alice", 1}, {"bob", 3}, {"dave", 6}}));
}

TEST_P(StoreConformance, TheLargestAllowedSeqIsComparedAndKeptExactly) {
    create("g1");
    ASSERT_EQ(apply(ev(E::CreatorJoined, "g1", "alice", 1)).status, A::Applied);
    ASSERT_EQ(apply(ev(E::PlayerJoined, "g1", "bob", kMaxSeq - 1)).status, A::Applied);
    EXPECT_EQ(mm_->get_game("g1")->last_seq, kMaxSeq - 1);
    EXPECT_EQ(apply(ev(E::PlayerLeft, "g1", "bob", kMaxSeq)).status, A::Applied);
    EXPECT_EQ(mm_->get_game("g1")->last_seq, kMaxSeq);
    EXPECT_EQ(mm_->get_game("g1")->player_seqs.at("bob"), kMaxSeq);
    EXPECT_EQ(apply(ev(E::PlayerJoined, "g1", "bob", kMaxSeq)).status, A::Duplicate);
}

TEST_P(StoreConformance, ASeqAboveTheLargestAllowedIsRefusedBeforeWriting) {
    create("g1");
    const Game before = *mm_->get_game("g1");
    EXPECT_THROW(apply(ev(E::GameStarted, "g1", {}, kMaxSeq + 1)), InvalidArgument);
    EXPECT_EQ(mm_->get_game("g1"), before);
}

TEST_P(StoreConformance, EventsWithoutSeqAreNotDedupedBySeq) {
    create("g1");
    ASSERT_EQ(apply(ev(E::Heartbeat, "g1", {}, 5)).status, A::Applied);
    set_now(kT1);
    EXPECT_EQ(apply(ev(E::Heartbeat, "g1")).status, A::Applied);
    EXPECT_EQ(store_->set_entry("g1"), std::make_pair(GameSet::Pending, kT1));
    EXPECT_EQ(mm_->get_game("g1")->last_seq, 5);
}

// ---- roster -------------------------------------------------------------------------------

TEST_P(StoreConformance, CreatorJoinedSeatsTheCreator) {
    create("g1");
    apply(ev(E::CreatorJoined, "g1", "alice"));
    EXPECT_EQ(mm_->get_game("g1")->players, std::vector<std::string>{"alice"});
}

TEST_P(StoreConformance, CreatorJoinedByAnotherPlayerIsRejectedAndChangesNothing) {
    create("g1");
    const Game before = *mm_->get_game("g1");
    set_now(kT1);
    const ApplyResult r = apply(ev(E::CreatorJoined, "g1", "mallory"));
    EXPECT_EQ(r.status, A::Rejected);
    EXPECT_EQ(mm_->get_game("g1"), before);
    EXPECT_EQ(store_->set_entry("g1"), std::make_pair(GameSet::Pending, kT0));
}

TEST_P(StoreConformance, PlayersJoinAndLeaveInOrderAndFreeSeatsFollow) {
    bring_to("g1", S::CreatorJoined);
    apply(ev(E::PlayerJoined, "g1", "bob"));
    apply(ev(E::PlayerJoined, "g1", "carol"));
    apply(ev(E::PlayerJoined, "g1", "dave"));
    apply(ev(E::PlayerLeft, "g1", "bob"));
    const Game g = *mm_->get_game("g1");
    EXPECT_EQ(g.players, (std::vector<std::string>{"alice", "carol", "dave"}));
    EXPECT_EQ(g.free_seats(), 1);
}

TEST_P(StoreConformance, JoiningAFullGameIsHeldAndSeatedWhenTheLeaveThatFreesItArrives) {
    set_now(kT0);
    create("g1", 2);
    apply(ev(E::CreatorJoined, "g1", "alice", 1));
    apply(ev(E::PlayerJoined, "g1", "bob", 2));
    set_now(kT1);
    // Published: bob leaves (3), carol joins (4); delivered the other way round.
    const ApplyResult held = apply(ev(E::PlayerJoined, "g1", "carol", 4));
    EXPECT_EQ(held.status, A::Applied);
    EXPECT_EQ(held.reason, "held until a seat frees");
    EXPECT_EQ(mm_->get_game("g1")->players, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_TRUE(open_ids().empty());
    EXPECT_EQ(apply(ev(E::PlayerLeft, "g1", "bob", 3)).status, A::Applied);
    const Game after = *mm_->get_game("g1");
    EXPECT_EQ(after.players, (std::vector<std::string>{"alice", "carol"}));
    EXPECT_TRUE(after.held.empty());
    expect_consistent("g1");
}

TEST_P(StoreConformance, JoiningAFullGameWhoseHoldIsFullIsRejectedAndChangesNothing) {
    set_now(kT0);
    create("g1", 2);
    apply(ev(E::CreatorJoined, "g1", "alice"));
    apply(ev(E::PlayerJoined, "g1", "bob"));
    for (std::size_t i = 0; i < kMaxHeldJoins; ++i) {
        ASSERT_EQ(apply(ev(E::PlayerJoined, "g1", "h" + std::to_string(i))).status, A::Applied);
    }
    const Game before = *mm_->get_game("g1");
    const auto entry = store_->set_entry("g1");
    set_now(kT1);
    const ApplyResult r = apply(ev(E::PlayerJoined, "g1", "carol"));
    EXPECT_EQ(r.status, A::Rejected);
    EXPECT_EQ(r.reason, "game is full");
    EXPECT_EQ(mm_->get_game("g1"), before);
    EXPECT_EQ(store_->set_entry("g1"), entry);
}

TEST_P(StoreConformance, JoiningTwiceIsADuplicate) {
    bring_to("g1", S::CreatorJoined);
    apply(ev(E::PlayerJoined, "g1", "bob"));
    const Game before = *mm_->get_game("g1");
    set_now(kT1);
    EXPECT_EQ(apply(ev(E::PlayerJoined, "g1", "bob")).status, A::Duplicate);
    EXPECT_EQ(mm_->get_game("g1"), before);
}

TEST_P(StoreConformance, LeavingWhenAbsentIsADuplicate) {
    bring_to("g1", S::CreatorJoined);
    const Game before = *mm_->get_game("g1");
    set_now(kT1);
    EXPECT_EQ(apply(ev(E::PlayerLeft, "g1", "zed")).status, A::Duplicate);
    EXPECT_EQ(mm_->get_game("g1"), before);
}

// ---- get_open_games -----------------------------------------------------------------------

TEST_P(StoreConformance, OpenGamesAreLobbyGamesWithFreeSeatsOldestFirst) {
    // Created in the order c, a, b; they enter the lobby in the order b, c, a.
    std::int64_t t = kT0;
    for (const char* id : {"c", "a", "b"}) {
        set_now(t++);
        create(id);
    }
    for (const char* id : {"b", "c", "a"}) {
        set_now(t++);
        apply(ev(E::CreatorJoined, id, "alice"));
    }
    EXPECT_EQ(open_ids(), (std::vector<std::string>{"c", "a", "b"})) << "in the order of creation";
}

TEST_P(StoreConformance, OpenGamesReturnFullRecords) {
    bring_to("g1", S::CreatorJoined);
    const auto open = mm_->get_open_games(10);
    ASSERT_EQ(open.size(), 1u);
    EXPECT_EQ(open[0], *mm_->get_game("g1"));
}

TEST_P(StoreConformance, OpenGamesExcludeFullGames) {
    set_now(kT0);
    create("solo", 1);
    apply(ev(E::CreatorJoined, "solo", "alice"));  // the creator fills it
    create("duo", 2);
    apply(ev(E::CreatorJoined, "duo", "alice"));
    EXPECT_EQ(open_ids(), std::vector<std::string>{"duo"});
    apply(ev(E::PlayerJoined, "duo", "bob"));
    EXPECT_TRUE(open_ids().empty());
}

TEST_P(StoreConformance, OpenGamesExcludeEveryStateButCreatorJoined) {
    bring_to("created", S::Created);
    bring_to("joined", S::CreatorJoined);
    bring_to("full", S::AllPlayersJoined);
    bring_to("playing", S::InProgress);
    bring_to("ended", S::Ended);
    EXPECT_EQ(open_ids(), std::vector<std::string>{"joined"});
}

TEST_P(StoreConformance, AGameThatFreesASeatIsOpenAgainAtItsLobbyPosition) {
    set_now(kT0);
    create("a", 2);
    create("b", 2);
    set_now(kT0 + 10);
    apply(ev(E::CreatorJoined, "a", "alice"));
    set_now(kT0 + 20);
    apply(ev(E::CreatorJoined, "b", "alice"));
    apply(ev(E::PlayerJoined, "a", "bob"));
    EXPECT_EQ(open_ids(), std::vector<std::string>{"b"});
    set_now(kT0 + 30);
    apply(ev(E::PlayerLeft, "a", "bob"));
    EXPECT_EQ(open_ids(), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(store_->set_entry("a"), std::make_pair(GameSet::Lobby, kT0 + 10));
}

TEST_P(StoreConformance, OpenGamesRespectTheLimit) {
    for (int i = 0; i < 5; ++i) {
        set_now(kT0 + i);
        bring_to("g" + std::to_string(i), S::CreatorJoined);
    }
    EXPECT_EQ(mm_->get_open_games(0).size(), 0u);
    EXPECT_EQ(mm_->get_open_games(3).size(), 3u);
    EXPECT_EQ(mm_->get_open_games(5).size(), 5u);
    EXPECT_EQ(mm_->get_open_games(100).size(), 5u);
}

TEST_P(StoreConformance, OpenGamesLimitAboveTenThousandIsRefused) {
    EXPECT_THROW(mm_->get_open_games(10'001), InvalidArgument);
}

TEST_P(StoreConformance, OpenGamesAreServedInTheOrderTheyWereCreatedWhateverTheirHeartbeats) {
    set_now(kT0);
    create("a");
    set_now(kT0 + 5);
    create("b");
    set_now(kT0 + 10);
    apply(ev(E::CreatorJoined, "b", "alice"));  // b opens first
    set_now(kT0 + 20);
    apply(ev(E::CreatorJoined, "a", "alice"));
    EXPECT_EQ(open_ids(), (std::vector<std::string>{"a", "b"}));
    set_now(kT0 + 30);
    apply(ev(E::Heartbeat, "a"));
    EXPECT_EQ(open_ids(), (std::vector<std::string>{"a", "b"})) << "a heartbeat never reorders them";
    EXPECT_EQ(store_->set_entry("a")->second, kT0 + 30) << "but refreshes the lobby score reap reads";
}

// ---- heartbeat ----------------------------------------------------------------------------

TEST_P(StoreConformance, HeartbeatRescoresTheSetTheGameIsIn) {
    bring_to("p", S::Created);
    bring_to("l", S::CreatorJoined);
    bring_to("a", S::InProgress);
    set_now(kT1);
    for (const char* id : {"p", "l", "a"}) {
        const auto before = store_->set_entry(id);
        ASSERT_EQ(apply(ev(E::Heartbeat, id)).status, A::Applied) << id;
        EXPECT_EQ(store_->set_entry(id), std::make_pair(before->first, kT1)) << id;
        EXPECT_EQ(mm_->get_game(id)->updated_at, kT1) << id;
    }
    EXPECT_EQ(mm_->counts(), (Counts{1, 1, 1}));
}

// ---- unknown game, wrong server -----------------------------------------------------------

TEST_P(StoreConformance, EventsForAnUnknownGameAreRejectedAndChangeNothing) {
    bring_to("g1", S::CreatorJoined);
    const Game before = *mm_->get_game("g1");
    for (EventType t : kAllEventTypes) {
        const ApplyResult r = apply(standard_event(t, "nope"));
        EXPECT_EQ(r.status, A::Rejected) << to_string(t);
        EXPECT_EQ(r.reason, "unknown game") << to_string(t);
        EXPECT_EQ(r.game_id, "nope");
        EXPECT_FALSE(r.state) << to_string(t);
    }
    EXPECT_FALSE(mm_->get_game("nope"));
    EXPECT_EQ(mm_->get_game("g1"), before);
    EXPECT_EQ(mm_->counts(), (Counts{0, 1, 0}));
}

TEST_P(StoreConformance, EventsFromAnotherServerAreRejectedAndChangeNothing) {
    bring_to("g1", S::CreatorJoined);
    const Game before = *mm_->get_game("g1");
    const auto entry = store_->set_entry("g1");
    set_now(kT1);
    for (EventType t : kAllEventTypes) {
        Event e = standard_event(t, "g1");
        e.server_id = "gs-evil";
        e.seq = 1'000;
        const ApplyResult r = apply(e);
        EXPECT_EQ(r.status, A::Rejected) << to_string(t);
        EXPECT_EQ(r.reason, "wrong server") << to_string(t);
        EXPECT_EQ(r.state, S::CreatorJoined) << to_string(t);
    }
    EXPECT_EQ(mm_->get_game("g1"), before);
    EXPECT_EQ(store_->set_entry("g1"), entry);
}

TEST_P(StoreConformance, InvalidEventsAreRefusedBeforeReachingTheStore) {
    bring_to("g1", S::CreatorJoined);
    const Game before = *mm_->get_game("g1");
    EXPECT_THROW(apply(Event{E::PlayerJoined, "g1", "gs-1", {}, {}, {}}), InvalidArgument);
    EXPECT_THROW(apply(Event{E::Heartbeat, "g 1", "gs-1", {}, {}, {}}), InvalidArgument);
    EXPECT_THROW(apply(Event{E::Heartbeat, "g1", "gs-1", {}, {}, -3}), InvalidArgument);
    EXPECT_EQ(mm_->get_game("g1"), before);
}

// ---- reap ---------------------------------------------------------------------------------

TEST_P(StoreConformance, ReapRemovesOnlyGamesOlderThanTheirSetsMaxAge) {
    // max ages: pending 100, lobby 200, active 300; every game entered its set at kT0.
    bring_to("p", S::Created);
    bring_to("l", S::CreatorJoined);
    bring_to("a", S::InProgress);
    EXPECT_TRUE(mm_->reap(kT0 + 100).empty());  // score == now - max_age stays
    std::vector<Game> reaped = mm_->reap(kT0 + 101);
    ASSERT_EQ(reaped.size(), 1u);
    EXPECT_EQ(reaped[0].id, "p");
    EXPECT_TRUE(mm_->reap(kT0 + 200).empty());
    reaped = mm_->reap(kT0 + 201);
    ASSERT_EQ(reaped.size(), 1u);
    EXPECT_EQ(reaped[0].id, "l");
    EXPECT_TRUE(mm_->reap(kT0 + 300).empty());
    reaped = mm_->reap(kT0 + 301);
    ASSERT_EQ(reaped.size(), 1u);
    EXPECT_EQ(reaped[0].id, "a");
    EXPECT_EQ(mm_->counts(), (Counts{0, 0, 0}));
}

TEST_P(StoreConformance, ReapUsesTheScoreNotTheCreationTime) {
    bring_to("g1", S::Created);
    set_now(kT0 + 90);
    apply(ev(E::Heartbeat, "g1"));
    EXPECT_TRUE(mm_->reap(kT0 + 150).empty());
    EXPECT_EQ(mm_->reap(kT0 + 191).size(), 1u);
}

TEST_P(StoreConformance, ReapDefaultsToTheClock) {
    bring_to("g1", S::Created);
    set_now(kT0 + 100);
    EXPECT_TRUE(mm_->reap().empty());
    set_now(kT0 + 101);
    EXPECT_EQ(mm_->reap().size(), 1u);
}

TEST_P(StoreConformance, ReapReturnsTheFullRecordsAndRemovesThem) {
    bring_to("g1", S::InProgress);
    apply(ev(E::PlayerJoined, "g1", "bob"));
    const Game before = *mm_->get_game("g1");
    const std::vector<Game> reaped = mm_->reap(kT0 + 10'000);
    ASSERT_EQ(reaped.size(), 1u);
    EXPECT_EQ(reaped[0], before);
    EXPECT_FALSE(mm_->get_game("g1"));
    EXPECT_FALSE(store_->set_entry("g1"));
}

TEST_P(StoreConformance, ReapLeavesCountsConsistentWithWhatRemains) {
    for (int i = 0; i < 4; ++i) bring_to("old" + std::to_string(i), S::CreatorJoined);
    set_now(kT0 + 150);
    bring_to("new", S::CreatorJoined);  // bring_to resets the clock to kT0; rescore it:
    set_now(kT0 + 150);
    apply(ev(E::Heartbeat, "new"));
    bring_to("active", S::InProgress);
    EXPECT_EQ(mm_->counts(), (Counts{0, 5, 1}));
    EXPECT_EQ(mm_->reap(kT0 + 250).size(), 4u);
    EXPECT_EQ(mm_->counts(), (Counts{0, 1, 1}));
    EXPECT_EQ(open_ids(), std::vector<std::string>{"new"});
}

TEST_P(StoreConformance, GameEndedOnAReapedGameIsADuplicate) {
    bring_to("g1", S::InProgress);
    ASSERT_EQ(mm_->reap(kT0 + 301).size(), 1u);
    const ApplyResult r = apply(ev(E::GameEnded, "g1"));
    EXPECT_EQ(r.status, A::Duplicate);
    EXPECT_FALSE(r.state);
}

TEST_P(StoreConformance, OtherEventsOnAReapedGameAreRejectedBecauseItWasReaped) {
    bring_to("g1", S::InProgress);
    ASSERT_EQ(mm_->reap(kT0 + 301).size(), 1u);
    for (EventType t : kAllEventTypes) {
        if (t == E::GameEnded) continue;
        const ApplyResult r = apply(standard_event(t, "g1"));
        EXPECT_EQ(r.status, A::Rejected) << to_string(t);
        EXPECT_EQ(r.reason, "game was reaped") << to_string(t);
        EXPECT_FALSE(r.state) << to_string(t);
    }
    EXPECT_FALSE(mm_->get_game("g1"));
    EXPECT_EQ(mm_->counts(), (Counts{0, 0, 0}));
}

TEST_P(StoreConformance, ReapRemovesEverythingEvenWhenThereIsMoreThanOneBatch) {
    ConnectOptions small = options_;
    small.reap_batch = 3;
    Matchmaker mm(store_, small, [c = clock_] { return c->load(); });
    for (int i = 0; i < 10; ++i) bring_to("p" + std::to_string(i), S::Created);
    for (int i = 0; i < 7; ++i) bring_to("l" + std::to_string(i), S::CreatorJoined);
    const std::vector<Game> reaped = mm.reap(kT0 + 10'000);
    EXPECT_EQ(reaped.size(), 17u);
    std::set<std::string> ids;
    for (const Game& g : reaped) ids.insert(g.id);
    EXPECT_EQ(ids.size(), 17u);
    EXPECT_EQ(mm.counts(), (Counts{0, 0, 0}));
}

// ---- apply_many, counts, namespaces -------------------------------------------------------

TEST_P(StoreConformance, ApplyManyEqualsApplyingOneByOne) {
    // The same script on two identical games: one through apply_many, one event at a time.
    auto script = [](const std::string& id) {
        return std::vector<Event>{
            ev(E::PlayerJoined, id, "bob"),        // rejected: creator not in yet
            ev(E::CreatorJoined, id, "alice", 1),
            ev(E::CreatorJoined, id, "alice", 2),  // duplicate by state
            ev(E::PlayerJoined, id, "bob", 3),
            ev(E::PlayerJoined, id, "bob", 3),     // duplicate by seq
            ev(E::Heartbeat, id, {}, 4),
            ev(E::PlayerLeft, id, "zed", 5),       // duplicate: not seated
            ev(E::GameStarted, id, {}, 6),
            ev(E::AllPlayersJoined, id, {}, 7),    // duplicate: behind
            Event{E::Heartbeat, id, "gs-2", {}, {}, 8},  // wrong server
            ev(E::PlayerLeft, id, "bob", 9),
        };
    };
    bring_to("batch", S::Created);
    bring_to("single", S::Created);
    set_now(kT1);
    const std::vector<ApplyResult> batch = mm_->apply_many(script("batch"));
    std::vector<ApplyResult> single;
    for (const Event& e : script("single")) single.push_back(apply(e));

    ASSERT_EQ(batch.size(), single.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(batch[i].status, single[i].status);
        EXPECT_EQ(batch[i].reason, single[i].reason);
        EXPECT_EQ(batch[i].state, single[i].state);
        EXPECT_EQ(batch[i].game_id, "batch");
    }
    Game b = *mm_->get_game("batch");
    Game s = *mm_->get_game("single");
    b.id = s.id;
    EXPECT_EQ(b, s);
    EXPECT_EQ(store_->set_entry("batch"), store_->set_entry("single"));
}

TEST_P(StoreConformance, ApplyManyAcrossGamesIncludingEndAndUnknown) {
    bring_to("g1", S::CreatorJoined);
    bring_to("g2", S::InProgress);
    set_now(kT1);
    const std::vector<Event> events = {ev(E::GameStarted, "g1"), ev(E::GameEnded, "g2"),
                                       ev(E::Heartbeat, "g2"), ev(E::Heartbeat, "nope")};
    const auto r = mm_->apply_many(events);
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(r[0].status, A::Applied);
    EXPECT_EQ(r[1].status, A::Applied);
    EXPECT_EQ(r[2].status, A::Duplicate);
    EXPECT_EQ(r[2].reason, "game has ended");
    EXPECT_EQ(r[3].status, A::Rejected);
    EXPECT_EQ(mm_->counts(), (Counts{0, 0, 1}));
}

TEST_P(StoreConformance, ApplyManyWithAnInvalidEventAppliesNone) {
    bring_to("g1", S::CreatorJoined);
    const Game before = *mm_->get_game("g1");
    const std::vector<Event> events = {ev(E::GameStarted, "g1"),
                                       Event{E::PlayerJoined, "g1", "gs-1", {}, {}, {}}};
    EXPECT_THROW(mm_->apply_many(events), InvalidArgument);
    EXPECT_EQ(mm_->get_game("g1"), before);
}

TEST_P(StoreConformance, ApplyManyOfNothingReturnsNothing) {
    EXPECT_TRUE(mm_->apply_many(std::vector<Event>{}).empty());
}

TEST_P(StoreConformance, CountsFollowEverySetMove) {
    EXPECT_EQ(mm_->counts(), (Counts{0, 0, 0}));
    for (int i = 0; i < 3; ++i) create("p" + std::to_string(i));
    EXPECT_EQ(mm_->counts(), (Counts{3, 0, 0}));
    apply(ev(E::CreatorJoined, "p0", "alice"));
    apply(ev(E::AllPlayersJoined, "p1"));
    EXPECT_EQ(mm_->counts(), (Counts{1, 2, 0}));
    apply(ev(E::GameStarted, "p0"));
    EXPECT_EQ(mm_->counts(), (Counts{1, 1, 1}));
    apply(ev(E::GameEnded, "p2"));
    apply(ev(E::GameEnded, "p0"));
    EXPECT_EQ(mm_->counts(), (Counts{0, 1, 0}));
}

TEST_P(StoreConformance, NamespacesIsolateTwoMatchmakersOnOneBackend) {
    const std::string shared = "conformance-shared-" + unique_namespace();
    ConnectOptions oa = options_;
    ConnectOptions ob = options_;
    oa.ns = unique_namespace();
    ob.ns = unique_namespace();
    Matchmaker a(GetParam().open(oa, shared), oa, [c = clock_] { return c->load(); });
    Matchmaker b(GetParam().open(ob, shared), ob, [c = clock_] { return c->load(); });

    a.create_game(request("alice", 4, "gs-1", "same"));
    EXPECT_FALSE(b.get_game("same"));
    EXPECT_NO_THROW(b.create_game(request("bob", 2, "gs-2", "same")));
    EXPECT_EQ(a.apply(ev(E::CreatorJoined, "same", "alice")).status, A::Applied);
    EXPECT_EQ(a.get_game("same")->state, S::CreatorJoined);
    EXPECT_EQ(b.get_game("same")->state, S::Created);
    EXPECT_EQ(b.get_game("same")->creator_id, "bob");
    EXPECT_EQ(a.counts(), (Counts{0, 1, 0}));
    EXPECT_EQ(b.counts(), (Counts{1, 0, 0}));
    EXPECT_EQ(a.get_open_games().size(), 1u);
    EXPECT_TRUE(b.get_open_games().empty());
    EXPECT_EQ(b.reap(kT0 + 10'000).size(), 1u);
    EXPECT_EQ(a.counts(), (Counts{0, 1, 0}));
}

// ---- concurrency --------------------------------------------------------------------------

TEST_P(StoreConformance, ConcurrentRandomEventsKeepEveryGameInExactlyTheSetOfItsState) {
    constexpr int kGames = 50;
    constexpr int kThreads = 4;
    constexpr int kEventsPerThread = 400;
    std::vector<std::string> ids;
    for (int i = 0; i < kGames; ++i) {
        ids.push_back("c" + std::to_string(i));
        create(ids.back(), 1 + i % 4);
    }
    auto ticking = std::make_shared<std::atomic<std::int64_t>>(kT1);
    Matchmaker mm(store_, options_, [ticking] { return ticking->fetch_add(1); });

    std::atomic<int> failures{0};
    auto worker = [&](unsigned seed) {
        std::mt19937 rng(seed);
        const std::vector<std::string> players = {"alice", "p1", "p2", "p3", "p4"};
        for (int i = 0; i < kEventsPerThread; ++i) {
            const std::string& id = ids[rng() % ids.size()];
            // Game ends are rare so most games live through many transitions.
            const auto t = static_cast<EventType>(rng() % 7);
            if (t == E::GameEnded && rng() % 8 != 0) continue;
            Event e = ev(t, id);
            if (t == E::CreatorJoined) e.player_id = "alice";
            if (t == E::PlayerJoined || t == E::PlayerLeft) {
                e.player_id = players[rng() % players.size()];
            }
            try {
                mm.apply(e);
            } catch (const std::exception&) {
                failures.fetch_add(1);
            }
        }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back(worker, 1234u + static_cast<unsigned>(t));
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);

    Counts expected;
    std::set<std::string> expected_open;
    for (const std::string& id : ids) {
        SCOPED_TRACE(id);
        expect_consistent(id);
        auto g = mm.get_game(id);
        if (!g) continue;
        EXPECT_LE(static_cast<std::int32_t>(g->players.size()), g->capacity);
        switch (*set_of(g->state)) {
            case GameSet::Pending: ++expected.pending; break;
            case GameSet::Lobby: ++expected.lobby; break;
            case GameSet::Active: ++expected.active; break;
        }
        if (g->is_open()) expected_open.insert(id);
    }
    EXPECT_EQ(mm.counts(), expected);
    const std::vector<Game> open = mm.get_open_games(10'000);
    std::set<std::string> open_set;
    for (const Game& g : open) open_set.insert(g.id);
    EXPECT_EQ(open_set, expected_open);
    EXPECT_EQ(open.size(), open_set.size());
}

TEST_P(StoreConformance, OpenGamesReadDuringConcurrentWritesAreAlwaysOpen) {
    constexpr int kGames = 20;
    std::vector<std::string> ids;
    for (int i = 0; i < kGames; ++i) {
        ids.push_back("r" + std::to_string(i));
        create(ids.back(), 2);
    }
    std::atomic<bool> done{false};
    std::atomic<int> bad{0};
    std::thread reader([&] {
        while (!done.load()) {
            for (const Game& g : mm_->get_open_games(100)) {
                if (!g.is_open()) bad.fetch_add(1);
            }
        }
    });
    std::thread writer([&] {
        for (int round = 0; round < 3; ++round) {
            for (const std::string& id : ids) {
                if (round == 0) apply(ev(E::CreatorJoined, id, "alice"));
                if (round == 1) apply(ev(E::PlayerJoined, id, "bob"));
                if (round == 2) apply(ev(E::PlayerLeft, id, "bob"));
            }
        }
        for (const std::string& id : ids) apply(ev(E::GameStarted, id));
        done.store(true);
    });
    writer.join();
    reader.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_TRUE(open_ids().empty());
}

// ---- order-insensitive rosters (issue 7, defect 1) ----------------------------------------

// One game's events as a server publishes them, with seqs; capacity 3 is never exceeded in
// this order (a server admits no one into a full game).
std::vector<Event> published_game(const std::string& id) {
    auto e = [&](EventType t, std::optional<std::string> p, std::int64_t seq) {
        return Event{t, id, "gs-1", std::move(p), std::nullopt, seq};
    };
    return {e(E::CreatorJoined, "alice", 1), e(E::PlayerJoined, "bob", 2),
            e(E::PlayerJoined, "carol", 3),  e(E::PlayerLeft, "bob", 4),
            e(E::PlayerJoined, "dave", 5),   e(E::PlayerLeft, "carol", 6),
            e(E::PlayerJoined, "bob", 7),    e(E::PlayerLeft, "dave", 8),
            e(E::PlayerJoined, "erin", 9),   e(E::PlayerLeft, "erin", 10),
            e(E::PlayerJoined, "carol", 11)};
}

TEST_P(StoreConformance, RostersConvergeToThePublishOrderWhateverTheDeliveryOrder) {
    // Capacity 3: joins overtake the leaves that freed their seats, joins overtake the
    // creator's join, and a stale join arrives after the leave that undid it.
    set_now(kT0);
    create("ref", 3);
    for (const Event& e : published_game("ref")) apply(e);
    const Game reference = *mm_->get_game("ref");
    ASSERT_EQ(reference.players, (std::vector<std::string>{"alice", "bob", "carol"}));
    std::mt19937 rng(7);
    for (int round = 0; round < 60; ++round) {
        const std::string id = "g" + std::to_string(round);
        create(id, 3);
        std::vector<Event> events = published_game(id);
        std::shuffle(events.begin(), events.end(), rng);
        if (round % 2 == 1) {  // redeliveries on top
            const std::vector<Event> again(events.begin(), events.begin() + 4);
            events.insert(events.end(), again.begin(), again.end());
        }
        for (const Event& e : events) {
            const ApplyResult r = apply(e);
            EXPECT_NE(r.status, A::Rejected) << id << " " << to_string(e.type) << ": " << r.reason;
        }
        const Game g = *mm_->get_game(id);
        EXPECT_EQ(g.players, reference.players) << id;
        EXPECT_TRUE(g.held.empty()) << id;
        EXPECT_EQ(g.state, S::CreatorJoined) << id;
        expect_consistent(id);
    }
}

TEST_P(StoreConformance, ACreatorJoinOvertakenByTheStartStillSeatsTheCreatorOnce) {
    create("g1", 4);
    ASSERT_EQ(apply(ev(E::PlayerJoined, "g1", "bob", 2)).status, A::Applied);
    ASSERT_EQ(apply(ev(E::GameStarted, "g1", {}, 3)).status, A::Applied);
    const ApplyResult late = apply(ev(E::CreatorJoined, "g1", "alice", 1));
    EXPECT_EQ(late.status, A::Applied);
    EXPECT_EQ(late.state, S::InProgress);
    EXPECT_EQ(mm_->get_game("g1")->players, (std::vector<std::string>{"alice", "bob"}));
    ASSERT_EQ(apply(ev(E::PlayerLeft, "g1", "alice")).status, A::Applied);
    EXPECT_EQ(apply(ev(E::CreatorJoined, "g1", "alice")).status, A::Duplicate) << "a replay";
    EXPECT_EQ(mm_->get_game("g1")->players, (std::vector<std::string>{"bob"}));
    expect_consistent("g1");
}

TEST_P(StoreConformance, AJoinBeforeTheCreatorsJoinKeepsTheCreatorsSeat) {
    create("g1", 2);
    ASSERT_EQ(apply(ev(E::PlayerJoined, "g1", "bob", 2)).status, A::Applied);
    EXPECT_EQ(apply(ev(E::PlayerJoined, "g1", "carol", 3)).reason, "held until a seat frees");
    ASSERT_EQ(apply(ev(E::CreatorJoined, "g1", "alice", 1)).status, A::Applied);
    const Game g = *mm_->get_game("g1");
    EXPECT_EQ(g.players, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_EQ(g.held, (std::vector<std::pair<std::string, std::int64_t>>{{"carol", 3}}));
    EXPECT_TRUE(open_ids().empty());
}

// ---- bounded records (issue 7, defect 6) --------------------------------------------------

TEST_P(StoreConformance, SeqsOfPlayersWhoAreNotSeatedAreBoundedPerGame) {
    bring_to("g1", S::CreatorJoined);
    std::vector<Event> leaves;
    for (int i = 0; i < 2'000; ++i) {
        leaves.push_back(ev(E::PlayerLeft, "g1", "ghost" + std::to_string(i), 100 + i));
    }
    for (const ApplyResult& r : mm_->apply_many(leaves)) ASSERT_EQ(r.status, A::Applied);
    const Game g = *mm_->get_game("g1");
    EXPECT_EQ(g.player_seqs.size(), kMaxAbsentPlayerSeqs);
    EXPECT_EQ(g.seq_floor, 100 + 2'000 - static_cast<std::int64_t>(kMaxAbsentPlayerSeqs) - 1);
    // A forgotten player's stale join is refused (dead-lettered), never seated.
    const ApplyResult stale = apply(ev(E::PlayerJoined, "g1", "ghost5", 50));
    EXPECT_EQ(stale.status, A::Rejected);
    EXPECT_EQ(stale.reason, "seq too old");
    // A remembered one is still a duplicate; a new join lands.
    EXPECT_EQ(apply(ev(E::PlayerJoined, "g1", "ghost1999", 2'099)).status, A::Duplicate);
    EXPECT_EQ(apply(ev(E::PlayerJoined, "g1", "bob", 5'000)).status, A::Applied);
    EXPECT_EQ(open_ids(), std::vector<std::string>{"g1"});
}

// ---- reaping never loses a game (issue 7, defect 2) ---------------------------------------

// Damage as a failover can leave it: the record of `id` gone, its set entries kept.
void drop_record_only(Store& store, const std::string& id) {
    const std::string key = id;
    const StoredGame stored = store.backend()->read(std::span(&key, 1)).at(0);
    ASSERT_TRUE(stored.slot.game);
    GameWrite w;
    w.id = id;
    w.expect_revision = stored.revision;
    ASSERT_TRUE(store.backend()->commit(std::span(&w, 1)).at(0));
}

TEST_P(StoreConformance, ReapSkipsAndReportsEntriesWithoutARecordAndReturnsEveryRemovedGame) {
    for (int i = 0; i < 5; ++i) bring_to("g" + std::to_string(i), S::Created);
    drop_record_only(*store_, "g2");
    const std::vector<Game> reaped = mm_->reap(kT0 + 10'000);
    std::vector<std::string> ids;
    for (const Game& g : reaped) ids.push_back(g.id);
    EXPECT_EQ(ids, (std::vector<std::string>{"g0", "g1", "g3", "g4"}));
    EXPECT_EQ(mm_->counts(), (Counts{0, 0, 0})) << "the orphan entry is removed";
    EXPECT_EQ(store_->metrics()->value(labelled(metric::kOrphansTotal, {{"set", "pending"}})), 1);
    EXPECT_TRUE(mm_->reap(kT0 + 20'000).empty());
    // Each removal is in the reaped stream, written by the same atomic step.
    const auto entries = store_->streams()->range(store_->reaped_stream());
    ASSERT_EQ(entries.size(), 4u);
    std::map<std::string, std::string> first(entries[0].fields.begin(), entries[0].fields.end());
    EXPECT_EQ(first.at("game_id"), "g0");
    EXPECT_EQ(first.at("server_id"), "gs-1");
    EXPECT_EQ(first.at("state"), "created");
    EXPECT_EQ(first.at("set"), "pending");
    EXPECT_EQ(first.at("score"), std::to_string(kT0));
    EXPECT_EQ(first.at("reaped_at"), std::to_string(kT0 + 10'000));
    Game doc;
    from_json(nlohmann::json::parse(first.at("game")), doc);
    EXPECT_EQ(doc, reaped[0]);
}

TEST_P(StoreConformance, AnEntryWithoutARecordReadsAsNoGameUntilARecordOfItsIdTakesItOver) {
    bring_to("g1", S::Created);
    bring_to("g2", S::Created);
    drop_record_only(*store_, "g2");
    const std::string pending(to_string(GameSet::Pending));
    const auto scan = [&] {
        return store_->backend()->scan(pending, std::numeric_limits<std::int64_t>::max(),
                                       std::nullopt, 10);
    };
    auto entries = scan();
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[1].id, "g2");
    EXPECT_FALSE(entries[1].stored.slot.game) << "listed, with no record";
    EXPECT_EQ(entries[1].stored.revision, 0);
    create("g2");  // no tombstone was left: the id is free
    entries = scan();
    ASSERT_EQ(entries.size(), 2u);
    ASSERT_TRUE(entries[1].stored.slot.game);
    EXPECT_EQ(entries[1].stored.slot.game->id, "g2");
    const std::string g2 = "g2";
    EXPECT_EQ(entries[1].stored.revision, store_->backend()->read(std::span(&g2, 1)).at(0).revision);
    ASSERT_EQ(apply(ev(E::CreatorJoined, "g2", "alice")).status, A::Applied);
    EXPECT_EQ(open_ids(), std::vector<std::string>{"g2"}) << "its entry moved with its record";
    EXPECT_EQ(scan().size(), 1u);
}

TEST_P(StoreConformance, ConcurrentJanitorsReapEachGameExactlyOnce) {
    for (int i = 0; i < 300; ++i) bring_to("g" + std::to_string(i), S::CreatorJoined);
    std::vector<std::vector<Game>> got(4);
    {
        std::vector<std::jthread> janitors;
        for (int j = 0; j < 4; ++j) {
            janitors.emplace_back([&, j] {
                ConnectOptions small = options_;
                small.reap_batch = 7;
                Matchmaker mm(store_, small, [] { return kT0 + 10'000; });
                got[j] = mm.reap();
            });
        }
    }
    std::multiset<std::string> all;
    for (const auto& v : got) for (const Game& g : v) all.insert(g.id);
    EXPECT_EQ(all.size(), 300u);
    EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 300u) << "none twice";
    EXPECT_EQ(store_->streams()->range(store_->reaped_stream()).size(), 300u);
    EXPECT_EQ(mm_->counts(), (Counts{0, 0, 0}));
}

// ---- the reaped feed (SPEC section 7) ------------------------------------------------------

TEST_P(StoreConformance, TheReapedFeedDeliversEveryReapedGameUntilAcknowledged) {
    for (int i = 0; i < 3; ++i) bring_to("g" + std::to_string(i), S::CreatorJoined);
    const std::vector<Game> reaped = mm_->reap(kT0 + 10'000);
    ASSERT_EQ(reaped.size(), 3u);
    ReapedFeed feed = mm_->reaped_feed();
    auto items = feed.poll(10, 0);
    ASSERT_EQ(items.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(items[i].game, reaped[i]);
        EXPECT_EQ(items[i].set, GameSet::Lobby);
        EXPECT_EQ(items[i].score, kT0);
        EXPECT_EQ(items[i].reaped_at, kT0 + 10'000);
    }
    // Not acknowledged: delivered again, to this reader, before anything new.
    auto again = feed.poll(10, 0);
    ASSERT_EQ(again.size(), 3u);
    EXPECT_EQ(again[0].entry_id, items[0].entry_id);
    EXPECT_EQ(feed.ack({items[0].entry_id, items[1].entry_id}), 2);
    again = feed.poll(10, 0);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].game.id, "g2");
    EXPECT_EQ(feed.ack({again[0].entry_id}), 1);
    EXPECT_TRUE(feed.poll(10, 0).empty());
    bring_to("late", S::Created);
    ASSERT_EQ(mm_->reap(kT0 + 20'000).size(), 1u);
    items = feed.poll(10, 0);
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].game.id, "late");
    EXPECT_EQ(items[0].set, GameSet::Pending);
}

TEST_P(StoreConformance, TheReapedStreamKeepsOnlyWhatSomeGroupHasNotAcknowledged) {
    for (const char* id : {"g1", "g2", "g3"}) bring_to(id, S::Created);
    ASSERT_EQ(mm_->reap(kT0 + 10'000).size(), 3u);
    auto streams = store_->streams();
    const std::string stream = store_->reaped_stream();
    ReapedFeed deleter = mm_->reaped_feed({"deleter", "d", 30'000, 1'000});
    ReapedFeed audit = mm_->reaped_feed({"audit", "a", 30'000, 0});
    const auto checked = audit.poll(1, 0);
    ASSERT_EQ(audit.ack({checked.at(0).entry_id}), 1);
    EXPECT_EQ(streams->length(stream), 3) << "trim_interval_ms 0: its ack trims nothing";
    std::vector<std::string> ids;
    for (const auto& r : deleter.poll(10, 0)) ids.push_back(r.entry_id);
    ASSERT_EQ(deleter.ack(ids), 3);  // a feed's first ack trims at once
    EXPECT_EQ(streams->length(stream), 2) << "only what both groups acknowledged";
    EXPECT_EQ(audit.trim_acknowledged(), 0);
    const auto rest = audit.poll(10, 0);
    ASSERT_EQ(rest.size(), 2u) << "nothing the audit group still needs was removed";
    EXPECT_EQ(audit.trim_acknowledged(), 0) << "read, not acknowledged";
    audit.ack({rest[0].entry_id, rest[1].entry_id});
    EXPECT_EQ(audit.trim_acknowledged(), 2);
    EXPECT_EQ(streams->length(stream), 0);
    EXPECT_THROW(mm_->reaped_feed({"deleter", "d", 30'000, -1}), InvalidArgument);
}

TEST_P(StoreConformance, UnreadTheReapedStreamKeepsItsNewestRetentionEntriesAndCountsTheRest) {
    ConnectOptions small = options_;
    small.reaped_retention = 5;
    auto store = GetParam().open(small, "");
    Matchmaker mm(store, small, [c = clock_] { return c->load(); });
    auto create_at = [&](const std::string& id, std::int64_t t) {
        set_now(t);
        mm.create_game(request("alice", 2, "gs-1", id));
    };
    for (int i = 0; i < 12; ++i) create_at("g" + std::to_string(i), kT0 + i);
    set_now(kT0 + 10'000);
    ASSERT_EQ(mm.reap().size(), 12u) << "every game is reaped and reported";
    const std::string stream = store->reaped_stream();
    std::vector<std::string> kept;
    for (const auto& e : store->streams()->range(stream)) {
        for (const auto& [f, v] : e.fields) {
            if (f == "game_id") kept.push_back(v);
        }
    }
    EXPECT_EQ(kept, (std::vector<std::string>{"g7", "g8", "g9", "g10", "g11"})) << "the newest stay";
    EXPECT_EQ(store->metrics()->value(metric::kReapedDroppedTotal), 7);
    // Once a reaped feed reads the stream, only its acknowledgements trim it.
    ReapedFeed feed = mm.reaped_feed({"deleter", "d", 30'000, 0});
    for (int i = 0; i < 4; ++i) create_at("h" + std::to_string(i), kT0 + 20'000 + i);
    set_now(kT0 + 40'000);
    ASSERT_EQ(mm.reap().size(), 4u);
    EXPECT_EQ(store->streams()->length(stream), 9);
    EXPECT_EQ(store->metrics()->value(metric::kReapedDroppedTotal), 7);
    EXPECT_EQ(feed.poll(100, 0).size(), 9u) << "the feed gets every entry kept";
}

TEST_P(StoreConformance, AReaderTakesOverWhatACrashedReaderLeftUnacknowledged) {
    bring_to("g1", S::Created);
    ASSERT_EQ(mm_->reap(kT0 + 10'000).size(), 1u);
    ReapedFeed crashed = mm_->reaped_feed({"deleter", "a", 1});
    ASSERT_EQ(crashed.poll(10, 0).size(), 1u);  // read, never acknowledged
    ReapedFeed other = mm_->reaped_feed({"deleter", "b", 1});
    std::vector<Reaped> got;
    ASSERT_TRUE(testing::wait_until([&] {
        got = other.poll(10, 0);
        return !got.empty();
    }));
    EXPECT_EQ(got[0].game.id, "g1");
    EXPECT_EQ(other.ack({got[0].entry_id}), 1);
}

// ---- seats, quick join, filters, paging (SPEC section 7) ------------------------------------

class Seats : public StoreConformance {
protected:
    void SetUp() override {
        StoreConformance::SetUp();
        options_.filter_keys = {"mode", "region"};
        store_ = GetParam().open(options_, "");
        mm_ = std::make_unique<Matchmaker>(store_, options_, [c = clock_] { return c->load(); });
        set_now(kT0);
    }

    Game lobby_game(const std::string& id, std::int32_t capacity, Metadata metadata) {
        Game g = mm_->create_game(request("alice", capacity, "gs-1", id, std::move(metadata)));
        EXPECT_EQ(apply(ev(E::CreatorJoined, id, "alice")).status, A::Applied);
        return g;
    }

    static std::string reason_of(const std::function<void()>& call) {
        try {
            call();
        } catch (const SeatUnavailable& e) {
            return e.reason();
        }
        return "no refusal";
    }

    // Entries of an open index and of its reserved twin.
    std::pair<std::int64_t, std::int64_t> open_and_reserved(const std::string& open_index) {
        const auto n = store_->backend()->sizes(
            std::vector<std::string>{open_index, reserved_twin(open_index)});
        return {n.at(0), n.at(1)};
    }

    // The revision of a live game: bumped by every write of it.
    std::int64_t revision(const std::string& id) {
        return store_->backend()->read(std::span(&id, 1)).at(0).revision;
    }

    static std::vector<std::string> ids(const std::vector<Game>& games) {
        std::vector<std::string> out;
        for (const auto& g : games) out.push_back(g.id);
        return out;
    }

    // Every game open_games_page lists, page by page (stopping past `at_most`).
    std::vector<std::string> walk(std::size_t limit, const Filters& filters = {},
                                  std::size_t at_most = 1'000) {
        std::vector<std::string> seen;
        std::optional<std::string> cursor;
        do {
            const OpenGamesPage page = mm_->open_games_page(limit, filters, 1, cursor);
            for (const auto& g : page.games) seen.push_back(g.id);
            cursor = page.next_cursor;
        } while (cursor && seen.size() <= at_most);
        return seen;
    }
};

using Strings = std::vector<std::string>;
using Sizes = std::pair<std::int64_t, std::int64_t>;

TEST_P(Seats, AReservationTakesASeatUntilItExpiresWithNoJanitor) {
    lobby_game("g1", 3, {{"mode", "duel"}});
    const Reservation r = mm_->reserve_seat("g1", "bob", 1'000);
    EXPECT_EQ(r, (Reservation{"g1", "bob", kT0 + 1'000}));
    EXPECT_EQ(mm_->get_game("g1")->free_seats(), 1);
    EXPECT_EQ(mm_->get_game("g1")->reservations, (std::map<std::string, std::int64_t>{{"bob", kT0 + 1'000}}));
    mm_->reserve_seat("g1", "carol", 1'000);
    EXPECT_TRUE(open_ids().empty()) << "every free seat is reserved";
    EXPECT_EQ(reason_of([&] { mm_->reserve_seat("g1", "dave"); }), "full");
    set_now(kT0 + 1'000);  // both expire: the seats are free again, nothing was written
    EXPECT_EQ(open_ids(), std::vector<std::string>{"g1"});
    EXPECT_TRUE(mm_->get_game("g1")->reservations.empty());
    EXPECT_EQ(mm_->get_game("g1")->free_seats(), 2);
    EXPECT_NO_THROW(mm_->reserve_seat("g1", "dave"));
}

TEST_P(Seats, ReservingAgainRefreshesAndTakesNoSecondSeat) {
    lobby_game("g1", 2, {});
    mm_->reserve_seat("g1", "bob", 1'000);
    set_now(kT0 + 500);
    EXPECT_EQ(mm_->reserve_seat("g1", "bob", 1'000).expires_at, kT0 + 1'500);
    EXPECT_EQ(mm_->get_game("g1")->free_seats(), 0);
    EXPECT_EQ(mm_->get_game("g1")->reservations.size(), 1u);
}

TEST_P(Seats, RefusalsSayWhyAndChangeNothing) {
    bring_to("created", S::Created);
    set_now(kT0);
    lobby_game("g1", 2, {});
    const Game before = *mm_->get_game("g1");
    EXPECT_EQ(reason_of([&] { mm_->reserve_seat("created", "bob"); }), "not open");
    EXPECT_EQ(reason_of([&] { mm_->reserve_seat("g1", "alice"); }), "already joined");
    EXPECT_THROW(mm_->reserve_seat("nope", "bob"), GameNotFound);
    EXPECT_THROW(mm_->reserve_seat("g1", "bob", 0), InvalidArgument);
    EXPECT_THROW(mm_->reserve_seat("g1", "bob", 10 * 60 * 1000 + 1), InvalidArgument);
    EXPECT_THROW(mm_->reserve_seat("g1", "bad id"), InvalidArgument);
    EXPECT_EQ(mm_->get_game("g1"), before);
    apply(ev(E::PlayerJoined, "g1", "bob"));
    EXPECT_EQ(reason_of([&] { mm_->reserve_seat("g1", "carol"); }), "full");
}

TEST_P(Seats, AJoinConsumesItsReservationAndAnUnreservedJoinCannotTakeAReservedSeat) {
    lobby_game("g1", 3, {});
    mm_->reserve_seat("g1", "bob");
    mm_->reserve_seat("g1", "carol");
    const ApplyResult stranger = apply(ev(E::PlayerJoined, "g1", "zed"));
    EXPECT_EQ(stranger.status, A::Rejected);
    EXPECT_EQ(stranger.reason, "game is full");
    EXPECT_EQ(apply(ev(E::PlayerJoined, "g1", "bob")).status, A::Applied);
    const Game g = *mm_->get_game("g1");
    EXPECT_EQ(g.players, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_EQ(g.reservations, (std::map<std::string, std::int64_t>{{"carol", kT0 + 15'000}}));
    EXPECT_EQ(g.free_seats(), 0);
}

TEST_P(Seats, CancellingFreesTheSeatOnce) {
    lobby_game("g1", 2, {});
    mm_->reserve_seat("g1", "bob");
    EXPECT_TRUE(mm_->cancel_reservation("g1", "bob"));
    EXPECT_FALSE(mm_->cancel_reservation("g1", "bob"));
    EXPECT_FALSE(mm_->cancel_reservation("nope", "bob"));
    EXPECT_EQ(mm_->get_game("g1")->free_seats(), 1);
}

TEST_P(Seats, QuickJoinTakesTheOldestMatchingGameWithASeat) {
    lobby_game("full", 2, {{"mode", "duel"}});
    apply(ev(E::PlayerJoined, "full", "x"));
    set_now(kT0 + 1);
    lobby_game("other", 4, {{"mode", "ffa"}});
    set_now(kT0 + 2);
    lobby_game("duel1", 2, {{"mode", "duel"}, {"region", "eu"}});
    set_now(kT0 + 3);
    lobby_game("duel2", 2, {{"mode", "duel"}, {"region", "us"}});
    auto r = mm_->quick_join("p1", {{"mode", "duel"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->game_id, "duel1");
    r = mm_->quick_join("p2", {{"mode", "duel"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->game_id, "duel2");
    EXPECT_FALSE(mm_->quick_join("p3", {{"mode", "duel"}}));
    r = mm_->quick_join("p4", {{"region", "us"}, {"mode", "duel"}});
    EXPECT_FALSE(r) << "duel2's only seat is reserved";
    r = mm_->quick_join("p5");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->game_id, "other");
    EXPECT_THROW(mm_->quick_join("p6", {{"level", 3}}), InvalidArgument) << "not a filter key";
}

TEST_P(Seats, ConcurrentQuickJoinsHandOutEachSeatExactlyOnce) {
    for (int i = 0; i < 10; ++i) lobby_game("g" + std::to_string(i), 3, {{"mode", "duel"}});
    std::vector<std::vector<Reservation>> got(4);
    {
        std::vector<std::jthread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t] {
                for (int k = 0; k < 10; ++k) {
                    auto r = mm_->quick_join("t" + std::to_string(t) + "-" + std::to_string(k),
                                             {{"mode", "duel"}});
                    if (r) got[t].push_back(*r);
                }
            });
        }
    }
    std::map<std::string, int> per_game;
    std::size_t total = 0;
    for (const auto& v : got) {
        total += v.size();
        for (const auto& r : v) ++per_game[r.game_id];
    }
    EXPECT_EQ(total, 20u) << "10 games x 2 free seats";
    for (const auto& [id, n] : per_game) EXPECT_EQ(n, 2) << id;
    for (int i = 0; i < 10; ++i) {
        const Game g = *mm_->get_game("g" + std::to_string(i));
        EXPECT_EQ(g.players.size() + g.reservations.size(), 3u);
    }
}

TEST_P(Seats, FiltersAndMinFreeSeatsSelectOpenGames) {
    lobby_game("a", 4, {{"mode", "duel"}, {"ranked", true}});
    set_now(kT0 + 1);
    lobby_game("b", 2, {{"mode", "duel"}, {"ranked", false}});
    set_now(kT0 + 2);
    lobby_game("c", 4, {{"mode", "ffa"}, {"level", 3}});
    auto ids = [](const std::vector<Game>& games) {
        std::vector<std::string> out;
        for (const auto& g : games) out.push_back(g.id);
        return out;
    };
    EXPECT_EQ(ids(mm_->get_open_games(50, {{"mode", "duel"}})), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(ids(mm_->get_open_games(50, {{"mode", "duel"}}, 2)), std::vector<std::string>{"a"});
    EXPECT_EQ(ids(mm_->get_open_games(50, {}, 3)), (std::vector<std::string>{"a", "c"}));
    EXPECT_EQ(ids(mm_->get_open_games(50, {{"mode", "\"duel\""}})), std::vector<std::string>{});
    mm_->reserve_seat("a", "x");
    mm_->reserve_seat("a", "y");
    EXPECT_EQ(ids(mm_->get_open_games(50, {{"mode", "duel"}}, 2)), std::vector<std::string>{})
        << "reservations count";
    apply(ev(E::GameStarted, "b"));
    EXPECT_EQ(ids(mm_->get_open_games(50, {{"mode", "duel"}})), std::vector<std::string>{"a"});
    EXPECT_THROW(mm_->get_open_games(50, {{"level", 3}}), InvalidArgument) << "not declared";
    EXPECT_THROW(mm_->get_open_games(50, {}, 0), InvalidArgument);
}

TEST_P(Seats, TheNamespaceKeepsItsFilterKeysWhoeverWrites) {
    ConnectOptions with_keys = options_;
    with_keys.ns = unique_namespace();
    with_keys.filter_keys = std::vector<std::string>{"mode"};
    ConnectOptions without = with_keys;
    without.filter_keys.reset();
    const std::string shared = "fk-" + with_keys.ns;
    auto a = GetParam().open(with_keys, shared);
    auto b = GetParam().open(without, shared);  // e.g. `game-data consume`, given no keys
    EXPECT_EQ(a->filter_keys(), std::vector<std::string>{"mode"});
    EXPECT_EQ(b->filter_keys(), std::vector<std::string>{"mode"}) << "adopted";
    Game g;
    g.id = "g1";
    g.creator_id = "alice";
    g.capacity = 2;
    g.server_id = "gs-1";
    g.metadata = {{"mode", "duel"}};
    a->create_game(g, kT0);
    ASSERT_EQ(b->apply(ev(E::CreatorJoined, "g1", "alice"), kT0 + 1).status, A::Applied);
    auto page = a->open_games_page(50, {{"mode", "duel"}}, 1, std::nullopt, kT0 + 2);
    ASSERT_EQ(page.games.size(), 1u);
    ASSERT_EQ(b->apply(ev(E::GameStarted, "g1"), kT0 + 3).status, A::Applied);
    EXPECT_TRUE(a->open_games_page(50, {{"mode", "duel"}}, 1, std::nullopt, kT0 + 4).games.empty());
    EXPECT_EQ(a->backend()->sizes(std::vector<std::string>{filter_index("mode", "\"duel\"")}).at(0), 0)
        << "the writer without keys still left the filter index";
    ConnectOptions other = with_keys;
    other.filter_keys = std::vector<std::string>{"region"};
    EXPECT_THROW(GetParam().open(other, shared)->filter_keys(), InvalidArgument);
}

// Issue 16, defect 1: a writer that connected before the namespace's keys were declared (what
// `game-data consume` does) keeps the filter indexes right from the next commit on, and games
// opened before the declaration enter the filter indexes when the keys are declared.
TEST_P(Seats, AWriterThatConnectedBeforeTheKeysWereDeclaredKeepsTheFilterIndexesRight) {
    ConnectOptions without = options_;
    without.ns = unique_namespace();
    without.filter_keys.reset();
    ConnectOptions with_keys = without;
    with_keys.filter_keys = std::vector<std::string>{"mode"};
    const std::string shared = "fk-early-" + without.ns;
    auto daemon = GetParam().open(without, shared);
    EXPECT_TRUE(daemon->filter_keys().empty()) << "nothing declared yet";
    auto game = [](const std::string& id) {
        Game g;
        g.id = id;
        g.creator_id = "alice";
        g.capacity = 2;
        g.server_id = "gs-1";
        g.metadata = {{"mode", "duel"}};
        return g;
    };
    daemon->create_game(game("before"), kT0);
    ASSERT_EQ(daemon->apply(ev(E::CreatorJoined, "before", "alice"), kT0 + 1).status, A::Applied);

    auto app = GetParam().open(with_keys, shared);
    EXPECT_EQ(app->filter_keys(), std::vector<std::string>{"mode"});
    const std::string duel = filter_index("mode", "\"duel\"");
    auto filtered = [&](std::int64_t t) {
        std::vector<std::string> out;
        for (const auto& g : app->open_games_page(50, {{"mode", "duel"}}, 1, std::nullopt, t).games) {
            out.push_back(g.id);
        }
        return out;
    };
    EXPECT_EQ(filtered(kT0 + 2), Strings{"before"}) << "indexed when the keys were declared";

    daemon->create_game(game("after"), kT0 + 3);
    ASSERT_EQ(daemon->apply(ev(E::CreatorJoined, "after", "alice"), kT0 + 4).status, A::Applied);
    EXPECT_EQ(filtered(kT0 + 5), (Strings{"before", "after"}));
    auto r = app->quick_join("bob", {{"mode", "duel"}}, 15'000, kT0 + 6);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->game_id, "before");
    EXPECT_EQ(daemon->filter_keys(), std::vector<std::string>{"mode"}) << "read again";

    ASSERT_EQ(daemon->apply(ev(E::GameEnded, "after"), kT0 + 7).status, A::Applied);
    ASSERT_EQ(daemon->apply(ev(E::GameStarted, "before"), kT0 + 8).status, A::Applied);
    EXPECT_EQ(app->backend()->sizes(Strings{duel, reserved_twin(duel)}), (std::vector<std::int64_t>{0, 0}))
        << "the daemon left the filter indexes it was never told of";
}

// Issue 16, defect 2: an empty declaration is none; it never locks the namespace.
TEST_P(Seats, AnEmptyDeclarationIsNoDeclaration) {
    ConnectOptions empty = options_;
    empty.ns = unique_namespace();
    empty.filter_keys = std::vector<std::string>{};
    ConnectOptions with_keys = empty;
    with_keys.filter_keys = std::vector<std::string>{"mode"};
    const std::string shared = "fk-empty-" + empty.ns;
    auto first = GetParam().open(empty, shared);
    EXPECT_TRUE(first->filter_keys().empty());
    auto app = GetParam().open(with_keys, shared);
    EXPECT_EQ(app->filter_keys(), std::vector<std::string>{"mode"});
    EXPECT_EQ(GetParam().open(empty, shared)->filter_keys(), std::vector<std::string>{"mode"})
        << "an empty declaration adopts";
}

// Issue 16, defect 7: a player holds one live seat in a namespace, so a retried quick_join
// returns the seat the first call took instead of taking a second one.
TEST_P(Seats, ARetriedQuickJoinReturnsTheSeatAlreadyHeld) {
    lobby_game("a", 2, {{"mode", "duel"}});  // one free seat
    set_now(kT0 + 1);
    lobby_game("b", 2, {{"mode", "duel"}});
    set_now(kT0 + 2);
    const auto first = mm_->quick_join("bob", {{"mode", "duel"}});
    ASSERT_TRUE(first);
    EXPECT_EQ(first->game_id, "a");
    set_now(kT0 + 3);
    const auto retry = mm_->quick_join("bob", {{"mode", "duel"}});
    ASSERT_TRUE(retry);
    EXPECT_EQ(*retry, *first) << "the seat held, not one in game b";
    EXPECT_TRUE(mm_->get_game("b")->reservations.empty());
    EXPECT_EQ(mm_->quick_join("bob")->game_id, "a") << "no filters: a matches";
    lobby_game("ffa", 3, {{"mode", "ffa"}});
    EXPECT_EQ(reason_of([&] { mm_->quick_join("bob", {{"mode", "ffa"}}); }), "reserved elsewhere")
        << "a seat that does not match the search";
    EXPECT_TRUE(mm_->get_game("ffa")->reservations.empty());
    EXPECT_EQ(reason_of([&] { mm_->reserve_seat("b", "bob"); }), "reserved elsewhere");
    EXPECT_TRUE(mm_->get_game("b")->reservations.empty());
    EXPECT_EQ(mm_->reserve_seat("a", "bob", 1'000).expires_at, kT0 + 3 + 1'000) << "a refresh";
    EXPECT_NO_THROW(mm_->reserve_seat("b", "bob", 1'000, /*exclusive=*/false));
    EXPECT_TRUE(mm_->cancel_reservation("b", "bob"));

    // The seat lets go when the reservation is cancelled, taken up, lapses or its game ends.
    ASSERT_TRUE(mm_->cancel_reservation("a", "bob"));
    EXPECT_EQ(mm_->reserve_seat("b", "bob").game_id, "b");
    ASSERT_EQ(apply(ev(E::PlayerJoined, "b", "bob")).status, A::Applied);
    EXPECT_EQ(mm_->reserve_seat("a", "bob", 1'000).game_id, "a") << "b's seat was taken up";
    set_now(kT0 + 3 + 1'000);
    lobby_game("c", 3, {});
    EXPECT_EQ(mm_->reserve_seat("c", "bob").game_id, "c") << "a's lapsed";
    ASSERT_EQ(apply(ev(E::GameEnded, "c")).status, A::Applied);
    ASSERT_EQ(apply(ev(E::GameStarted, "ffa")).status, A::Applied);
    EXPECT_EQ(mm_->quick_join("bob")->game_id, "a") << "c ended: its seat went with it";
}

TEST_P(Seats, ARetryAfterTheOnlyOpenGameFilledReturnsTheSeatTaken) {
    lobby_game("only", 2, {});  // bob takes its last seat: no open game is left
    const auto first = mm_->quick_join("bob");
    ASSERT_TRUE(first);
    EXPECT_TRUE(open_ids().empty());
    EXPECT_EQ(mm_->quick_join("bob"), first);
    EXPECT_FALSE(mm_->quick_join("carol")) << "nothing for anyone else";
    set_now(first->expires_at);
    EXPECT_EQ(mm_->quick_join("bob")->expires_at, first->expires_at + 15'000) << "lapsed: a new one";
}

TEST_P(Seats, AGameThatEndsLetsGoOfSeatsLapsedByItsClockButLiveByAnother) {
    lobby_game("a", 4, {});
    const auto first = mm_->quick_join("bob");
    ASSERT_TRUE(first);
    const std::int64_t earlier = first->expires_at - 1'000;
    set_now(first->expires_at + 1);  // the writer ending "a" sees bob's seat lapsed
    ASSERT_EQ(apply(ev(E::GameEnded, "a")).status, A::Applied);
    set_now(earlier);  // a process whose clock is behind: by it, that seat would still be live
    lobby_game("b", 4, {});
    const auto second = mm_->quick_join("bob");
    ASSERT_TRUE(second) << "the seat in the ended game is gone, whatever the clock";
    EXPECT_EQ(second->game_id, "b");
}

TEST_P(Seats, ConcurrentQuickJoinsOfOnePlayerTakeOneSeat) {
    for (int i = 0; i < 8; ++i) lobby_game("g" + std::to_string(i), 2, {});
    std::vector<Reservation> got(4);
    {
        std::vector<std::jthread> threads;
        for (int t = 0; t < 4; ++t) threads.emplace_back([&, t] { got[t] = *mm_->quick_join("bob"); });
    }
    for (const auto& r : got) EXPECT_EQ(r, got[0]);
    int held = 0;
    for (int i = 0; i < 8; ++i) held += static_cast<int>(mm_->get_game("g" + std::to_string(i))->reservations.size());
    EXPECT_EQ(held, 1);
}

TEST_P(Seats, PagesOfGamesWithTheSameScoreFollowTheirIdsBytes) {
    // Ids that sort differently under a locale's collation than by their bytes.
    const std::vector<std::string> ids = {"a", "B", "_c", "-d", ".e", "Z9", "g-2", "g1", "g_3", "G1"};
    for (const auto& id : ids) lobby_game(id, 2, {});
    std::vector<std::string> seen;
    std::optional<std::string> cursor;
    do {
        const OpenGamesPage page = mm_->open_games_page(1, {}, 1, cursor);
        for (const auto& g : page.games) seen.push_back(g.id);
        cursor = page.next_cursor;
    } while (cursor && seen.size() <= ids.size());
    std::vector<std::string> bytes = ids;
    std::sort(bytes.begin(), bytes.end());
    EXPECT_EQ(seen, bytes);
}

TEST_P(Seats, PagingWalksEveryOpenGameOnceWhileGamesAreAdded) {
    for (int i = 0; i < 25; ++i) {
        set_now(kT0 + i);
        lobby_game("g" + std::to_string(100 + i), 2, {{"mode", "duel"}});
    }
    std::vector<std::string> seen;
    std::optional<std::string> cursor;
    int pages = 0;
    do {
        const OpenGamesPage page = mm_->open_games_page(7, {{"mode", "duel"}}, 1, cursor);
        for (const auto& g : page.games) seen.push_back(g.id);
        cursor = page.next_cursor;
        set_now(kT0 + 1'000 + pages);  // newer games arrive while paging
        lobby_game("new" + std::to_string(pages), 2, {{"mode", "duel"}});
        ++pages;
    } while (cursor && pages < 20);
    std::vector<std::string> want;
    for (int i = 0; i < 25; ++i) want.push_back("g" + std::to_string(100 + i));
    ASSERT_GE(seen.size(), 25u);
    EXPECT_EQ(std::vector<std::string>(seen.begin(), seen.begin() + 25), want);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size()) << "none twice";
    EXPECT_FALSE(cursor) << "the last page has no cursor";
    for (const char* bad : {"", "x", "c1-", "c1-12", "c1-abc-g1", "c1-12-bad id"}) {
        EXPECT_THROW(mm_->open_games_page(7, {}, 1, std::string(bad)), InvalidArgument) << bad;
    }
}

TEST_P(Seats, AFullyReservedGameLeavesTheOpenIndexesAndComesBackAtItsPlaceWithNoWrite) {
    const std::string duel = filter_index("mode", "\"duel\"");
    const Filters by_mode = {{"mode", "duel"}};
    lobby_game("old", 2, {{"mode", "duel"}});
    set_now(kT0 + 1);
    lobby_game("mid", 3, {{"mode", "duel"}});
    set_now(kT0 + 2);
    lobby_game("new", 2, {{"mode", "duel"}});
    set_now(kT0 + 10);
    mm_->reserve_seat("mid", "bob", 2'000);
    EXPECT_EQ(open_and_reserved(duel), (Sizes{3, 0})) << "a seat is still free";
    mm_->reserve_seat("mid", "carol", 1'000);
    EXPECT_EQ(open_and_reserved(std::string(kOpenIndex)), (Sizes{2, 1}));
    EXPECT_EQ(open_and_reserved(duel), (Sizes{2, 1}));
    EXPECT_EQ(ids(mm_->get_open_games(10, by_mode)), (Strings{"old", "new"}));
    const std::int64_t rev = revision("mid");

    set_now(kT0 + 10 + 999);
    EXPECT_EQ(open_ids(), (Strings{"old", "new"})) << "carol's seat is still hers";
    set_now(kT0 + 10 + 1'000);  // carol's reservation lapses: a seat is free, nothing runs
    EXPECT_EQ(open_ids(), (Strings{"old", "mid", "new"})) << "back at its place";
    EXPECT_EQ(ids(mm_->get_open_games(10, by_mode)), (Strings{"old", "mid", "new"}));
    EXPECT_EQ(walk(1, by_mode), (Strings{"old", "mid", "new"}));
    EXPECT_EQ(walk(2), (Strings{"old", "mid", "new"}));
    EXPECT_EQ(ids(mm_->get_open_games(10, by_mode, 2)), Strings{}) << "bob still holds one";
    EXPECT_EQ(revision("mid"), rev) << "expiry writes nothing";
    EXPECT_EQ(open_and_reserved(duel), (Sizes{3, 0})) << "the reads moved it back, record as it was";

    EXPECT_EQ(mm_->quick_join("dave", by_mode)->game_id, "old");
    EXPECT_EQ(mm_->quick_join("erin", by_mode)->game_id, "mid") << "the lapsed seat, in age order";
    EXPECT_EQ(mm_->get_game("mid")->reservations,
              (std::map<std::string, std::int64_t>{{"bob", kT0 + 2'010}, {"erin", kT0 + 16'010}}));
    EXPECT_EQ(mm_->quick_join("finn", by_mode)->game_id, "new");
    EXPECT_FALSE(mm_->quick_join("gus", by_mode));
    EXPECT_EQ(open_and_reserved(duel), (Sizes{0, 3}));

    EXPECT_TRUE(mm_->cancel_reservation("mid", "bob"));
    EXPECT_EQ(open_and_reserved(duel), (Sizes{1, 2})) << "a cancel writes: back in the index";
    apply(ev(E::PlayerJoined, "old", "dave"));
    EXPECT_EQ(open_and_reserved(duel), (Sizes{1, 1})) << "full by its roster: in no index";
    EXPECT_EQ(ids(mm_->get_open_games(10, by_mode)), Strings{"mid"});
}

// Issue 16: thousands of no-show reservations lapse with no later write to their games.
class LapsedSeats : public Seats {
protected:
    static constexpr int kGames = 2'000;
    static constexpr std::int64_t kReservedAt = kT0 + 100'000;

    // kGames duel games, three to a score, each with its one free seat reserved: for 1 ms more
    // the older the game (so they lapse newest first), and for 10 minutes in every 100th.
    // Returns the ids of the games whose reservation lapses, oldest first.
    std::vector<std::string> make_no_shows() {
        std::vector<std::string> lapsing;
        for (int i = 0; i < kGames; ++i) {
            set_now(kT0 + i / 3);
            const std::string id = "g" + std::to_string(10'000 + i);
            lobby_game(id, 2, {{"mode", "duel"}});
            if (i % 100 != 0) lapsing.push_back(id);
        }
        set_now(kReservedAt);
        for (int i = 0; i < kGames; ++i) {
            const std::string id = "g" + std::to_string(10'000 + i);
            mm_->reserve_seat(id, "p" + std::to_string(i), i % 100 == 0 ? 600'000 : kGames - i);
        }
        return lapsing;
    }
};

TEST_P(LapsedSeats, ReadsPastManyLapsedReservationsAreExactAndMoveEachBackOnce) {
    const std::string duel = filter_index("mode", "\"duel\"");
    const Filters by_mode = {{"mode", "duel"}};
    const std::vector<std::string> lapsing = make_no_shows();
    const auto live = static_cast<std::int64_t>(kGames - lapsing.size());
    ASSERT_EQ(open_and_reserved(std::string(kOpenIndex)), (Sizes{0, kGames}));
    set_now(kReservedAt + kGames);  // every short reservation has lapsed; nothing was written

    const std::vector<std::string> first10(lapsing.begin(), lapsing.begin() + 10);
    EXPECT_EQ(ids(mm_->get_open_games(10)), first10);
    EXPECT_EQ(open_and_reserved(std::string(kOpenIndex)),
              (Sizes{kGames - live, live})) << "the read moved every lapse back";
    EXPECT_EQ(open_and_reserved(duel), (Sizes{0, kGames})) << "a twin is cleaned by its own readers";
    EXPECT_EQ(walk(7, {}, 2 * kGames), lapsing)
        << "oldest first, nothing missing, across page cursors";
    EXPECT_EQ(walk(7, by_mode, 2 * kGames), lapsing);
    EXPECT_EQ(open_and_reserved(duel), (Sizes{kGames - live, live}));
    EXPECT_EQ(mm_->get_game(lapsing[5])->reservations.size(), 0u);

    // Writes after the moves leave the game exactly where its record puts it, in every index.
    EXPECT_EQ(mm_->quick_join("late", by_mode)->game_id, lapsing[0]);
    EXPECT_EQ(open_and_reserved(std::string(kOpenIndex)), (Sizes{kGames - live - 1, live + 1}));
    EXPECT_EQ(open_and_reserved(duel), (Sizes{kGames - live - 1, live + 1}));
    ASSERT_EQ(apply(ev(E::PlayerJoined, lapsing[1], "zed")).status, A::Applied);
    EXPECT_EQ(open_and_reserved(std::string(kOpenIndex)), (Sizes{kGames - live - 2, live + 1}))
        << "full by its roster: in no index";
    EXPECT_EQ(open_and_reserved(duel), (Sizes{kGames - live - 2, live + 1}));
    EXPECT_EQ(walk(50, by_mode, 2 * kGames),
              std::vector<std::string>(lapsing.begin() + 2, lapsing.end()));
}

TEST_P(LapsedSeats, AWriteToAGameMovedBackInOneIndexOnlyLeavesBoth) {
    const std::string duel = filter_index("mode", "\"duel\"");
    const std::vector<std::string> lapsing = make_no_shows();
    const auto live = static_cast<std::int64_t>(kGames - lapsing.size());
    set_now(kReservedAt + kGames);
    ASSERT_EQ(open_ids(3), (std::vector<std::string>(lapsing.begin(), lapsing.begin() + 3)));
    ASSERT_EQ(open_and_reserved(duel), (Sizes{0, kGames})) << "in open, still in reserved:mode=duel";

    ASSERT_EQ(apply(ev(E::PlayerJoined, lapsing[0], "zed")).status, A::Applied);
    EXPECT_EQ(open_and_reserved(std::string(kOpenIndex)), (Sizes{kGames - live - 1, live}));
    EXPECT_EQ(open_and_reserved(duel), (Sizes{0, kGames - 1}));
    EXPECT_EQ(ids(mm_->get_open_games(2, {{"mode", "duel"}})),
              (std::vector<std::string>{lapsing[1], lapsing[2]}));
}

TEST_P(LapsedSeats, OneScanCallMovesABoundedNumberOfLapsedEntries) {
    const std::vector<std::string> lapsing = make_no_shows();
    const std::string open(kOpenIndex);
    const std::string twin = reserved_twin(open);
    std::optional<std::int64_t> now = kReservedAt + kGames;
    const auto moves = static_cast<std::int64_t>(Backend::kLapsedMovesPerScan);
    ASSERT_GT(static_cast<std::int64_t>(lapsing.size()), moves);

    Backend::MergedScan first = store_->backend()->scan_merged(open, twin, now, std::nullopt, 10);
    EXPECT_TRUE(first.lapsed_left);
    EXPECT_TRUE(first.entries.empty()) << "no page until every lapse is back: it could be first";
    EXPECT_EQ(now, kReservedAt + kGames) << "an explicit time is the one used";
    EXPECT_EQ(open_and_reserved(open), (Sizes{moves, kGames - moves}));

    int calls = 1;
    Backend::MergedScan last;
    do {
        last = store_->backend()->scan_merged(open, twin, now, std::nullopt, 10);
        ++calls;
    } while (last.lapsed_left && calls < kGames);
    EXPECT_EQ(calls, static_cast<int>(lapsing.size() / Backend::kLapsedMovesPerScan) + 1);
    std::vector<std::string> got;
    for (const auto& e : last.entries) got.push_back(e.id);
    EXPECT_EQ(got, (std::vector<std::string>(lapsing.begin(), lapsing.begin() + 10)));
    EXPECT_EQ(last.entries.at(0).score, open_score(*last.entries.at(0).stored.slot.game))
        << "back at its record's open score";
}

TEST_P(Seats, AWriteThatKeepsAMovedGamesReservationsPutsItBackInItsTwin) {
    const std::string open(kOpenIndex);
    lobby_game("g1", 2, {});
    mm_->reserve_seat("g1", "bob", 1'000);
    ASSERT_EQ(open_and_reserved(open), (Sizes{0, 1}));
    // A reader whose clock is ahead (an explicit time) moves the entry before bob's seat lapses.
    std::optional<std::int64_t> ahead = kT0 + 5'000;
    store_->backend()->scan_merged(open, reserved_twin(open), ahead, std::nullopt, 10);
    ASSERT_EQ(open_and_reserved(open), (Sizes{1, 0}));
    EXPECT_TRUE(open_ids().empty()) << "bob's seat is still his at the matchmaker's time";

    set_now(kT0 + 10);  // bob's seat refreshed: the record is written, its twin entry is back
    ASSERT_EQ(mm_->reserve_seat("g1", "bob", 1'000).expires_at, kT0 + 1'010);
    EXPECT_EQ(open_and_reserved(open), (Sizes{0, 1}));
    set_now(kT0 + 1'010);
    EXPECT_EQ(open_ids(), std::vector<std::string>{"g1"});
}

TEST_P(Seats, AScanWithNoTimeUsesTheBackendsClockAndSaysWhich) {
    const std::string open(kOpenIndex);
    std::optional<std::int64_t> now;
    const std::int64_t before = now_ms();
    store_->backend()->scan_merged(open, reserved_twin(open), now, std::nullopt, 10);
    ASSERT_TRUE(now);
    EXPECT_GE(*now, before - 5);
    EXPECT_LE(*now, now_ms() + 5);
}

TEST_P(Seats, RefusalsLeaveTheIndexesAsTheyWere) {
    const std::string duel = filter_index("mode", "\"duel\"");
    lobby_game("g1", 2, {{"mode", "duel"}});
    lobby_game("g2", 3, {{"mode", "duel"}});
    mm_->reserve_seat("g1", "bob");
    const Game g1 = *mm_->get_game("g1");
    const Game g2 = *mm_->get_game("g2");
    const std::int64_t rev = revision("g1");
    EXPECT_EQ(reason_of([&] { mm_->reserve_seat("g1", "carol"); }), "full");
    EXPECT_EQ(reason_of([&] { mm_->reserve_seat("g1", "alice"); }), "already joined");
    EXPECT_FALSE(mm_->cancel_reservation("g1", "carol"));
    EXPECT_EQ(apply(ev(E::PlayerJoined, "g1", "zed")).status, A::Rejected);
    EXPECT_EQ(mm_->quick_join("bob", {{"mode", "ffa"}}), std::nullopt);
    EXPECT_EQ(mm_->get_game("g1"), g1);
    EXPECT_EQ(mm_->get_game("g2"), g2);
    EXPECT_EQ(revision("g1"), rev);
    EXPECT_EQ(open_and_reserved(duel), (Sizes{1, 1}));
}

TEST_P(Seats, QuickJoinLooksPastManyGamesItCannotTake) {
    for (int i = 0; i < 40; ++i) {
        set_now(kT0 + i);
        const std::string id = "g" + std::to_string(100 + i);
        lobby_game(id, 3, {{"mode", "duel"}});
        if (i < 39) {
            ASSERT_EQ(apply(ev(E::PlayerJoined, id, "p")).status, A::Applied);
        }
    }
    set_now(kT0 + 100);
    const auto r = mm_->quick_join("p", {{"mode", "duel"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->game_id, "g139") << "the only game p is not already in";
    const auto again = mm_->quick_join("p", {{"mode", "duel"}});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->game_id, "g139");
    EXPECT_EQ(mm_->get_game("g139")->free_seats(), 1) << "a refresh takes no second seat";
}

TEST_P(Seats, PagingAmongGamesOfOneScoreResumesAfterACursorWhoseGameLeft) {
    Strings all;
    for (int i = 0; i < 12; ++i) {
        all.push_back("g" + std::to_string(10 + i));
        lobby_game(all.back(), 2, {});  // one clock reading: one lobby score for all
    }
    EXPECT_EQ(walk(5), all);
    const OpenGamesPage first = mm_->open_games_page(4, {}, 1, std::nullopt);
    ASSERT_EQ(ids(first.games), Strings(all.begin(), all.begin() + 4));
    apply(ev(E::GameStarted, all[3]));  // the cursor's game
    apply(ev(E::GameStarted, all[4]));
    const OpenGamesPage next = mm_->open_games_page(4, {}, 1, first.next_cursor);
    EXPECT_EQ(ids(next.games), Strings(all.begin() + 5, all.begin() + 9));
}

std::string param_name(const ::testing::TestParamInfo<StoreParam>& info) {
    return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreConformance, ::testing::ValuesIn(store_params()),
                         param_name);
INSTANTIATE_TEST_SUITE_P(Stores, Seats, ::testing::ValuesIn(store_params()), param_name);
INSTANTIATE_TEST_SUITE_P(Stores, LapsedSeats, ::testing::ValuesIn(store_params()), param_name);
INSTANTIATE_TEST_SUITE_P(Stores, StoreTransitions, ::testing::ValuesIn(store_params()),
                         param_name);

}  // namespace
}  // namespace game_data
