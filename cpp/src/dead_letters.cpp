#include "game_data/dead_letters.hpp"

#include <algorithm>
#include <array>
#include <unordered_set>

#include "game_data/errors.hpp"

namespace game_data {
namespace {

constexpr std::int64_t kReplayPage = 500;

// Every field dead_letter_fields adds; an entry's own fields of these names are escaped.
constexpr std::array<std::string_view, 1> kAddedFields = {kDeadLetterErrorField};
static_assert(kDeadLetterOrigErrorField.starts_with(kDeadLetterEscapePrefix) &&
              kDeadLetterOrigErrorField.substr(kDeadLetterEscapePrefix.size()) ==
                  kDeadLetterErrorField);

bool is_added_field(std::string_view name) {
    return std::find(kAddedFields.begin(), kAddedFields.end(), name) != kAddedFields.end();
}

// Copies `entries` to `stream`, then removes them from `dead_letter_stream`.
void move_back(StreamTransport& streams, const std::string& dead_letter_stream,
               const std::string& stream, const std::vector<StreamEntry>& entries,
               std::vector<ReplayedEntry>& out) {
    if (entries.empty()) return;
    std::vector<Fields> originals;
    std::vector<std::string> dead_ids;
    originals.reserve(entries.size());
    dead_ids.reserve(entries.size());
    for (const auto& e : entries) {
        originals.push_back(original_fields(e.fields));
        dead_ids.push_back(e.id);
    }
    const std::vector<std::string> copies = streams.add_many(stream, originals);
    streams.remove(dead_letter_stream, dead_ids);
    for (std::size_t i = 0; i < entries.size(); ++i) out.push_back({dead_ids[i], copies.at(i)});
}

}  // namespace

Fields dead_letter_fields(Fields entry, std::string_view reason) {
    for (auto& [k, v] : entry) {
        if (is_added_field(k) || k.starts_with(kDeadLetterEscapePrefix)) {
            k.insert(0, kDeadLetterEscapePrefix);
        }
    }
    entry.emplace_back(kDeadLetterErrorField, reason);
    return entry;
}

Fields original_fields(const Fields& dead_letter) {
    Fields out;
    out.reserve(dead_letter.size());
    for (const auto& [k, v] : dead_letter) {
        if (is_added_field(k)) continue;
        out.emplace_back(k.starts_with(kDeadLetterEscapePrefix)
                             ? k.substr(kDeadLetterEscapePrefix.size())
                             : k,
                         v);
    }
    return out;
}

std::vector<ReplayedEntry> replay_dead_letters(StreamTransport& streams,
                                               const std::string& dead_letter_stream,
                                               const std::string& stream,
                                               const std::optional<std::vector<std::string>>& ids) {
    if (dead_letter_stream == stream) {
        throw InvalidArgument("the dead-letter stream must differ from the stream");
    }
    std::vector<ReplayedEntry> out;
    if (ids) {
        const std::unordered_set<std::string> wanted(ids->begin(), ids->end());
        std::vector<StreamEntry> chosen;
        for (auto& e : streams.range(dead_letter_stream)) {
            if (wanted.contains(e.id)) chosen.push_back(std::move(e));
        }
        move_back(streams, dead_letter_stream, stream, chosen, out);
        return out;
    }
    // The oldest entries, page by page: those present at the start come before anything a
    // consumer dead-letters meanwhile, so counting them bounds the loop to exactly them.
    std::int64_t left = streams.length(dead_letter_stream);
    while (left > 0) {
        auto page = streams.range(dead_letter_stream, std::min(left, kReplayPage));
        if (page.empty()) break;  // someone else removed them
        left -= std::ssize(page);
        move_back(streams, dead_letter_stream, stream, page, out);
    }
    return out;
}

}  // namespace game_data
