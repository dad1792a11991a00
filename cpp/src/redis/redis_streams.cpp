#include "redis/redis_streams.hpp"

#include "game_data/errors.hpp"

namespace game_data::redis {
namespace {
[[noreturn]] void not_yet() { throw Unsupported("Redis streams are not implemented yet"); }
}  // namespace

std::string RedisStreams::add(const std::string&, const Fields&, std::int64_t) { not_yet(); }
std::vector<std::string> RedisStreams::add_many(const std::string&, const std::vector<Fields>&,
                                                std::int64_t) { not_yet(); }
void RedisStreams::ensure_group(const std::string&, const std::string&) { not_yet(); }
std::vector<StreamEntry> RedisStreams::read_group(const std::string&, const std::string&,
                                                  const std::string&, const std::string&,
                                                  std::int64_t, std::int64_t) { not_yet(); }
std::vector<StreamEntry> RedisStreams::autoclaim(const std::string&, const std::string&,
                                                 const std::string&, std::int64_t, std::string&,
                                                 std::int64_t) { not_yet(); }
std::int64_t RedisStreams::ack(const std::string&, const std::string&,
                               const std::vector<std::string>&) { not_yet(); }
std::int64_t RedisStreams::length(const std::string&) { not_yet(); }
StreamTransport::GroupInfo RedisStreams::group_info(const std::string&, const std::string&) { not_yet(); }
std::vector<StreamEntry> RedisStreams::range(const std::string&, std::int64_t) { not_yet(); }

}  // namespace game_data::redis
