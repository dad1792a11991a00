// Value types of the public contract: wire names, set membership, seats and JSON documents.
#include <gtest/gtest.h>

#include <string>

#include "game_data/json.hpp"
#include "game_data/errors.hpp"
#include "game_data/types.hpp"

namespace game_data {
namespace {

TEST(WireNames, StatesUseTheSpecNames) {
    EXPECT_EQ(to_string(GameState::Created), "created");
    EXPECT_EQ(to_string(GameState::CreatorJoined), "creator_joined");
    EXPECT_EQ(to_string(GameState::AllPlayersJoined), "all_players_joined");
    EXPECT_EQ(to_string(GameState::InProgress), "in_progress");
    EXPECT_EQ(to_string(GameState::Ended), "ended");
}

TEST(WireNames, EventTypesUseTheSpecNames) {
    EXPECT_EQ(to_string(EventType::CreatorJoined), "creator_joined");
    EXPECT_EQ(to_string(EventType::PlayerJoined), "player_joined");
    EXPECT_EQ(to_string(EventType::PlayerLeft), "player_left");
    EXPECT_EQ(to_string(EventType::AllPlayersJoined), "all_players_joined");
    EXPECT_EQ(to_string(EventType::GameStarted), "game_started");
    EXPECT_EQ(to_string(EventType::GameEnded), "game_ended");
    EXPECT_EQ(to_string(EventType::Heartbeat), "heartbeat");
}

TEST(WireNames, StatusesAndSetsUseTheSpecNames) {
    EXPECT_EQ(to_string(ApplyStatus::Applied), "applied");
    EXPECT_EQ(to_string(ApplyStatus::Duplicate), "duplicate");
    EXPECT_EQ(to_string(ApplyStatus::Rejected), "rejected");
    EXPECT_EQ(to_string(GameSet::Pending), "pending");
    EXPECT_EQ(to_string(GameSet::Lobby), "lobby");
    EXPECT_EQ(to_string(GameSet::Active), "active");
}

TEST(WireNames, EveryNameParsesBackToItsValue) {
    for (GameState s : kAllStates) EXPECT_EQ(parse_game_state(to_string(s)), s);
    for (EventType t : kAllEventTypes) EXPECT_EQ(parse_event_type(to_string(t)), t);
    for (ApplyStatus s : {ApplyStatus::Applied, ApplyStatus::Duplicate, ApplyStatus::Rejected}) {
        EXPECT_EQ(parse_apply_status(to_string(s)), s);
    }
}

TEST(WireNames, UnknownNamesDoNotParse) {
    for (const char* bad : {"", "CREATED", "Created", "created ", "game_paused", "pending"}) {
        EXPECT_FALSE(parse_game_state(bad)) << bad;
        EXPECT_FALSE(parse_event_type(bad)) << bad;
        EXPECT_FALSE(parse_apply_status(bad)) << bad;
    }
}

TEST(SetOf, EachLiveStateBelongsToItsSetAndEndedToNone) {
    EXPECT_EQ(set_of(GameState::Created), GameSet::Pending);
    EXPECT_EQ(set_of(GameState::CreatorJoined), GameSet::Lobby);
    EXPECT_EQ(set_of(GameState::AllPlayersJoined), GameSet::Lobby);
    EXPECT_EQ(set_of(GameState::InProgress), GameSet::Active);
    EXPECT_EQ(set_of(GameState::Ended), std::nullopt);
}

TEST(MaxAgesOf, ReturnsTheAgeOfEachSet) {
    const MaxAges ages{1, 2, 3};
    EXPECT_EQ(ages.of(GameSet::Pending), 1);
    EXPECT_EQ(ages.of(GameSet::Lobby), 2);
    EXPECT_EQ(ages.of(GameSet::Active), 3);
}

Game sample() {
    Game g;
    g.id = "g1";
    g.state = GameState::CreatorJoined;
    g.creator_id = "alice";
    g.capacity = 3;
    g.server_id = "gs-1";
    g.players = {"alice", "bob"};
    g.metadata = to_metadata({{"mode", "duel"}, {"map", {{"w", 64}}}});
    g.created_at = 10;
    g.updated_at = 20;
    g.last_seq = 7;
    return g;
}

TEST(GameSeats, FreeSeatsIsCapacityMinusRoster) { EXPECT_EQ(sample().free_seats(), 1); }

TEST(GameSeats, FreeSeatsIsNeverNegative) {
    Game g = sample();
    g.players = {"a", "b", "c", "d", "e"};
    EXPECT_EQ(g.free_seats(), 0);
}

TEST(GameSeats, OnlyCreatorJoinedWithAFreeSeatIsOpen) {
    for (GameState s : kAllStates) {
        Game g = sample();
        g.state = s;
        EXPECT_EQ(g.is_open(), s == GameState::CreatorJoined) << to_string(s);
    }
    Game full = sample();
    full.players.push_back("carol");
    EXPECT_FALSE(full.is_open());
}

TEST(GameSeats, HasPlayerLooksAtTheRoster) {
    EXPECT_TRUE(sample().has_player("bob"));
    EXPECT_FALSE(sample().has_player("carol"));
}

TEST(GameJson, RoundTripsEveryField) {
    const Game g = sample();
    const nlohmann::json j = g;
    EXPECT_EQ(j.at("state"), "creator_joined");
    EXPECT_EQ(j.get<Game>(), g);
}

TEST(GameJson, MissingRequiredFieldIsInvalidArgument) {
    for (const char* field : {"id", "state", "creator_id", "capacity", "server_id"}) {
        nlohmann::json j = sample();
        j.erase(field);
        EXPECT_THROW(j.get<Game>(), InvalidArgument) << field;
    }
}

TEST(GameJson, WrongTypesAndBadValuesAreInvalidArgument) {
    const std::vector<std::pair<std::string, nlohmann::json>> bad = {
        {"state", "paused"}, {"capacity", "four"}, {"capacity", 0}, {"id", "bad id"},
        {"players", 3},      {"metadata", nlohmann::json::array()},
    };
    for (const auto& [field, value] : bad) {
        nlohmann::json j = sample();
        j[field] = value;
        EXPECT_THROW(j.get<Game>(), InvalidArgument) << field << "=" << value.dump();
    }
}

TEST(EventJson, OmitsAbsentOptionalFields) {
    const nlohmann::json j = Event{EventType::GameStarted, "g1", "gs-1", {}, {}, {}};
    EXPECT_EQ(j, (nlohmann::json{
                     {"type", "game_started"}, {"game_id", "g1"}, {"server_id", "gs-1"}}));
}

TEST(EventJson, IncludesPresentOptionalFields) {
    const nlohmann::json j = Event{EventType::PlayerJoined, "g1", "gs-1", "bob", 5, 6};
    EXPECT_EQ(j.at("player_id"), "bob");
    EXPECT_EQ(j.at("ts"), 5);
    EXPECT_EQ(j.at("seq"), 6);
}

TEST(NowMs, IsMillisecondsSinceTheEpoch) {
    const std::int64_t now = now_ms();
    EXPECT_GT(now, 1'600'000'000'000);  // after 2020
    EXPECT_LT(now, 4'100'000'000'000);  // before 2100
}

}  // namespace
}  // namespace game_data
