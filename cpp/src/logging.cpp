#include "game_data/logging.hpp"

#include <cstdlib>
#include <mutex>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "game_data/errors.hpp"

namespace game_data {
namespace {

spdlog::level::level_enum parse_level(std::string_view name) {
    auto level = spdlog::level::from_str(std::string(name));
    if (level == spdlog::level::off && name != "off") {
        throw InvalidArgument("unknown log level '" + std::string(name) + "'");
    }
    return level;
}

}  // namespace

std::shared_ptr<spdlog::logger> logger() {
    static std::shared_ptr<spdlog::logger> instance = [] {
        auto existing = spdlog::get("game_data");
        if (existing) return existing;
        auto log = std::make_shared<spdlog::logger>(
            "game_data", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        log->set_level(spdlog::level::warn);
        if (const char* env = std::getenv("GAME_DATA_LOG_LEVEL")) {
            try {
                log->set_level(parse_level(env));
            } catch (const InvalidArgument&) {
                log->warn("ignoring unknown GAME_DATA_LOG_LEVEL '{}'", env);
            }
        }
        return log;
    }();
    return instance;
}

void set_log_level(std::string_view level) { logger()->set_level(parse_level(level)); }

}  // namespace game_data
