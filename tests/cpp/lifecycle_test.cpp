// The lifecycle rules of SPEC section 2 as pure functions: decide() against a table written
// out here by hand, and apply_event() for every state x event pair plus its guards.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "game_data/lifecycle.hpp"

namespace game_data {
namespace {

using S = GameState;
using E = EventType;
using V = Verdict;

constexpr std::int64_t kCreatedAt = 1'000;
constexpr std::int64_t kNow = 5'000;

std::string pair_name(GameState s, EventType t) {
    return std::string(to_string(s)) + " x " + std::string(to_string(t));
}

struct Expected {
    Verdict verdict;
    std::optional<GameState> target;  // for Advance
};

// SPEC section 2 and 3, one row per state, one column per event type.
const std::map<GameState, std::map<EventType, Expected>> kDecideTable = {
    {S::Created,
     {{E::CreatorJoined, {V::Advance, S::CreatorJoined}},
      {E::PlayerJoined, {V::Roster, {}}},  // a join reordered before the creator's still lands
      {E::PlayerLeft, {V::Roster, {}}},
      {E::AllPlayersJoined, {V::Advance, S::AllPlayersJoined}},
      {E::GameStarted, {V::Advance, S::InProgress}},
      {E::GameEnded, {V::Advance, S::Ended}},
      {E::Heartbeat, {V::Refresh, {}}}}},
    {S::CreatorJoined,
     {{E::CreatorJoined, {V::Duplicate, {}}},
      {E::PlayerJoined, {V::Roster, {}}},
      {E::PlayerLeft, {V::Roster, {}}},
      {E::AllPlayersJoined, {V::Advance, S::AllPlayersJoined}},
      {E::GameStarted, {V::Advance, S::InProgress}},
      {E::GameEnded, {V::Advance, S::Ended}},
      {E::Heartbeat, {V::Refresh, {}}}}},
    {S::AllPlayersJoined,
     {{E::CreatorJoined, {V::Duplicate, {}}},
      {E::PlayerJoined, {V::Roster, {}}},
      {E::PlayerLeft, {V::Roster, {}}},
      {E::AllPlayersJoined, {V::Duplicate, {}}},
      {E::GameStarted, {V::Advance, S::InProgress}},
      {E::GameEnded, {V::Advance, S::Ended}},
      {E::Heartbeat, {V::Refresh, {}}}}},
    {S::InProgress,
     {{E::CreatorJoined, {V::Duplicate, {}}},
      {E::PlayerJoined, {V::Roster, {}}},
      {E::PlayerLeft, {V::Roster, {}}},
      {E::AllPlayersJoined, {V::Duplicate, {}}},
      {E::GameStarted, {V::Duplicate, {}}},
      {E::GameEnded, {V::Advance, S::Ended}},
      {E::Heartbeat, {V::Refresh, {}}}}},
    {S::Ended,
     {{E::CreatorJoined, {V::Duplicate, {}}},
      {E::PlayerJoined, {V::Duplicate, {}}},
      {E::PlayerLeft, {V::Duplicate, {}}},
      {E::AllPlayersJoined, {V::Duplicate, {}}},
      {E::GameStarted, {V::Duplicate, {}}},
      {E::GameEnded, {V::Duplicate, {}}},
      {E::Heartbeat, {V::Duplicate, {}}}}},
};

TEST(Decide, EveryStateAndEventPairMatchesTheSpecTable) {
    int checked = 0;
    for (GameState s : kAllStates) {
        for (EventType t : kAllEventTypes) {
            SCOPED_TRACE(pair_name(s, t));
            const Expected& want = kDecideTable.at(s).at(t);
            const Decision got = decide(s, t);
            EXPECT_EQ(got.verdict, want.verdict);
            if (want.target) {
                EXPECT_EQ(got.target, *want.target);
            }
            ++checked;
        }
    }
    EXPECT_EQ(checked, 35);
}

TEST(Decide, RejectsAndDuplicatesCarryAReason) {
    for (GameState s : kAllStates) {
        for (EventType t : kAllEventTypes) {
            SCOPED_TRACE(pair_name(s, t));
            const Decision d = decide(s, t);
            if (d.verdict == V::Reject || d.verdict == V::Duplicate) {
                EXPECT_FALSE(d.reason.empty());
            }
        }
    }
}

TEST(Decide, AdvanceAlwaysMovesStrictlyForward) {
    for (GameState s : kAllStates) {
        for (EventType t : kAllEventTypes) {
            const Decision d = decide(s, t);
            if (d.verdict == V::Advance) {
                EXPECT_GT(d.target, s) << pair_name(s, t);
            }
        }
    }
}

TEST(Decide, EveryEventOnAnEndedGameIsADuplicateBecauseTheGameHasEnded) {
    for (EventType t : kAllEventTypes) {
        EXPECT_EQ(decide(S::Ended, t).reason, "game has ended") << to_string(t);
    }
}

// --- apply_event -------------------------------------------------------------------------

// A game with capacity 4 in `state`; from CreatorJoined on, the creator "alice" is seated.
Game game_in(GameState state) {
    Game g;
    g.id = "g1";
    g.state = state;
    g.creator_id = "alice";
    g.capacity = 4;
    g.server_id = "gs-1";
    g.metadata = {{"mode", "duel"}};
    g.created_at = g.updated_at = kCreatedAt;
    g.last_seq = 10;
    if (state != S::Created) {
        g.players = {"alice"};
        g.creator_seen = true;
    }
    return g;
}

// creator_joined by the creator, player_joined by a newcomer, player_left by the creator.
Event event_of(EventType t) {
    Event e;
    e.type = t;
    e.game_id = "g1";
    e.server_id = "gs-1";
    if (t == E::CreatorJoined || t == E::PlayerLeft) e.player_id = "alice";
    if (t == E::PlayerJoined) e.player_id = "bob";
    return e;
}

struct ExpectedOutcome {
    ApplyStatus status;
    GameState state_after;
    std::optional<GameSet> from;
    std::optional<GameSet> to;
    std::optional<bool> rescore;  // nullopt: not meaningful (game ends)
};

using A = ApplyStatus;
constexpr auto P = GameSet::Pending;
constexpr auto L = GameSet::Lobby;
constexpr auto Ac = GameSet::Active;
constexpr std::optional<GameSet> None = std::nullopt;

const std::map<GameState, std::map<EventType, ExpectedOutcome>> kApplyTable = {
    {S::Created,
     {{E::CreatorJoined, {A::Applied, S::CreatorJoined, P, L, true}},
      {E::PlayerJoined, {A::Applied, S::Created, P, P, false}},  // the creator's seat kept free
      {E::PlayerLeft, {A::Duplicate, S::Created, P, P, false}},  // alice is not seated yet
      {E::AllPlayersJoined, {A::Applied, S::AllPlayersJoined, P, L, true}},
      {E::GameStarted, {A::Applied, S::InProgress, P, Ac, true}},
      {E::GameEnded, {A::Applied, S::Ended, P, None, {}}},
      {E::Heartbeat, {A::Applied, S::Created, P, P, true}}}},
    {S::CreatorJoined,
     {{E::CreatorJoined, {A::Duplicate, S::CreatorJoined, L, L, false}},
      {E::PlayerJoined, {A::Applied, S::CreatorJoined, L, L, false}},
      {E::PlayerLeft, {A::Applied, S::CreatorJoined, L, L, false}},
      {E::AllPlayersJoined, {A::Applied, S::AllPlayersJoined, L, L, false}},
      {E::GameStarted, {A::Applied, S::InProgress, L, Ac, true}},
      {E::GameEnded, {A::Applied, S::Ended, L, None, {}}},
      {E::Heartbeat, {A::Applied, S::CreatorJoined, L, L, true}}}},
    {S::AllPlayersJoined,
     {{E::CreatorJoined, {A::Duplicate, S::AllPlayersJoined, L, L, false}},
      {E::PlayerJoined, {A::Applied, S::AllPlayersJoined, L, L, false}},
      {E::PlayerLeft, {A::Applied, S::AllPlayersJoined, L, L, false}},
      {E::AllPlayersJoined, {A::Duplicate, S::AllPlayersJoined, L, L, false}},
      {E::GameStarted, {A::Applied, S::InProgress, L, Ac, true}},
      {E::GameEnded, {A::Applied, S::Ended, L, None, {}}},
      {E::Heartbeat, {A::Applied, S::AllPlayersJoined, L, L, true}}}},
    {S::InProgress,
     {{E::CreatorJoined, {A::Duplicate, S::InProgress, Ac, Ac, false}},
      {E::PlayerJoined, {A::Applied, S::InProgress, Ac, Ac, false}},
      {E::PlayerLeft, {A::Applied, S::InProgress, Ac, Ac, false}},
      {E::AllPlayersJoined, {A::Duplicate, S::InProgress, Ac, Ac, false}},
      {E::GameStarted, {A::Duplicate, S::InProgress, Ac, Ac, false}},
      {E::GameEnded, {A::Applied, S::Ended, Ac, None, {}}},
      {E::Heartbeat, {A::Applied, S::InProgress, Ac, Ac, true}}}},
    {S::Ended,
     {{E::CreatorJoined, {A::Duplicate, S::Ended, None, None, false}},
      {E::PlayerJoined, {A::Duplicate, S::Ended, None, None, false}},
      {E::PlayerLeft, {A::Duplicate, S::Ended, None, None, false}},
      {E::AllPlayersJoined, {A::Duplicate, S::Ended, None, None, false}},
      {E::GameStarted, {A::Duplicate, S::Ended, None, None, false}},
      {E::GameEnded, {A::Duplicate, S::Ended, None, None, false}},
      {E::Heartbeat, {A::Duplicate, S::Ended, None, None, false}}}},
};

TEST(ApplyEvent, EveryStateAndEventPairGivesTheExpectedStatusStateAndSetMove) {
    for (GameState s : kAllStates) {
        for (EventType t : kAllEventTypes) {
            SCOPED_TRACE(pair_name(s, t));
            const ExpectedOutcome& want = kApplyTable.at(s).at(t);
            const Outcome o = apply_event(game_in(s), event_of(t), kNow);
            EXPECT_EQ(o.status, want.status) << o.reason;
            EXPECT_EQ(o.after.state, want.state_after);
            EXPECT_EQ(o.sets.from, want.from);
            EXPECT_EQ(o.sets.to, want.to);
            if (want.rescore) {
                EXPECT_EQ(o.sets.rescore, *want.rescore);
            }
        }
    }
}

TEST(ApplyEvent, NotAppliedOutcomesLeaveTheRecordUntouchedAndGiveAReason) {
    for (GameState s : kAllStates) {
        for (EventType t : kAllEventTypes) {
            SCOPED_TRACE(pair_name(s, t));
            const Game before = game_in(s);
            const Outcome o = apply_event(before, event_of(t), kNow);
            if (o.status == A::Applied) continue;
            EXPECT_EQ(o.after, before);
            EXPECT_FALSE(o.reason.empty());
        }
    }
}

TEST(ApplyEvent, AppliedOutcomesStampUpdatedAtWithNowAndKeepIdentity) {
    for (GameState s : kAllStates) {
        for (EventType t : kAllEventTypes) {
            SCOPED_TRACE(pair_name(s, t));
            const Game before = game_in(s);
            const Outcome o = apply_event(before, event_of(t), kNow);
            if (o.status != A::Applied) continue;
            EXPECT_EQ(o.after.updated_at, kNow);
            EXPECT_EQ(o.after.created_at, before.created_at);
            EXPECT_EQ(o.after.id, before.id);
            EXPECT_EQ(o.after.creator_id, before.creator_id);
            EXPECT_EQ(o.after.capacity, before.capacity);
            EXPECT_EQ(o.after.metadata, before.metadata);
            EXPECT_EQ(o.after.last_seq, before.last_seq);  // no seq sent
        }
    }
}

TEST(ApplyEvent, EventFromAnotherServerIsRejectedInEveryState) {
    for (GameState s : kAllStates) {
        for (EventType t : kAllEventTypes) {
            SCOPED_TRACE(pair_name(s, t));
            Event e = event_of(t);
            e.server_id = "gs-2";
            const Game before = game_in(s);
            const Outcome o = apply_event(before, e, kNow);
            EXPECT_EQ(o.status, A::Rejected);
            EXPECT_EQ(o.reason, "wrong server");
            EXPECT_EQ(o.after, before);
            EXPECT_FALSE(o.sets.rescore);
        }
    }
}

// seq is compared per player, for roster events only (see lifecycle.hpp for why).
Game with_player_seq(Game g, const std::string& player, std::int64_t seq) {
    g.player_seqs[player] = seq;
    return g;
}

TEST(ApplyEvent, RosterSeqEqualToThePlayersLastIsADuplicate) {
    for (EventType t : {E::PlayerJoined, E::PlayerLeft}) {
        Event e = event_of(t);
        e.seq = 10;
        const Game before = with_player_seq(game_in(S::CreatorJoined), *e.player_id, 10);
        const Outcome o = apply_event(before, e, kNow);
        EXPECT_EQ(o.status, A::Duplicate) << to_string(t);
        EXPECT_EQ(o.reason, "seq already applied") << to_string(t);
        EXPECT_EQ(o.after, before) << to_string(t);
    }
}

TEST(ApplyEvent, RosterSeqLowerThanThePlayersLastIsADuplicate) {
    Event e = event_of(E::PlayerJoined);
    e.seq = 3;
    const Game before = with_player_seq(game_in(S::CreatorJoined), *e.player_id, 7);
    const Outcome o = apply_event(before, e, kNow);
    EXPECT_EQ(o.status, A::Duplicate);
    EXPECT_EQ(o.after, before);
}

TEST(ApplyEvent, AnOlderSeqOfAnotherPlayerStillApplies) {
    // bob's join (seq 5) arrives after carol's (seq 8): it is not a duplicate.
    Event e = event_of(E::PlayerJoined);
    e.player_id = "bob";
    e.seq = 5;
    const Game before = with_player_seq(game_in(S::CreatorJoined), "carol", 8);
    const Outcome o = apply_event(before, e, kNow);
    EXPECT_EQ(o.status, A::Applied);
    EXPECT_TRUE(o.after.has_player("bob"));
    EXPECT_EQ(o.after.player_seqs.at("bob"), 5);
    EXPECT_EQ(o.after.last_seq, 10);  // the high-water mark never goes down
}

TEST(ApplyEvent, AStaleJoinArrivingAfterTheLeaveDoesNotReseatThePlayer) {
    // leave (seq 7) was applied for a player who was never seated; the older join (seq 5) is stale.
    Event leave = event_of(E::PlayerLeft);
    leave.player_id = "bob";
    leave.seq = 7;
    const Outcome left = apply_event(game_in(S::CreatorJoined), leave, kNow);
    EXPECT_EQ(left.status, A::Applied);
    EXPECT_EQ(left.after.player_seqs.at("bob"), 7);
    Event join = event_of(E::PlayerJoined);
    join.player_id = "bob";
    join.seq = 5;
    const Outcome o = apply_event(left.after, join, kNow);
    EXPECT_EQ(o.status, A::Duplicate);
    EXPECT_FALSE(o.after.has_player("bob"));
}

TEST(ApplyEvent, LifecycleEventsAreOrderedByStateNotBySeq) {
    // game_started with a seq below the last applied one still moves the game forward.
    Event e = event_of(E::GameStarted);
    e.seq = 3;
    const Outcome o = apply_event(game_in(S::CreatorJoined), e, kNow);
    EXPECT_EQ(o.status, A::Applied);
    EXPECT_EQ(o.after.state, S::InProgress);
    EXPECT_EQ(o.after.last_seq, 10);
}

TEST(ApplyEvent, SeqAboveLastAppliedRaisesTheHighWaterMark) {
    Event e = event_of(E::GameStarted);
    e.seq = 11;
    const Outcome o = apply_event(game_in(S::CreatorJoined), e, kNow);
    EXPECT_EQ(o.status, A::Applied);
    EXPECT_EQ(o.after.last_seq, 11);
}

TEST(ApplyEvent, SeqIsRecordedByRosterAndHeartbeatEventsToo) {
    for (EventType t : {E::PlayerJoined, E::PlayerLeft, E::Heartbeat}) {
        Event e = event_of(t);
        e.seq = 42;
        const Outcome o = apply_event(game_in(S::CreatorJoined), e, kNow);
        EXPECT_EQ(o.status, A::Applied) << to_string(t);
        EXPECT_EQ(o.after.last_seq, 42) << to_string(t);
    }
}

TEST(ApplyEvent, ARosterNoOpWithANewerSeqIsAppliedAndRemembered) {
    Event e = event_of(E::PlayerLeft);
    e.player_id = "zed";  // not seated
    e.seq = 12;
    const Outcome o = apply_event(game_in(S::CreatorJoined), e, kNow);
    EXPECT_EQ(o.status, A::Applied);
    EXPECT_EQ(o.after.players, game_in(S::CreatorJoined).players);
    EXPECT_EQ(o.after.player_seqs.at("zed"), 12);
}

TEST(ApplyEvent, ADuplicateByStateDoesNotRecordTheSeq) {
    Event e = event_of(E::CreatorJoined);  // duplicate by state in CreatorJoined
    e.seq = 99;
    const Outcome o = apply_event(game_in(S::CreatorJoined), e, kNow);
    EXPECT_EQ(o.status, A::Duplicate);
    EXPECT_EQ(o.after.last_seq, 10);
}

TEST(ApplyEvent, CreatorJoinedByAnotherPlayerIsRejected) {
    Event e = event_of(E::CreatorJoined);
    e.player_id = "mallory";
    const Game before = game_in(S::Created);
    const Outcome o = apply_event(before, e, kNow);
    EXPECT_EQ(o.status, A::Rejected);
    EXPECT_EQ(o.after, before);
}

TEST(ApplyEvent, CreatorJoinedSeatsTheCreator) {
    const Outcome o = apply_event(game_in(S::Created), event_of(E::CreatorJoined), kNow);
    ASSERT_EQ(o.status, A::Applied);
    EXPECT_EQ(o.after.players, std::vector<std::string>{"alice"});
}

TEST(ApplyEvent, PlayerJoinedAppendsToTheRosterInJoinOrder) {
    Game g = game_in(S::CreatorJoined);
    g.players = {"alice", "carol"};
    const Outcome o = apply_event(g, event_of(E::PlayerJoined), kNow);
    ASSERT_EQ(o.status, A::Applied);
    EXPECT_EQ(o.after.players, (std::vector<std::string>{"alice", "carol", "bob"}));
    EXPECT_EQ(o.after.free_seats(), 1);
}

TEST(ApplyEvent, PlayerJoinedWhenFullIsHeldUntilASeatFrees) {
    Game g = game_in(S::CreatorJoined);
    g.players = {"alice", "carol", "dave", "erin"};
    const Outcome o = apply_event(g, event_of(E::PlayerJoined), kNow);
    EXPECT_EQ(o.status, A::Applied);
    EXPECT_EQ(o.reason, "held until a seat frees");
    EXPECT_EQ(o.after.players, g.players);
    EXPECT_EQ(o.after.held, (std::vector<std::pair<std::string, std::int64_t>>{{"bob", 0}}));
    Event leave = event_of(E::PlayerLeft);
    leave.player_id = "dave";
    const Outcome seated = apply_event(o.after, leave, kNow);
    EXPECT_EQ(seated.after.players, (std::vector<std::string>{"alice", "carol", "erin", "bob"}));
    EXPECT_TRUE(seated.after.held.empty());
}

TEST(ApplyEvent, PlayerJoinedWhenFullAndTheHoldIsFullIsRejectedAndChangesNothing) {
    Game g = game_in(S::CreatorJoined);
    g.players = {"alice", "carol", "dave", "erin"};
    for (std::size_t i = 0; i < kMaxHeldJoins; ++i) g.held.emplace_back("h" + std::to_string(i), 0);
    const Outcome o = apply_event(g, event_of(E::PlayerJoined), kNow);
    EXPECT_EQ(o.status, A::Rejected);
    EXPECT_EQ(o.reason, "game is full");
    EXPECT_EQ(o.after, g);
}

TEST(ApplyEvent, PlayerJoinedWhenAlreadySeatedIsADuplicate) {
    Game g = game_in(S::CreatorJoined);
    g.players = {"alice", "bob"};
    const Outcome o = apply_event(g, event_of(E::PlayerJoined), kNow);
    EXPECT_EQ(o.status, A::Duplicate);
    EXPECT_EQ(o.after, g);
}

TEST(ApplyEvent, PlayerJoinedWhenAlreadySeatedInAFullGameIsADuplicateNotFull) {
    Game g = game_in(S::CreatorJoined);
    g.players = {"alice", "bob", "carol", "dave"};
    const Outcome o = apply_event(g, event_of(E::PlayerJoined), kNow);
    EXPECT_EQ(o.status, A::Duplicate);
}

TEST(ApplyEvent, PlayerLeftRemovesOnlyThatPlayerAndKeepsOrder) {
    Game g = game_in(S::InProgress);
    g.players = {"carol", "alice", "dave"};
    const Outcome o = apply_event(g, event_of(E::PlayerLeft), kNow);
    ASSERT_EQ(o.status, A::Applied);
    EXPECT_EQ(o.after.players, (std::vector<std::string>{"carol", "dave"}));
    EXPECT_EQ(o.after.free_seats(), 2);
}

TEST(ApplyEvent, PlayerLeftWhenAbsentIsADuplicate) {
    Game g = game_in(S::CreatorJoined);
    Event e = event_of(E::PlayerLeft);
    e.player_id = "zed";
    const Outcome o = apply_event(g, e, kNow);
    EXPECT_EQ(o.status, A::Duplicate);
    EXPECT_EQ(o.after, g);
}

TEST(ApplyEvent, RosterChangesDoNotChangeStateOrSet) {
    for (EventType t : {E::PlayerJoined, E::PlayerLeft}) {
        const Outcome o = apply_event(game_in(S::AllPlayersJoined), event_of(t), kNow);
        ASSERT_EQ(o.status, A::Applied);
        EXPECT_EQ(o.after.state, S::AllPlayersJoined);
        EXPECT_EQ(o.sets.from, o.sets.to);
        EXPECT_FALSE(o.sets.rescore);
    }
}

TEST(ApplyEvent, HeartbeatRescoresTheCurrentSetWithoutChangingTheRecordBeyondUpdatedAt) {
    const Game before = game_in(S::InProgress);
    const Outcome o = apply_event(before, event_of(E::Heartbeat), kNow);
    ASSERT_EQ(o.status, A::Applied);
    EXPECT_TRUE(o.sets.rescore);
    Game expected = before;
    expected.updated_at = kNow;
    EXPECT_EQ(o.after, expected);
}

TEST(ApplyEvent, ForwardSkipFromCreatedToInProgressMovesPendingToActive) {
    const Outcome o = apply_event(game_in(S::Created), event_of(E::GameStarted), kNow);
    ASSERT_EQ(o.status, A::Applied);
    EXPECT_EQ(o.after.state, S::InProgress);
    EXPECT_EQ(o.sets.from, P);
    EXPECT_EQ(o.sets.to, Ac);
    EXPECT_TRUE(o.sets.rescore);
}

}  // namespace
}  // namespace game_data
