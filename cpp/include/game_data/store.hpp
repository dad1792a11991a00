// The storage plug-in point. A Store owns every atomic operation on games and hands out the
// event-stream transport of the same backend. Implementations must be thread safe and must
// pass tests/cpp/store_conformance_test.cpp. Stores are selected by URL scheme through a
// registry that refuses duplicate schemes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "game_data/types.hpp"
#include "game_data/url.hpp"

namespace game_data {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct StreamEntry {
    std::string id;
    Fields fields;
    bool deleted = false;          // trimmed while pending: the id came back with no fields
    std::int64_t deliveries = 1;   // times delivered, including this one
};

// Redis-Streams-shaped transport (XADD, consumer groups, XREADGROUP, XAUTOCLAIM, XACK).
// Thread safe. Errors: GroupMissing when the group or its stream does not exist, a
// ConnectionError (OutOfMemory, BusyLoading, ...) when the backend refused or did not answer.
class StreamTransport {
public:
    // Longest a read may block (one hour); read_group refuses more with InvalidArgument.
    static constexpr std::int64_t kMaxBlockMs = 3'600'000;
    // Throws InvalidArgument unless 0 <= block_ms <= kMaxBlockMs (for implementations).
    static void check_block_ms(std::int64_t block_ms);

    virtual ~StreamTransport() = default;

    // Append; maxlen > 0 trims approximately to that length. Returns the entry id.
    virtual std::string add(const std::string& stream, const Fields& fields,
                            std::int64_t maxlen = 0) = 0;
    // Several appends in one round trip where the backend can.
    virtual std::vector<std::string> add_many(const std::string& stream,
                                              const std::vector<Fields>& entries,
                                              std::int64_t maxlen = 0);
    // Create the group at the start of the stream (id 0), creating the stream if needed.
    // When the group exists this only reads (no write), so it works while the backend
    // refuses writes (out of memory).
    virtual void ensure_group(const std::string& stream, const std::string& group) = 0;
    // from_id "0": this consumer's own pending entries (deliveries incremented);
    // ">": new entries. block_ms 0 = do not block; 0..kMaxBlockMs.
    virtual std::vector<StreamEntry> read_group(const std::string& stream, const std::string& group,
                                                const std::string& consumer,
                                                const std::string& from_id, std::int64_t count,
                                                std::int64_t block_ms) = 0;
    // Claim entries pending for at least min_idle_ms from any consumer, starting at `cursor`;
    // returns them and sets `cursor` to where the next call should start ("0-0" = wrapped).
    virtual std::vector<StreamEntry> autoclaim(const std::string& stream, const std::string& group,
                                               const std::string& consumer,
                                               std::int64_t min_idle_ms, std::string& cursor,
                                               std::int64_t count) = 0;
    virtual std::int64_t ack(const std::string& stream, const std::string& group,
                             const std::vector<std::string>& ids) = 0;
    virtual std::int64_t length(const std::string& stream) = 0;
    // Entries not yet delivered to the group plus entries delivered but not acknowledged.
    struct GroupInfo {
        std::int64_t pending = 0;
        std::int64_t lag = 0;  // entries after the group's last delivered id (-1 if unknown)
    };
    virtual GroupInfo group_info(const std::string& stream, const std::string& group) = 0;
    // All entries, oldest first (tests, dead-letter inspection). count 0 = all.
    virtual std::vector<StreamEntry> range(const std::string& stream, std::int64_t count = 0) = 0;

    struct LostEntries {
        std::int64_t lost = 0;  // entries newly found removed before the group read them
        bool exact = true;      // false: this backend cannot count them now (lost is then 0)
        GroupInfo info;         // the group afterwards
    };
    // Entries removed from the stream (trimmed) before `group` read them, reported once per
    // group whichever of its consumers asks: afterwards the group's lag no longer counts them.
    // Default: cannot tell (exact = false). Redis >= 7 and memory:// count exactly.
    virtual LostEntries take_lost(const std::string& stream, const std::string& group);
    // Removes the entries that every consumer group of the stream has read and acknowledged
    // (XTRIM MINID <the oldest id any group still needs>); never an entry some group has not
    // acknowledged, and nothing from a stream without groups. Returns how many were removed.
    // Default: Unsupported.
    virtual std::int64_t trim_acknowledged(const std::string& stream);
    // Removes the group's consumers, other than `keep`, that have nothing pending and have
    // been idle for at least min_idle_ms (XGROUP DELCONSUMER); returns their names. A removed
    // consumer that reads again is created again. Default: removes none.
    virtual std::vector<std::string> remove_idle_consumers(const std::string& stream,
                                                           const std::string& group,
                                                           std::int64_t min_idle_ms,
                                                           const std::string& keep);
};

class Store {
public:
    virtual ~Store() = default;

    // Insert a new game in state Created, in the pending set scored now_ms.
    // Throws GameExists if the id is live or tombstoned.
    virtual void create_game(const Game& game, std::int64_t now_ms) = 0;
    virtual std::optional<Game> get_game(std::string_view id) = 0;
    // Lobby games in CreatorJoined with free seats, oldest lobby score first.
    virtual std::vector<Game> get_open_games(std::size_t limit) = 0;
    // Atomically apply one event (validated by the caller) at the matchmaker's time now_ms.
    virtual ApplyResult apply(const Event& event, std::int64_t now_ms) = 0;
    // Apply in order; pipelined where the backend can. Default: one apply() each.
    virtual std::vector<ApplyResult> apply_many(std::span<const Event> events, std::int64_t now_ms);
    // Remove every game whose score in its set is older than now_ms - max_age of that set,
    // in batches of at most `batch` per atomic step; returns the removed records.
    virtual std::vector<Game> reap(std::int64_t now_ms, const MaxAges& max_ages,
                                   std::size_t batch) = 0;
    virtual Counts counts() = 0;
    // Score of the game in its set (tests and tools); nullopt if not in any set.
    virtual std::optional<std::pair<GameSet, std::int64_t>> set_entry(std::string_view id) = 0;
    virtual std::shared_ptr<StreamTransport> streams() = 0;
    // Namespace prefix the store writes under ("gd" by default).
    virtual const std::string& ns() const = 0;
};

struct ConnectOptions {
    std::string ns = "gd";
    MaxAges max_age;
    std::int64_t connect_timeout_ms = 2'000;
    std::int64_t command_timeout_ms = 5'000;
    int pool_size = 4;
    std::int64_t tombstone_ttl_ms = 3'600'000;  // how long ended games are remembered
    std::size_t reap_batch = 500;
};

using StoreFactory =
    std::function<std::shared_ptr<Store>(const Url& url, const ConnectOptions& options)>;

// Registers a backend for a URL scheme. Throws InvalidArgument if the scheme is taken.
void register_store(const std::string& scheme, StoreFactory factory);
// Opens a store for the URL via its scheme's factory. Throws InvalidArgument for unknown schemes.
std::shared_ptr<Store> open_store(const Url& url, const ConnectOptions& options);
std::vector<std::string> registered_schemes();

// Built-in backends (registered automatically; exposed for direct use in tests).
std::shared_ptr<Store> make_memory_store(const Url& url, const ConnectOptions& options);
std::shared_ptr<Store> make_redis_store(const Url& url, const ConnectOptions& options);

}  // namespace game_data
