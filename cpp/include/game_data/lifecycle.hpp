// The lifecycle rules of SPEC section 2 as pure functions: no I/O, no clock, no locks.
// Every store applies events through these (the Redis Lua scripts mirror them and the store
// conformance suite checks that both agree on every state x event pair).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "game_data/types.hpp"

namespace game_data {

// What an event type does to a game in a given live state, before looking at the roster.
enum class Verdict : std::uint8_t {
    Advance,    // move to `target` (and to its set)
    Roster,     // add or remove a player; state unchanged
    Refresh,    // heartbeat: refresh the score of the current set
    Duplicate,  // target not after current: idempotent no-op
    Reject,     // not allowed in this state
};

struct Decision {
    Verdict verdict;
    GameState target;        // for Advance
    std::string_view reason; // for Reject / Duplicate
};

// The table: one row per live state, one column per event type.
Decision decide(GameState current, EventType type) noexcept;

// How a game moves between sets when an event is applied.
struct SetChange {
    std::optional<GameSet> from;   // set before (nullopt: none)
    std::optional<GameSet> to;     // set after (nullopt: removed, game ended)
    bool rescore = false;          // new score = now (entered a new set, or heartbeat)
};

struct Outcome {
    ApplyStatus status;
    std::string_view reason;
    Game after;          // the record afterwards (== before unless Applied)
    SetChange sets;
};

// Full rule: checks server, seq, the table and the roster, and computes the new record.
// `before` must be a live game with id == event.game_id. Unknown or ended games are the
// caller's concern (they have no record to pass in).
Outcome apply_event(const Game& before, const Event& event, std::int64_t now_ms);

}  // namespace game_data
