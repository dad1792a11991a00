// Metadata and FilterValue (metadata.hpp), and the nlohmann::json bridge (json.hpp).
#include <limits>
#include <string>
#include <utility>

#include "game_data/errors.hpp"
#include "game_data/json.hpp"

namespace game_data {

struct Metadata::Document {
    nlohmann::json json = nlohmann::json::object();
};

struct MetadataAccess {
    static const nlohmann::json& json(const Metadata& m) noexcept {
        static const nlohmann::json empty = nlohmann::json::object();
        return m.doc_ ? m.doc_->json : empty;
    }
    static Metadata make(nlohmann::json object) {
        if (!object.is_object()) throw InvalidArgument("metadata must be a JSON object");
        if (object.empty()) return Metadata{};
        return Metadata(std::make_shared<const Metadata::Document>(Metadata::Document{std::move(object)}));
    }
};

namespace {

nlohmann::json parse_json(std::string_view text, std::string_view what) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw InvalidArgument(std::string(what) + " is not valid JSON");
    return j;
}

// Copy-on-write: the document with `change` applied, as new metadata.
template <class Change>
Metadata changed(const Metadata& m, Change&& change) {
    nlohmann::json copy = json_of(m);
    change(copy);
    return to_metadata(std::move(copy));
}

}  // namespace

// --- FilterValue ---

std::int64_t FilterValue::checked_integer(std::uint64_t u) {
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw InvalidArgument("a filter integer must fit in a signed 64-bit integer, got " +
                              std::to_string(u));
    }
    return static_cast<std::int64_t>(u);
}

std::optional<std::int64_t> FilterValue::if_integer() const noexcept {
    if (const auto* i = std::get_if<std::int64_t>(&value_)) return *i;
    return std::nullopt;
}

std::optional<bool> FilterValue::if_boolean() const noexcept {
    if (const auto* b = std::get_if<bool>(&value_)) return *b;
    return std::nullopt;
}

std::string FilterValue::json() const {
    nlohmann::json j;
    to_json(j, *this);
    return j.dump();
}

// --- Metadata ---

Metadata::Metadata(std::initializer_list<std::pair<std::string_view, FilterValue>> values) {
    nlohmann::json doc = nlohmann::json::object();
    for (const auto& [key, value] : values) doc[std::string(key)] = value;
    *this = to_metadata(std::move(doc));
}

Metadata Metadata::parse(std::string_view json_text) {
    return to_metadata(parse_json(json_text, "metadata"));
}

std::string Metadata::dump() const { return json_of(*this).dump(); }
bool Metadata::empty() const noexcept { return !doc_; }
std::size_t Metadata::size() const noexcept { return doc_ ? doc_->json.size() : 0; }

bool Metadata::contains(std::string_view key) const {
    return doc_ && doc_->json.contains(key);
}

std::vector<std::string> Metadata::keys() const {
    std::vector<std::string> out;
    for (const auto& [key, value] : json_of(*this).items()) out.push_back(key);
    return out;
}

std::optional<FilterValue> Metadata::get(std::string_view key) const {
    if (!doc_) return std::nullopt;
    const auto it = doc_->json.find(key);
    if (it == doc_->json.end()) return std::nullopt;
    return to_filter_value(*it);
}

std::optional<std::string> Metadata::get_json(std::string_view key) const {
    if (!doc_) return std::nullopt;
    const auto it = doc_->json.find(key);
    if (it == doc_->json.end()) return std::nullopt;
    return it->dump();
}

Metadata& Metadata::set(std::string_view key, FilterValue value) {
    *this = changed(*this, [&](nlohmann::json& j) { j[std::string(key)] = value; });
    return *this;
}

Metadata& Metadata::set_json(std::string_view key, std::string_view json_text) {
    nlohmann::json value = parse_json(json_text, "metadata value '" + std::string(key) + "'");
    *this = changed(*this, [&](nlohmann::json& j) { j[std::string(key)] = std::move(value); });
    return *this;
}

bool Metadata::erase(std::string_view key) {
    if (!contains(key)) return false;
    *this = changed(*this, [&](nlohmann::json& j) { j.erase(std::string(key)); });
    return true;
}

bool operator==(const Metadata& a, const Metadata& b) noexcept {
    return a.doc_ == b.doc_ || json_of(a) == json_of(b);
}

// --- json.hpp ---

const nlohmann::json& json_of(const Metadata& metadata) noexcept {
    return MetadataAccess::json(metadata);
}

Metadata to_metadata(nlohmann::json object) { return MetadataAccess::make(std::move(object)); }

std::optional<FilterValue> to_filter_value(const nlohmann::json& value) {
    if (value.is_string()) return FilterValue(value.get_ref<const std::string&>());
    if (value.is_boolean()) return FilterValue(value.get<bool>());
    if (value.is_number_integer()) {
        if (value.is_number_unsigned() &&
            value.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return std::nullopt;
        }
        return FilterValue(value.get<std::int64_t>());
    }
    return std::nullopt;
}

void to_json(nlohmann::json& j, const Metadata& m) { j = json_of(m); }
void from_json(const nlohmann::json& j, Metadata& m) { m = to_metadata(j); }

void to_json(nlohmann::json& j, const FilterValue& v) {
    if (const auto* s = v.if_string()) j = *s;
    else if (const auto i = v.if_integer()) j = *i;
    else j = *v.if_boolean();
}

}  // namespace game_data
