// SPEC section 10: a Redis whose maxmemory-policy can evict game records is reported at
// connect, with a warning and the game_data_eviction_risk gauge; a user that may not run
// CONFIG connects as before and the check is skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "game_data/logging.hpp"
#include "game_data/matchmaker.hpp"
#include "redis/redis_eviction.hpp"
#include "support/redis_server.hpp"

namespace game_data {
namespace {

using testing::RedisServer;

// Collects what the game_data logger writes, at info level and above, while it lives.
class LogCapture {
public:
    LogCapture()
        : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)), level_(logger()->level()) {
        sink_->set_pattern("[%l] %v");
        logger()->sinks().push_back(sink_);
        logger()->set_level(spdlog::level::info);
    }
    ~LogCapture() {
        auto& sinks = logger()->sinks();
        sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
        logger()->set_level(level_);
    }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    std::string text() {
        sink_->flush();
        return out_.str();
    }

private:
    std::ostringstream out_;
    std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
    spdlog::level::level_enum level_;
};

// Sets the server's eviction policy and memory limit, then connects to it.
Matchmaker connect_under(RedisServer& server, const std::string& policy, const std::string& maxmemory) {
    server.command({"CONFIG", "SET", "maxmemory-policy", policy});
    server.command({"CONFIG", "SET", "maxmemory", maxmemory});
    return connect(server.url());
}

double eviction_gauge(Matchmaker& mm) { return mm.stats().at(std::string(metric::kEvictionRisk)); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(EvictionPolicy, OnlyNoevictionAndVolatilePoliciesKeepGameRecords) {
    for (const char* safe : {"noeviction", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"}) {
        EXPECT_FALSE(redis::policy_can_evict_records(safe)) << safe;
    }
    for (const char* risky : {"allkeys-lru", "allkeys-lfu", "allkeys-random", "some-future-policy"}) {
        EXPECT_TRUE(redis::policy_can_evict_records(risky)) << risky;
    }
}

TEST(RedisEviction, AllkeysLruIsWarnedAboutAndShownInStats) {
    RedisServer server;
    LogCapture log;
    Matchmaker mm = connect_under(server, "allkeys-lru", "104857600");
    EXPECT_EQ(mm.store()->eviction_risk(), std::optional<std::string>("allkeys-lru"));
    EXPECT_EQ(eviction_gauge(mm), 1.0);
    const std::string text = log.text();
    EXPECT_TRUE(contains(text, "[warning]")) << text;
    EXPECT_TRUE(contains(text, "maxmemory-policy allkeys-lru (maxmemory 104857600)")) << text;
}

TEST(RedisEviction, APolicyWithoutAMemoryLimitIsStillReported) {
    // Inert until someone sets maxmemory (CONFIG SET, a managed service's default): reported.
    RedisServer server;
    LogCapture log;
    Matchmaker mm = connect_under(server, "allkeys-random", "0");
    EXPECT_EQ(eviction_gauge(mm), 1.0);
    EXPECT_TRUE(contains(log.text(), "maxmemory-policy allkeys-random (maxmemory 0")) << log.text();
}

TEST(RedisEviction, NoevictionAndVolatilePoliciesAreNoRisk) {
    RedisServer server;
    for (const char* policy : {"noeviction", "volatile-lru", "volatile-ttl"}) {
        LogCapture log;
        Matchmaker mm = connect_under(server, policy, "104857600");
        EXPECT_EQ(mm.store()->eviction_risk(), std::nullopt) << policy;
        EXPECT_EQ(eviction_gauge(mm), 0.0) << policy;
        EXPECT_FALSE(contains(log.text(), "[warning]")) << policy << ": " << log.text();
    }
}

TEST(RedisEviction, AUserWithoutConfigRightsConnectsAndTheCheckIsSkipped) {
    RedisServer server;
    server.command({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
    server.command({"ACL", "SETUSER", "mm", "on", ">pw", "~*", "&*", "+@all", "-config"});
    LogCapture log;
    std::optional<Matchmaker> mm;
    ASSERT_NO_THROW(mm.emplace(connect("redis://mm:pw@127.0.0.1:" + std::to_string(server.port()) + "/0")));
    EXPECT_EQ(mm->store()->eviction_risk(), std::nullopt);  // unknown: not reported as a risk
    EXPECT_EQ(eviction_gauge(*mm), 0.0);
    EXPECT_EQ(mm->counts().pending, 0);  // the handle works
    const std::string text = log.text();
    EXPECT_TRUE(contains(text, "[info] redis: eviction check skipped")) << text;
    EXPECT_TRUE(contains(text, "NOPERM")) << text;
    EXPECT_FALSE(contains(text, "[warning]")) << text;
}

TEST(EvictionRisk, TheMemoryBackendReportsNone) {
    Matchmaker mm = connect("memory://");
    EXPECT_EQ(eviction_gauge(mm), 0.0);
}

}  // namespace
}  // namespace game_data
