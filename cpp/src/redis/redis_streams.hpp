// The StreamTransport of the Redis backend: Redis Streams and consumer groups, over the
// store's connection pool. Thread safe (one pooled connection per call). Blocking reads use a
// second pool of their own (up to kBlockingReaders connections, opened lazily), so consumers
// waiting on the stream never hold the connections that publishers and applies need.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "game_data/store.hpp"
#include "redis/redis_connection.hpp"

namespace game_data::redis {

class RedisStreams final : public StreamTransport {
public:
    static constexpr int kBlockingReaders = 64;

    explicit RedisStreams(std::shared_ptr<ConnectionPool> pool);

    std::string add(const std::string& stream, const Fields& fields, std::int64_t maxlen) override;
    std::vector<std::string> add_many(const std::string& stream, const std::vector<Fields>& entries,
                                      std::int64_t maxlen) override;
    void ensure_group(const std::string& stream, const std::string& group) override;
    std::vector<StreamEntry> read_group(const std::string& stream, const std::string& group,
                                        const std::string& consumer, const std::string& from_id,
                                        std::int64_t count, std::int64_t block_ms) override;
    std::vector<StreamEntry> autoclaim(const std::string& stream, const std::string& group,
                                       const std::string& consumer, std::int64_t min_idle_ms,
                                       std::string& cursor, std::int64_t count) override;
    std::int64_t ack(const std::string& stream, const std::string& group,
                     const std::vector<std::string>& ids) override;
    std::int64_t length(const std::string& stream) override;
    GroupInfo group_info(const std::string& stream, const std::string& group) override;
    std::vector<StreamEntry> range(const std::string& stream, std::int64_t count) override;
    std::int64_t remove(const std::string& stream, const std::vector<std::string>& ids) override;
    LostEntries take_lost(const std::string& stream, const std::string& group) override;
    std::int64_t trim_acknowledged(const std::string& stream) override;
    std::int64_t trim_unwatched(const std::string& stream, std::int64_t max_len) override;
    std::vector<std::string> remove_idle_consumers(const std::string& stream,
                                                   const std::string& group,
                                                   std::int64_t min_idle_ms,
                                                   const std::string& keep) override;

private:
    std::shared_ptr<ConnectionPool> pool_;
    std::shared_ptr<ConnectionPool> blocking_pool_;
    // Entries found lost by reads of new entries (read_group ">"), per (stream, group), until
    // take_lost() reports them.
    std::mutex lost_mu_;
    std::map<std::pair<std::string, std::string>, std::int64_t> lost_found_;
};

}  // namespace game_data::redis
