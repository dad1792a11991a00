// The eviction check of SPEC section 10: a Redis that may evict keys under memory pressure can
// silently drop game records. Run once when a Redis store connects.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "redis/redis_connection.hpp"

namespace game_data::redis {

// True when a maxmemory-policy can evict game records: every policy except `noeviction` and
// the `volatile-*` ones (those evict only keys with a TTL; records have none, only tombstones
// do). Unknown policies count as risky.
bool policy_can_evict_records(std::string_view policy) noexcept;

// Reads CONFIG GET maxmemory-policy and maxmemory (one round trip) and returns the policy when
// it can evict game records, after logging a warning that names `where`. nullopt when it
// cannot, or when the server refuses CONFIG (an ACL user without +config, a renamed command):
// that is logged at info level and is not an error. Throws only on I/O failure.
std::optional<std::string> eviction_risk(Connection& conn, std::string_view where);

}  // namespace game_data::redis
