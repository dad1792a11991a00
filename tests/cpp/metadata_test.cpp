// Metadata and FilterValue (metadata.hpp): the public API without a JSON library, and the
// opt-in nlohmann bridge (json.hpp).
#include "game_data/game_data.hpp"

// The umbrella header must not pull in the heavy dependencies (issue 11: 139k preprocessed
// lines before, nlohmann/json being most of them).
#if defined(NLOHMANN_JSON_VERSION_MAJOR) || defined(HIREDIS_MAJOR) || defined(SPDLOG_VERSION)
#error "game_data/game_data.hpp includes nlohmann/json, hiredis or spdlog"
#endif

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "game_data/json.hpp"

namespace game_data {
namespace {

TEST(FilterValue, KeepsItsKindAndABooleanIsNotAnInteger) {
    const FilterValue s = "duel";
    const FilterValue i = 3;
    const FilterValue b = true;
    EXPECT_EQ(s.kind(), FilterValue::Kind::String);
    EXPECT_EQ(*s.if_string(), "duel");
    EXPECT_EQ(i.kind(), FilterValue::Kind::Integer);
    EXPECT_EQ(i.if_integer(), 3);
    EXPECT_EQ(b.kind(), FilterValue::Kind::Boolean);
    EXPECT_EQ(b.if_boolean(), true);
    EXPECT_FALSE(b.if_integer());
    EXPECT_EQ(i.if_string(), nullptr);
    EXPECT_NE(FilterValue(true), FilterValue(1));
    EXPECT_NE(FilterValue("1"), FilterValue(1));
    EXPECT_EQ(FilterValue(std::string("a")), FilterValue(std::string_view("a")));
}

// A float or a pointer never becomes a filter value (through bool, say): it does not compile.
static_assert(!std::is_constructible_v<FilterValue, double>);
static_assert(!std::is_constructible_v<FilterValue, float>);
static_assert(!std::is_constructible_v<FilterValue, const int*>);
static_assert(!std::is_constructible_v<FilterValue, std::nullptr_t>);
static_assert(!std::is_constructible_v<FilterValue, char>);
static_assert(std::is_constructible_v<FilterValue, long long>);

TEST(FilterValue, JsonTextIsWhatTheIndexesAreKeyedBy) {
    EXPECT_EQ(FilterValue("du\"el").json(), "\"du\\\"el\"");
    EXPECT_EQ(FilterValue(-7).json(), "-7");
    EXPECT_EQ(FilterValue(false).json(), "false");
    EXPECT_EQ(FilterValue(std::numeric_limits<std::int64_t>::min()).json(), "-9223372036854775808");
}

TEST(FilterValue, UnsignedAboveInt64IsRefused) {
    const std::uint64_t max = std::numeric_limits<std::int64_t>::max();
    EXPECT_EQ(FilterValue(max).if_integer(), std::numeric_limits<std::int64_t>::max());
    EXPECT_THROW(FilterValue(max + 1), InvalidArgument);
    EXPECT_EQ(FilterValue(std::uint32_t{7}).if_integer(), 7);
}

TEST(Metadata, DefaultIsTheEmptyObject) {
    const Metadata m;
    EXPECT_TRUE(m.empty());
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.dump(), "{}");
    EXPECT_EQ(m, Metadata::parse("{}"));
    EXPECT_FALSE(m.get("mode"));
    EXPECT_FALSE(m.get_json("mode"));
}

TEST(Metadata, InitializerListOfScalarsAndSortedCompactDump) {
    const Metadata m{{"region", "eu"}, {"level", 3}, {"ranked", true}};
    EXPECT_EQ(m.size(), 3u);
    EXPECT_EQ(m.dump(), R"({"level":3,"ranked":true,"region":"eu"})");
    EXPECT_EQ(m.keys(), (std::vector<std::string>{"level", "ranked", "region"}));
    EXPECT_EQ(m.get("region"), FilterValue("eu"));
    EXPECT_EQ(m.get("level"), FilterValue(3));
    EXPECT_EQ(m.get("ranked"), FilterValue(true));
    EXPECT_TRUE(m.contains("level"));
    EXPECT_FALSE(m.contains("lvl"));
}

TEST(Metadata, ParseKeepsEveryJsonValueAndGetOnlyFilterableOnes) {
    const Metadata m = Metadata::parse(
        R"({"map":{"w":64},"tags":["eu"],"pi":3.25,"none":null,"big":18446744073709551615})");
    EXPECT_EQ(m.get_json("map"), R"({"w":64})");
    EXPECT_EQ(m.get_json("tags"), R"(["eu"])");
    EXPECT_EQ(m.get_json("pi"), "3.25");
    EXPECT_EQ(m.get_json("none"), "null");
    EXPECT_EQ(m.get_json("big"), "18446744073709551615");
    for (const char* key : {"map", "tags", "pi", "none", "big"}) EXPECT_FALSE(m.get(key)) << key;
}

TEST(Metadata, ParseRefusesWhatIsNotAJsonObject) {
    for (const char* text : {"", "[]", "3", "\"x\"", "null", "{\"a\":", "{} {}"}) {
        EXPECT_THROW(Metadata::parse(text), InvalidArgument) << text;
    }
}

TEST(Metadata, ChangesNeverReachACopy) {
    Metadata a{{"mode", "duel"}};
    const Metadata b = a;
    a.set("mode", "ffa").set("level", 2).set_json("map", R"({"w":1})");
    EXPECT_EQ(b.dump(), R"({"mode":"duel"})");
    EXPECT_EQ(a.dump(), R"({"level":2,"map":{"w":1},"mode":"ffa"})");
    const Metadata c = a;
    EXPECT_TRUE(a.erase("map"));
    EXPECT_FALSE(a.erase("map"));
    EXPECT_TRUE(c.contains("map"));
    EXPECT_TRUE(a.erase("level"));
    EXPECT_TRUE(a.erase("mode"));
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(a, Metadata{});
}

TEST(Metadata, SetJsonRefusesBadTextAndChangesNothing) {
    Metadata m{{"mode", "duel"}};
    EXPECT_THROW(m.set_json("map", "{"), InvalidArgument);
    EXPECT_EQ(m.dump(), R"({"mode":"duel"})");
}

TEST(Metadata, EqualityIsByValueWhateverTheOrderOfConstruction) {
    EXPECT_EQ((Metadata{{"a", 1}, {"b", "x"}}), Metadata::parse(R"({"b":"x","a":1})"));
    EXPECT_NE((Metadata{{"a", 1}}), (Metadata{{"a", true}}));
    EXPECT_NE((Metadata{{"a", 1}}), Metadata{});
}

TEST(MetadataJson, BridgeConvertsBothWaysAndRefusesNonObjects) {
    const nlohmann::json doc = {{"mode", "duel"}, {"map", {{"w", 64}}}};
    const Metadata m = to_metadata(doc);
    EXPECT_EQ(json_of(m), doc);
    const nlohmann::json back = m;
    EXPECT_EQ(back, doc);
    EXPECT_EQ(doc.get<Metadata>(), m);
    EXPECT_EQ(&json_of(m), &json_of(Metadata(m)));  // a copy shares the document
    EXPECT_THROW(to_metadata(nlohmann::json::array()), InvalidArgument);
    EXPECT_THROW(nlohmann::json(3).get<Metadata>(), InvalidArgument);
    EXPECT_EQ(to_filter_value(nlohmann::json("x")), FilterValue("x"));
    EXPECT_EQ(to_filter_value(nlohmann::json(1.5)), std::nullopt);
    EXPECT_EQ(to_filter_value(nlohmann::json(std::numeric_limits<std::uint64_t>::max())), std::nullopt);
}

TEST(Metadata, FilterValueOfAGameIsItsIndexedText) {
    const Metadata m = Metadata::parse(R"({"mode":"duel","level":3,"pi":1.5})");
    EXPECT_EQ(filter_value(m, "mode"), "\"duel\"");
    EXPECT_EQ(filter_value(m, "level"), "3");
    EXPECT_EQ(filter_value(m, "pi"), std::nullopt);
    EXPECT_EQ(filter_value(m, "absent"), std::nullopt);
}

}  // namespace
}  // namespace game_data
