#include "game_data/validation.hpp"

#include <array>
#include <string>

#include "game_data/errors.hpp"
#include "game_data/json.hpp"

namespace game_data {

namespace {

// The bytes an id may hold: [A-Za-z0-9_.-], as a table (every event checks three ids).
constexpr std::array<bool, 256> kIdByte = [] {
    std::array<bool, 256> ok{};
    for (int c = 0; c < 256; ++c) {
        ok[static_cast<std::size_t>(c)] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    }
    return ok;
}();

}  // namespace

bool is_valid_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > kMaxIdBytes) return false;
    bool ok = true;
    for (unsigned char c : id) ok &= kIdByte[c];  // no early exit: a branch-free loop
    return ok;
}

void validate_id(std::string_view field, std::string_view id) {
    if (id.empty()) throw InvalidArgument(std::string(field) + " must not be empty");
    if (id.size() > kMaxIdBytes) {
        throw InvalidArgument(std::string(field) + " is longer than 128 bytes");
    }
    if (!is_valid_id(id)) {
        throw InvalidArgument(std::string(field) + " may only hold [A-Za-z0-9_.-]");
    }
}

void validate_capacity(std::int64_t capacity) {
    if (capacity < kMinCapacity || capacity > kMaxCapacity) {
        throw InvalidArgument("capacity must be between 1 and 1024, got " + std::to_string(capacity));
    }
}

void validate_metadata(const Metadata& metadata) {
    std::string text;
    try {
        text = metadata.dump();
    } catch (const nlohmann::json::exception& e) {
        throw InvalidArgument(std::string("metadata is not serialisable: ") + e.what());
    }
    if (text.size() > kMaxMetadataBytes) {
        throw InvalidArgument("metadata is larger than 16 KiB when serialised (" +
                              std::to_string(text.size()) + " bytes)");
    }
}

}  // namespace game_data
