// In-process StreamTransport with Redis Streams semantics: entry ids "ms-seq", consumer
// groups with a pending-entries list, delivery counts, idle-based claiming, trimming, and an
// exact count per group of the entries trimmed before the group read them.
// Thread safe; read_group blocks on a condition variable, never by sleeping.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>

#include "game_data/store.hpp"

namespace game_data::memory {

struct StreamId {
    std::uint64_t ms = 0;
    std::uint64_t seq = 0;
    auto operator<=>(const StreamId&) const = default;
    std::string str() const;
    static StreamId parse(const std::string& text);  // throws InvalidArgument
};

class MemoryStreams final : public StreamTransport {
public:
    std::string add(const std::string& stream, const Fields& fields, std::int64_t maxlen) override;
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
    struct Pending {
        std::string consumer;
        std::int64_t delivered_at = 0;
        std::int64_t deliveries = 0;
    };
    struct Group {
        StreamId last_delivered;
        std::map<StreamId, Pending> pel;
        std::map<std::string, std::int64_t> consumers;  // name -> last read or claim (ms)
        std::int64_t lost = 0;  // entries trimmed before the group read them, not yet taken
    };
    struct Stream {
        std::map<StreamId, Fields> entries;
        StreamId last_id;
        std::int64_t removed = 0;  // entries ever trimmed
        std::map<std::string, Group> groups;
    };

    Group& group_of(const std::string& stream, const std::string& group);  // throws GroupMissing
    // Removes the entries before `end`, counting for each group those it had not read.
    static void remove_front(Stream& s, std::map<StreamId, Fields>::iterator end);
    static GroupInfo info_of(const Stream& s, const Group& g);

    std::mutex mutex_;
    std::condition_variable added_;
    std::map<std::string, Stream> streams_;
};

}  // namespace game_data::memory
