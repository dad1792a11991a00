// The rulebook: every rule of SPEC sections 2 and 3 (and the order-insensitivity rules of the
// README), as pure functions with no I/O, no clock and no locks. Every backend applies events
// through these and only stores what they decide; no rule is written anywhere else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// Bounds that keep one game's record small whatever its servers send.
inline constexpr std::size_t kMaxHeldJoins = 16;        // joins waiting for a seat
inline constexpr std::size_t kMaxAbsentPlayerSeqs = 64; // seqs kept for players not seated

// How a game moves between sets when an event is applied.
struct SetChange {
    std::optional<GameSet> from;   // set before (nullopt: none)
    std::optional<GameSet> to;     // set after (nullopt: removed, game ended)
    bool rescore = false;          // new score = now (entered a new set, or heartbeat)
};

struct Outcome {
    ApplyStatus status;
    std::string_view reason;  // set when not applied; may explain an applied event ("held ...")
    Game after;               // the record afterwards (== before unless Applied)
    SetChange sets;
};

// Full rule for a live game: checks server, seq, the table and the roster, and computes the
// new record. `before` must be a live game with id == event.game_id.
Outcome apply_event(const Game& before, const Event& event, std::int64_t now_ms);

// What is left of a game id once its record is gone.
enum class Tomb : std::uint8_t { None = 0, Ended, Reaped };
std::string_view to_string(Tomb t) noexcept;          // "", "ended", "reaped"
std::optional<Tomb> parse_tomb(std::string_view s) noexcept;

// A game as the rules see it: the live record and its set score, or its tombstone.
struct GameSlot {
    std::optional<Game> game;
    std::int64_t score = 0;  // ms, score in the set of its state (live games only)
    Tomb tomb = Tomb::None;  // live games: None

    bool operator==(const GameSlot&) const = default;
};

// Applies one event to a slot in place: unknown and tombstoned games, then apply_event(), then
// the set score and removal. The one entry point every backend uses.
ApplyResult apply_to_slot(GameSlot& slot, const Event& event, std::int64_t now_ms);

// The sorted sets and indexes a live game belongs to, with its score in each: the set of its
// state, and "open" while it is served by get_open_games. Backends store exactly these.
inline constexpr std::string_view kOpenIndex = "open";
std::vector<std::pair<std::string, std::int64_t>> index_entries(const Game& game,
                                                               std::int64_t score);

}  // namespace game_data
