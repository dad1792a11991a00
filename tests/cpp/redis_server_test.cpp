// The test support server itself: private, restartable, and durable when appendonly.
#include <filesystem>

#include <gtest/gtest.h>

#include "support/redis_server.hpp"

using game_data::testing::RedisServer;

TEST(RedisServerSupport, SharedServerAnswersCommands) {
    auto& s = game_data::testing::shared_redis_server();
    EXPECT_EQ(s.command({"PING"}), std::vector<std::string>{"PONG"});
    EXPECT_TRUE(std::filesystem::exists(s.unix_socket()));
    EXPECT_EQ(s.url(3), "redis://127.0.0.1:" + std::to_string(s.port()) + "/3");
}

TEST(RedisServerSupport, CommandFlattensRepliesAndSelectsDb) {
    RedisServer s;
    s.command({"RPUSH", "l", "a", "b"}, 2);
    EXPECT_EQ(s.command({"LRANGE", "l", "0", "-1"}, 2), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(s.command({"EXISTS", "l"}), std::vector<std::string>{"0"});
    EXPECT_EQ(s.command({"GET", "missing"}), std::vector<std::string>{"(nil)"});
    EXPECT_THROW(s.command({"NOSUCHCOMMAND"}), std::runtime_error);
}

TEST(RedisServerSupport, AppendonlyDataSurvivesKillAndRestart) {
    RedisServer s(true);
    const int port = s.port();
    s.command({"SET", "k", "v"});
    s.kill();
    EXPECT_THROW(s.command({"PING"}), std::runtime_error);
    s.restart();
    EXPECT_EQ(s.port(), port);
    EXPECT_EQ(s.command({"GET", "k"}), std::vector<std::string>{"v"});
}

TEST(RedisServerSupport, DestructorRemovesTheDirectory) {
    std::filesystem::path dir;
    {
        RedisServer s;
        dir = std::filesystem::path(s.unix_socket()).parent_path();
        EXPECT_TRUE(std::filesystem::exists(dir));
    }
    EXPECT_FALSE(std::filesystem::exists(dir));
}
