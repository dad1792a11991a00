#include "redis/redis_eviction.hpp"

#include <spdlog/spdlog.h>

#include "game_data/logging.hpp"

namespace game_data::redis {
namespace {

// The value of `name` in a CONFIG GET reply (a flat name, value, ... array); nullopt if absent.
std::optional<std::string> config_value(const redisReply& reply, std::string_view name) {
    if (reply.type != REDIS_REPLY_ARRAY) return std::nullopt;
    for (size_t i = 0; i + 1 < reply.elements; i += 2) {
        if (reply_text(*reply.element[i]) == name) return std::string(reply_text(*reply.element[i + 1]));
    }
    return std::nullopt;
}

}  // namespace

bool policy_can_evict_records(std::string_view policy) noexcept {
    return policy != "noeviction" && !policy.starts_with("volatile-");
}

std::optional<std::string> eviction_risk(Connection& conn, std::string_view where) {
    // Two commands, not one CONFIG GET with two names: Redis before 7.0 takes only one.
    const auto replies = conn.pipeline({{"CONFIG", "GET", "maxmemory-policy"}, {"CONFIG", "GET", "maxmemory"}});
    for (const auto& r : replies) {
        if (r->type == REDIS_REPLY_ERROR) {
            logger()->info("redis: eviction check skipped on {}: CONFIG GET refused ({})", where,
                           reply_text(*r));
            return std::nullopt;
        }
    }
    const auto policy = config_value(*replies[0], "maxmemory-policy");
    if (!policy) {
        logger()->info("redis: eviction check skipped on {}: no maxmemory-policy reported", where);
        return std::nullopt;
    }
    if (!policy_can_evict_records(*policy)) return std::nullopt;
    const auto maxmemory = config_value(*replies[1], "maxmemory");
    const bool limited = maxmemory && *maxmemory != "0";
    logger()->warn(
        "redis: {} has maxmemory-policy {} (maxmemory {}): under memory pressure Redis may evict "
        "game records and they vanish silently; use noeviction or a volatile-* policy",
        where, *policy, limited ? *maxmemory : std::string("0, so only once a limit is set"));
    return policy;
}

}  // namespace game_data::redis
