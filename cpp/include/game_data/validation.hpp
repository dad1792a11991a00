// Input validation of SPEC section 6. Each check throws InvalidArgument with a message naming
// the field and the rule; they run before anything is written.
#pragma once

#include <cstdint>
#include <string_view>

#include "game_data/metadata.hpp"

namespace game_data {

inline constexpr std::size_t kMaxIdBytes = 128;
inline constexpr std::int32_t kMinCapacity = 1;
inline constexpr std::int32_t kMaxCapacity = 1024;
inline constexpr std::size_t kMaxMetadataBytes = 16 * 1024;

// True for 1..128 bytes of [A-Za-z0-9_.-].
bool is_valid_id(std::string_view id) noexcept;

void validate_id(std::string_view field, std::string_view id);
void validate_capacity(std::int64_t capacity);
void validate_metadata(const Metadata& metadata);  // <= 16 KiB serialised

}  // namespace game_data
