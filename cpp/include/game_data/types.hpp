// Value types of the public contract (SPEC sections 2, 3 and 5): states, events, games and
// the result of applying an event. Plain values: copyable, no hidden sharing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "game_data/metadata.hpp"

namespace game_data {

// Lifecycle states, in order. A state only moves forward.
enum class GameState : std::uint8_t { Created = 0, CreatorJoined, AllPlayersJoined, InProgress, Ended };

enum class EventType : std::uint8_t {
    CreatorJoined = 0,
    PlayerJoined,
    PlayerLeft,
    AllPlayersJoined,
    GameStarted,
    GameEnded,
    Heartbeat,
};

enum class ApplyStatus : std::uint8_t { Applied = 0, Duplicate, Rejected };

// The three sorted sets; a live game is in exactly one of them, chosen by its state.
enum class GameSet : std::uint8_t { Pending = 0, Lobby, Active };

inline constexpr GameState kAllStates[] = {GameState::Created, GameState::CreatorJoined,
                                           GameState::AllPlayersJoined, GameState::InProgress,
                                           GameState::Ended};
inline constexpr EventType kAllEventTypes[] = {
    EventType::CreatorJoined, EventType::PlayerJoined, EventType::PlayerLeft,
    EventType::AllPlayersJoined, EventType::GameStarted, EventType::GameEnded,
    EventType::Heartbeat};
inline constexpr GameSet kAllSets[] = {GameSet::Pending, GameSet::Lobby, GameSet::Active};

// Wire names ("created", "game_started", "applied", "pending", ...).
std::string_view to_string(GameState s) noexcept;
std::string_view to_string(EventType t) noexcept;
std::string_view to_string(ApplyStatus s) noexcept;
std::string_view to_string(GameSet s) noexcept;

// Parse wire names; std::nullopt for anything else.
std::optional<GameState> parse_game_state(std::string_view s) noexcept;
std::optional<EventType> parse_event_type(std::string_view s) noexcept;
std::optional<ApplyStatus> parse_apply_status(std::string_view s) noexcept;

// The set a live state belongs to; std::nullopt for Ended.
std::optional<GameSet> set_of(GameState s) noexcept;

// Milliseconds since the Unix epoch from the system clock.
std::int64_t now_ms() noexcept;

// One event from a game server (SPEC section 3). Optional fields are absent when not sent.
struct Event {
    EventType type = EventType::Heartbeat;
    std::string game_id;
    std::string server_id;
    std::optional<std::string> player_id;
    std::optional<std::int64_t> ts;   // the server's clock, informational only
    std::optional<std::int64_t> seq;  // per-game sequence number, for de-duplication

    bool operator==(const Event&) const = default;
};

// The matchmaker's record of one game.
struct Game {
    std::string id;
    GameState state = GameState::Created;
    std::string creator_id;
    std::int32_t capacity = 1;
    std::string server_id;
    std::vector<std::string> players;                    // roster, in join order
    Metadata metadata;                                   // a JSON object (metadata.hpp)
    std::int64_t created_at = 0;                         // ms
    std::int64_t updated_at = 0;                         // ms
    std::int64_t last_seq = 0;                           // highest seq applied, 0 = none
    // Seq of the latest roster event applied per player, kept after the player leaves, so a
    // replayed or reordered older event about that player is a duplicate. Empty without seqs.
    std::map<std::string, std::int64_t> player_seqs;
    // Joins that found the game full, in arrival order (player, seq or 0), seated when a seat
    // frees: a join that overtook the leave that freed its seat still lands (bounded per game).
    std::vector<std::pair<std::string, std::int64_t>> held;
    // Seqs at or below this belonged to players whose seq was forgotten to bound the record:
    // a roster event for an unknown player at or below it is refused as too old.
    std::int64_t seq_floor = 0;
    // The creator's join was applied once (so a late or replayed creator_joined without a seq
    // never seats the creator again after they left).
    bool creator_seen = false;
    // Seats reserved for players not on the roster: player id -> expires_at (ms, matchmaker
    // clock). Games handed out by the library hold only the reservations live at that time.
    std::map<std::string, std::int64_t> reservations;

    // Free seats: capacity minus roster size, minus the creator's seat while the creator has
    // not joined yet, minus the reservations listed (never negative).
    std::int32_t free_seats() const noexcept;
    // The same, counting only the reservations live at `now_ms` (what the rules use).
    std::int32_t free_seats_at(std::int64_t now_ms) const noexcept;
    // Seats not taken by the roster (nor the creator's kept seat), reservations ignored: what
    // the open index follows, since reservations expire without a write.
    std::int32_t roster_free_seats() const noexcept;
    // Live reservations at `now_ms` of players not on the roster.
    std::int32_t live_reservations(std::int64_t now_ms) const noexcept;
    // Served by get_open_games: waiting in the lobby with a free seat.
    bool is_open() const noexcept;
    bool has_player(std::string_view player_id) const noexcept;

    bool operator==(const Game&) const = default;
};

struct ApplyResult {
    ApplyStatus status = ApplyStatus::Rejected;
    std::string reason;               // short text; set when rejected, may explain a duplicate
    std::string game_id;
    std::optional<GameState> state;   // the game's state afterwards; nullopt if no live game
    std::string entry_id;             // stream entry id when the event came from a stream

    bool operator==(const ApplyResult&) const = default;
};

// A seat held for a player in an open game until expires_at (ms, matchmaker clock).
struct Reservation {
    std::string game_id;
    std::string player_id;
    std::int64_t expires_at = 0;
    bool operator==(const Reservation&) const = default;
};

// Equality filters on top-level metadata values (strings, integers, booleans):
// Filters{{"mode", "duel"}, {"ranked", true}}.
using Filters = std::map<std::string, FilterValue>;

// One page of open games; next_cursor is nullopt on the last page.
struct OpenGamesPage {
    std::vector<Game> games;
    std::optional<std::string> next_cursor;
};

struct Counts {
    std::int64_t pending = 0;
    std::int64_t lobby = 0;
    std::int64_t active = 0;
    bool operator==(const Counts&) const = default;
};

// How long a game may stay in each set before reap() removes it (ms).
struct MaxAges {
    std::int64_t pending = 60'000;       // creator must connect within a minute
    std::int64_t lobby = 600'000;        // ten minutes without a heartbeat or start
    std::int64_t active = 3'600'000;     // an hour without a heartbeat
    std::int64_t of(GameSet s) const noexcept;
};

}  // namespace game_data
