// Logging goes through one spdlog logger named "game_data", at level warn by default.
// GAME_DATA_LOG_LEVEL (trace, debug, info, warn, error, off) overrides it at first use.
#pragma once

#include <memory>
#include <string_view>

namespace spdlog { class logger; }

namespace game_data {

std::shared_ptr<spdlog::logger> logger();
void set_log_level(std::string_view level);  // throws InvalidArgument on unknown names

}  // namespace game_data
