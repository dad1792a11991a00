// The generated game_data/version.hpp: its parts and its string come from the one version of
// CMakeLists.txt's project() line, so they must agree with each other.
#include <gtest/gtest.h>

#include <string>

#include "game_data/game_data.hpp"

TEST(Version, TheStringIsMadeOfTheParts) {
    EXPECT_EQ(std::string(GAME_DATA_VERSION_STRING), std::to_string(GAME_DATA_VERSION_MAJOR) + "." +
                                                          std::to_string(GAME_DATA_VERSION_MINOR) + "." +
                                                          std::to_string(GAME_DATA_VERSION_PATCH));
    EXPECT_EQ(GAME_DATA_VERSION, GAME_DATA_VERSION_MAJOR * 10000 + GAME_DATA_VERSION_MINOR * 100 +
                                     GAME_DATA_VERSION_PATCH);
}
