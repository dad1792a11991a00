// Input validation of SPEC section 6: ids, capacity and metadata, at and around every limit.
#include <gtest/gtest.h>

#include <string>

#include "game_data/errors.hpp"
#include "game_data/json.hpp"
#include "game_data/validation.hpp"

namespace game_data {
namespace {

using nlohmann::json;

TEST(ValidateId, EmptyIdIsRefused) {
    EXPECT_FALSE(is_valid_id(""));
    EXPECT_THROW(validate_id("game_id", ""), InvalidArgument);
}

TEST(ValidateId, OneByteIdIsAccepted) {
    EXPECT_TRUE(is_valid_id("a"));
    EXPECT_NO_THROW(validate_id("game_id", "a"));
}

TEST(ValidateId, IdOf128BytesIsAccepted) {
    const std::string id(128, 'x');
    EXPECT_TRUE(is_valid_id(id));
    EXPECT_NO_THROW(validate_id("game_id", id));
}

TEST(ValidateId, IdOf129BytesIsRefused) {
    const std::string id(129, 'x');
    EXPECT_FALSE(is_valid_id(id));
    EXPECT_THROW(validate_id("game_id", id), InvalidArgument);
}

TEST(ValidateId, EveryAllowedCharacterClassIsAccepted) {
    for (const char* id :
         {"abcxyz", "ABCXYZ", "0123456789", "_", ".", "-", "a_B.9-z", "..", "-1"}) {
        EXPECT_TRUE(is_valid_id(id)) << id;
        EXPECT_NO_THROW(validate_id("game_id", id)) << id;
    }
}

TEST(ValidateId, EveryByteOutsideTheAllowedSetIsRefused) {
    const std::string allowed =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
    int refused = 0;
    for (int b = 0; b < 256; ++b) {
        const char c = static_cast<char>(b);
        if (allowed.find(c) != std::string::npos) continue;
        const std::string id = std::string("ok") + c + "ok";
        EXPECT_FALSE(is_valid_id(id)) << "byte " << b;
        ++refused;
    }
    EXPECT_EQ(refused, 256 - 65);
}

TEST(ValidateId, DisallowedCharactersAreRefusedWithAnError) {
    for (const std::string& id : {std::string("a b"), std::string("a:b"), std::string("a{b"),
                                 std::string("a}b"), std::string("a/b"), std::string("caf\xc3\xa9"),
                                 std::string("a\0b", 3), std::string("a\nb"), std::string("a*b")}) {
        EXPECT_THROW(validate_id("game_id", id), InvalidArgument) << id;
    }
}

TEST(ValidateId, ErrorNamesTheField) {
    try {
        validate_id("creator_id", "bad id");
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("creator_id"), std::string::npos) << e.what();
    }
}

TEST(ValidateCapacity, ZeroIsRefused) { EXPECT_THROW(validate_capacity(0), InvalidArgument); }

TEST(ValidateCapacity, NegativeIsRefused) {
    EXPECT_THROW(validate_capacity(-1), InvalidArgument);
    EXPECT_THROW(validate_capacity(INT64_MIN), InvalidArgument);
}

TEST(ValidateCapacity, OneIsAccepted) { EXPECT_NO_THROW(validate_capacity(1)); }

TEST(ValidateCapacity, Of1024IsAccepted) { EXPECT_NO_THROW(validate_capacity(1024)); }

TEST(ValidateCapacity, Of1025IsRefused) {
    EXPECT_THROW(validate_capacity(1025), InvalidArgument);
    EXPECT_THROW(validate_capacity(INT64_MAX), InvalidArgument);
}

// The metadata check on a JSON document: a non-object is refused on its way to Metadata.
void validate_json(const json& j) { validate_metadata(to_metadata(j)); }

// An object whose dump() is exactly `bytes` long: {"k":"xxx..."} is 8 bytes plus the padding.
json object_of_serialised_size(std::size_t bytes) {
    json j = {{"k", std::string(bytes - 8, 'x')}};
    return j;
}

TEST(ValidateMetadata, EmptyObjectIsAccepted) {
    EXPECT_NO_THROW(validate_json(json::object()));
}

TEST(ValidateMetadata, NonObjectsAreRefused) {
    for (const json& j : {json(nullptr), json(1), json("text"), json::array(), json(true),
                          json::array({1, 2})}) {
        EXPECT_THROW(validate_json(j), InvalidArgument) << j.dump();
    }
}

TEST(ValidateMetadata, ExactlySixteenKibSerialisedIsAccepted) {
    const json j = object_of_serialised_size(16384);
    ASSERT_EQ(j.dump().size(), 16384u);
    EXPECT_NO_THROW(validate_json(j));
}

TEST(ValidateMetadata, OneByteOverSixteenKibIsRefused) {
    const json j = object_of_serialised_size(16385);
    ASSERT_EQ(j.dump().size(), 16385u);
    EXPECT_THROW(validate_json(j), InvalidArgument);
}

TEST(ValidateMetadata, NestedObjectsAndArraysAreAccepted) {
    const json j = {{"mode", "duel"},
                    {"map", {{"name", "dust"}, {"size", {{"w", 64}, {"h", 64}}}}},
                    {"tags", {"ranked", "eu"}},
                    {"ratio", 0.5},
                    {"open", nullptr}};
    EXPECT_NO_THROW(validate_json(j));
}

TEST(ValidateMetadata, NestedObjectsCountTowardsTheSizeLimit) {
    json inner = object_of_serialised_size(16384);
    const json j = {{"outer", inner}};
    EXPECT_GT(j.dump().size(), 16384u);
    EXPECT_THROW(validate_json(j), InvalidArgument);
}

TEST(ValidateMetadata, InvalidUtf8StringIsRefusedNotCrashed) {
    const json j = {{"k", std::string("\xff\xfe")}};
    EXPECT_THROW(validate_json(j), InvalidArgument);
}

}  // namespace
}  // namespace game_data
