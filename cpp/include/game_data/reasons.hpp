// The reason texts an applied event can come back with (ApplyResult::reason, and the `error` of
// a dead letter). They are part of the wire contract (SPEC, README "Lifecycle"): the rulebook
// (lifecycle.cpp) gives exactly these, and the Python package reads them from here
// (game_data._core.REASON_*) instead of keeping copies.
#pragma once

#include <string_view>

namespace game_data::reasons {

// Duplicates: nothing changed, nothing is wrong.
inline constexpr std::string_view kStateReached = "state already reached";
inline constexpr std::string_view kGameEnded = "game has ended";
inline constexpr std::string_view kSeqApplied = "seq already applied";
inline constexpr std::string_view kAlreadyInGame = "player already in game";
inline constexpr std::string_view kAlreadyHeld = "player already held";
inline constexpr std::string_view kNotInGame = "player not in game";

// Rejections (dead-lettered by a consumer).
inline constexpr std::string_view kUnknownGame = "unknown game";
inline constexpr std::string_view kGameReaped = "game was reaped";  // a duplicate for game_ended
inline constexpr std::string_view kWrongServer = "wrong server";
inline constexpr std::string_view kNotCreator = "player is not the creator";
inline constexpr std::string_view kSeqTooOld = "seq too old";
inline constexpr std::string_view kGameFull = "game is full";
// The backend refused the game's write before writing anything (a key of the game holds
// another type: damage, or another program's key); the reason goes on with what it found.
inline constexpr std::string_view kStorageRefused = "storage refused the write";

// Applied, with a word: a join that waits for a free seat.
inline constexpr std::string_view kHeld = "held until a seat frees";

}  // namespace game_data::reasons
