// The rulebook: every rule of SPEC sections 2 and 3 (and the order-insensitivity rules of the
// README), as pure functions with no I/O, no clock and no locks. Every backend applies events
// through these and only stores what they decide; no rule is written anywhere else.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
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

// Events the rules can apply to a game without reading it (Backend::refresh_blind): a
// heartbeat is `refresh` in every live state (the game stays in its set; its set score and
// updated_at become the event's time and last_seq its seq when higher; its index entries are
// those of index_entries(), which a heartbeat does not change, the open indexes being scored
// by open_score), so knowing that the game's record exists and names the event's server is
// enough. What the storage saw then decides the result (blind_result), as apply_to_slot would.
bool applies_blind(EventType type) noexcept;
struct BlindSeen {
    enum class Kind : std::uint8_t { Applied, NoRecord, OtherServer, Refused };
    Kind kind = Kind::NoRecord;
    GameState state = GameState::Created;  // the record's (Applied, OtherServer)
    Tomb tomb = Tomb::None;                // NoRecord
    std::string refused;                   // Refused: the key of another type
};
ApplyResult blind_result(const Event& event, const BlindSeen& seen);

// The sorted sets and indexes a live game belongs to, with its score in each: the set of its
// state; while it is in creator_joined with a seat the roster does not take, "open" and, for
// each filter key whose metadata value is a string, integer or boolean, "open:<key>=<JSON
// value>", at its open score (open_score: its creation time, so open games are served in the
// order they were created and a heartbeat, which rescores only the set of its state, never
// reorders them or writes an open index). A game whose free seats are all reserved is in the reserved twins
// of those indexes instead ("reserved", "reserved:<key>=<JSON value>"), scored by the time
// its reservations leave a seat free (reopens_at): expiry needs no write to the record; a
// reader of an open index moves the twin's entries scored at or before its time back into the
// index at their open score (Backend::scan_merged). A function of the record alone (not of the
// clock), so what was stored can be recomputed: backends store exactly these, except that a
// twin's entry may since have been moved so to its open index; a write therefore takes a twin
// entry it recomputes as being in either of the two (Store's diff_entries).
inline constexpr std::string_view kOpenIndex = "open";
inline constexpr std::string_view kReservedIndex = "reserved";
using IndexEntries = std::vector<std::pair<std::string, std::int64_t>>;
IndexEntries index_entries(const Game& game, std::int64_t score,
                           std::span<const std::string> filter_keys = {});
// The same into `out` (cleared first), so a caller applying many events reuses its storage.
void index_entries(const Game& game, std::int64_t score, std::span<const std::string> filter_keys,
                   IndexEntries& out);
// The score of a game in the open indexes: its created_at. The record's field a backend
// reads it from when it moves a lapsed twin entry back (Backend::scan_merged).
std::int64_t open_score(const Game& game) noexcept;
// The index of open games whose metadata `key` has `encoded_value` (a JSON text).
std::string filter_index(std::string_view key, std::string_view encoded_value);
// The reserved twin of an open index ("open..." -> "reserved...").
std::string reserved_twin(std::string_view open_index);
// The open index of a reserved twin ("reserved..." -> "open..."); nullopt for any other set.
std::optional<std::string> open_index_of_twin(std::string_view index);
// The JSON text the metadata value of `key` is indexed under (FilterValue::json); nullopt if
// absent or not a value a filter can match.
std::optional<std::string> filter_value(const Metadata& metadata, std::string_view key);
// Whether the open index (or its reserved twin) lists the game: creator_joined with a seat the
// roster does not take. Readers still check the live reservations.
bool lists_as_open(const Game& game);
// For a game listed as open whose reservations (as stored, expired or not) take every seat the
// roster leaves: the time from which one of those seats is free again. nullopt: a seat is free
// whatever the time (or the game is not listed as open).
std::optional<std::int64_t> reopens_at(const Game& game);

// Seat reservations (SPEC section 7). Why a seat was refused:
// ReservedElsewhere: the player holds a live seat in another game of the namespace (README
// "Seats": one per player unless the caller asks for more).
enum class SeatRefusal : std::uint8_t { None = 0, NotOpen, Full, AlreadyJoined, ReservedElsewhere };
// "", "not open", "full", "already joined", "reserved elsewhere"
std::string_view to_string(SeatRefusal r) noexcept;
// Reserves a seat for `player` until expires_at, or refreshes their live reservation (no second
// seat). Changes `g` only when granted.
SeatRefusal reserve_seat(Game& g, const std::string& player, std::int64_t now_ms,
                         std::int64_t expires_at);
// Removes the player's live reservation; false (and `g` unchanged) if there was none.
bool cancel_reservation(Game& g, const std::string& player, std::int64_t now_ms);
// Drops reservations that expired at now_ms or whose player is on the roster.
void prune_reservations(Game& g, std::int64_t now_ms);
// The players with a reservation in `before` that is not live in `after` at now_ms (it was
// taken up, cancelled or pruned, or the game ended): the namespace seats to let go (README
// "Seats"). Lapsed ones included: a seat lapsed by this clock may be live by another's.
std::vector<std::string> seats_let_go(const std::map<std::string, std::int64_t>& before,
                                      const Game* after, std::int64_t now_ms);

}  // namespace game_data
