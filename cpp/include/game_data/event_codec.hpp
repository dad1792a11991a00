// The wire format of SPEC section 3: an Event as flat string fields of one stream entry.
#pragma once

#include "game_data/store.hpp"
#include "game_data/types.hpp"

namespace game_data {

// Largest accepted seq: 2^53 - 1, so every backend (Redis compares seqs in Lua, as doubles)
// orders seqs exactly. decode_event and validate_event refuse larger values.
inline constexpr std::int64_t kMaxSeq = (std::int64_t{1} << 53) - 1;

// Fields in a fixed order: type, game_id, server_id, then player_id, ts, seq when present.
Fields encode_event(const Event& event);

// Parses and validates one entry's fields. Unknown extra fields are ignored (forward
// compatible); a missing, repeated, empty, over-long or badly formed value throws
// InvalidArgument whose message is the short reason put in the dead letter.
Event decode_event(const Fields& fields);

// Validates an Event built in code (ids, required player_id, non-negative ts/seq).
void validate_event(const Event& event);

}  // namespace game_data
