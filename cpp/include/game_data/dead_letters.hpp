// Dead letters (SPEC section 3): how the consumer turns a bad entry into one, and how an
// operator sends it back to the event stream after a fix (`game-data dead-letters --replay`).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "game_data/store.hpp"

namespace game_data {

// The field the consumer adds to a dead letter: its own reason, always exactly one.
inline constexpr std::string_view kDeadLetterErrorField = "error";
// The escape that keeps an entry's own fields apart from the ones the consumer adds: an
// entry's field named like an added one (`error`) or already starting with the prefix gets
// one more prefix (`error` -> `orig_error`, `orig_error` -> `orig_orig_error`); replay drops
// the added fields and strips exactly one prefix where there is one. Reversible for any entry.
inline constexpr std::string_view kDeadLetterEscapePrefix = "orig_";
// An entry's own `error` field, as its dead letter holds it.
inline constexpr std::string_view kDeadLetterOrigErrorField = "orig_error";

// The dead letter of an entry: its fields in order (names escaped as above), then
// `error` = reason.
Fields dead_letter_fields(Fields entry, std::string_view reason);
// The entry a dead letter was made from, names, values and order: the inverse of
// dead_letter_fields.
Fields original_fields(const Fields& dead_letter);

struct ReplayedEntry {
    std::string dead_letter_id;  // the entry removed from the dead-letter stream
    std::string entry_id;        // its copy on the event stream
};

// Copies dead letters back to `stream` with their original fields, oldest first, and removes
// each from `dead_letter_stream` only after its copy is written: a failure in between leaves
// it in both (replaying it again gives a duplicate, which the rules ignore), never in neither.
// `ids`: only those (ids not in the dead-letter stream are skipped; compare the result);
// nullopt: every dead letter there when the call starts, not those added meanwhile (a
// consumer that still rejects a replayed event dead-letters it again). Returns what moved.
std::vector<ReplayedEntry> replay_dead_letters(StreamTransport& streams,
                                               const std::string& dead_letter_stream,
                                               const std::string& stream,
                                               const std::optional<std::vector<std::string>>& ids);

}  // namespace game_data
