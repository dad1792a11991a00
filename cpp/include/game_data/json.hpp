// Opt-in bridge to nlohmann::json (this header includes nlohmann/json.hpp; no other public
// header does). For callers who already work with nlohmann::json:
//   nlohmann::json j = game;                       // a Game, an Event, Metadata or FilterValue
//   Metadata m = game_data::to_metadata(j_object);  // InvalidArgument unless a JSON object
//   const nlohmann::json& doc = game_data::json_of(game.metadata);  // no copy
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "game_data/metadata.hpp"
#include "game_data/types.hpp"

namespace game_data {

// The metadata's document (a JSON object), shared, never copied.
const nlohmann::json& json_of(const Metadata& metadata) noexcept;
// Metadata holding `object`; InvalidArgument ("metadata must be a JSON object") otherwise.
Metadata to_metadata(nlohmann::json object);
// The filter value of a JSON value: strings, integers within int64 and booleans; else nullopt.
std::optional<FilterValue> to_filter_value(const nlohmann::json& value);

// nlohmann::json's conversion hooks, found by argument-dependent lookup.
void to_json(nlohmann::json& j, const Metadata& m);
void from_json(const nlohmann::json& j, Metadata& m);  // InvalidArgument unless an object
void to_json(nlohmann::json& j, const FilterValue& v);
void to_json(nlohmann::json& j, const Game& g);
void from_json(const nlohmann::json& j, Game& g);  // InvalidArgument on a bad document
void to_json(nlohmann::json& j, const Event& e);

}  // namespace game_data
