// Game metadata and filter values, without a JSON library in the public headers. Metadata is a
// JSON object held as an immutable, shared document: copying a Game shares it, and each change
// (set, erase) copies it first, so a copy never sees another's changes. game_data/json.hpp
// (opt-in: it includes nlohmann/json) converts both ways for callers who use nlohmann::json.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace game_data {

// A top-level metadata value a filter can match: a string, a signed 64-bit integer or a
// boolean. A boolean never equals an integer (true is not 1). Floats, null, arrays and objects
// cannot be filtered on; nor can integers above 2^63 - 1 (they are stored as metadata).
class FilterValue {
public:
    enum class Kind : std::uint8_t { String = 0, Integer, Boolean };

    FilterValue(const char* s) : value_(std::string(s)) {}  // NOLINT: implicit on purpose
    FilterValue(std::nullptr_t) = delete;
    FilterValue(std::string s) : value_(std::move(s)) {}    // NOLINT
    FilterValue(std::string_view s) : value_(std::string(s)) {}  // NOLINT
    // Exactly bool: no pointer or float turns into one on the way.
    template <std::same_as<bool> T>
    FilterValue(T b) : value_(b) {}  // NOLINT
    // Any integer type but bool and the character types; an unsigned value above 2^63 - 1
    // throws InvalidArgument.
    template <std::integral T>
        requires(!std::same_as<T, bool> && !std::same_as<T, char> && !std::same_as<T, wchar_t> &&
                 !std::same_as<T, char8_t> && !std::same_as<T, char16_t> &&
                 !std::same_as<T, char32_t>)
    FilterValue(T i) : value_(integer(i)) {}  // NOLINT

    Kind kind() const noexcept { return static_cast<Kind>(value_.index()); }
    // The value when it is of that kind; nullptr / nullopt otherwise.
    const std::string* if_string() const noexcept { return std::get_if<std::string>(&value_); }
    std::optional<std::int64_t> if_integer() const noexcept;
    std::optional<bool> if_boolean() const noexcept;
    // The JSON text of the value ("\"duel\"", "3", "true"): what the open indexes are keyed by.
    std::string json() const;

    bool operator==(const FilterValue&) const = default;

private:
    template <std::integral T>
    static std::int64_t integer(T i) {
        if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
            return checked_integer(static_cast<std::uint64_t>(i));
        } else {
            return static_cast<std::int64_t>(i);
        }
    }
    static std::int64_t checked_integer(std::uint64_t u);

    std::variant<std::string, std::int64_t, bool> value_;
};

// A game's metadata: a JSON object of at most 16 KiB serialised (checked by create_game).
class Metadata {
public:
    Metadata() noexcept = default;  // {}
    // An object of top-level scalars: Metadata{{"mode", "duel"}, {"level", 3}}.
    Metadata(std::initializer_list<std::pair<std::string_view, FilterValue>> values);
    // A JSON object from its text; InvalidArgument when the text is not JSON or not an object.
    static Metadata parse(std::string_view json_text);

    // Compact JSON text, keys in sorted order (equal metadata gives equal text).
    std::string dump() const;
    bool empty() const noexcept;
    std::size_t size() const noexcept;
    bool contains(std::string_view key) const;
    std::vector<std::string> keys() const;  // sorted
    // The value of `key` when it is a string, an integer within int64 or a boolean.
    std::optional<FilterValue> get(std::string_view key) const;
    // The JSON text of any value of `key` (a float, an array, an object...); nullopt if absent.
    std::optional<std::string> get_json(std::string_view key) const;

    Metadata& set(std::string_view key, FilterValue value);
    // Sets `key` to the JSON value in `json_text`; InvalidArgument if it is not JSON.
    Metadata& set_json(std::string_view key, std::string_view json_text);
    bool erase(std::string_view key);  // false if absent

    friend bool operator==(const Metadata& a, const Metadata& b) noexcept;

    struct Document;  // defined in the library (a nlohmann::json object)

private:
    friend struct MetadataAccess;
    explicit Metadata(std::shared_ptr<const Document> doc) noexcept : doc_(std::move(doc)) {}
    std::shared_ptr<const Document> doc_;  // null: the empty object
};

}  // namespace game_data
