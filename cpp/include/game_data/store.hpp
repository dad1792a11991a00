// The event-stream transport (a plug-in point of each backend) and Store, the one place every
// game operation runs above the storage plug-in point (backend.hpp). Backends are selected by
// URL scheme through a registry that refuses duplicate schemes.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "game_data/backend.hpp"
#include "game_data/metrics.hpp"
#include "game_data/types.hpp"
#include "game_data/url.hpp"

namespace game_data {


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
    // Deletes the entries with these ids (XDEL; dead-letter replay); returns how many existed.
    // Default: Unsupported.
    virtual std::int64_t remove(const std::string& stream, const std::vector<std::string>& ids);

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
    // When no consumer group reads the stream, trims it to its newest max_len entries; a
    // stream some group reads is left alone. Returns how many were removed. Default: none.
    virtual std::int64_t trim_unwatched(const std::string& stream, std::int64_t max_len);
    // Removes the group's consumers, other than `keep`, that have nothing pending and have
    // been idle for at least min_idle_ms (XGROUP DELCONSUMER); returns their names. A removed
    // consumer that reads again is created again. Default: removes none.
    virtual std::vector<std::string> remove_idle_consumers(const std::string& stream,
                                                           const std::string& group,
                                                           std::int64_t min_idle_ms,
                                                           const std::string& keep);
};

// A live game and its score (ms it entered the set), as listed by Store::set_members.
struct SetMember {
    Game game;
    std::int64_t score = 0;
};

struct ConnectOptions {
    std::string ns = "gd";
    MaxAges max_age;
    std::int64_t connect_timeout_ms = 2'000;
    std::int64_t command_timeout_ms = 5'000;
    int pool_size = 4;
    std::int64_t tombstone_ttl_ms = 3'600'000;  // how long ended games are remembered
    std::size_t reap_batch = 500;
    // Entries the reaped stream keeps while no consumer group (reaped feed) reads it: each
    // reap then trims it to this many, the oldest going first and counted in
    // game_data_reaped_dropped_total. A stream some group reads is never trimmed by this
    // (its groups' acknowledgements trim it). 0: keep every entry.
    std::int64_t reaped_retention = 100'000;
    // Metadata keys open games are indexed by, so get_open_games / quick_join can filter on
    // them (SPEC section 7). Stored in the namespace by the first client that gives them; a
    // client giving other keys gets InvalidArgument, one giving none (nullopt) adopts them.
    std::optional<std::vector<std::string>> filter_keys;
};

// Every game operation, on any backend: validation, the rulebook (lifecycle.hpp), set and
// index membership, batching and optimistic retries live here once; the Backend only stores.
// Thread safe. Atomic per game: each game's change is one guarded backend commit.
class Store {
public:
    Store(std::shared_ptr<Backend> backend, const ConnectOptions& options);

    // Times. Every `now` below is optional: nullopt (the default everywhere but in tests and
    // simulations) means the backend's clock (Backend::clock: Redis's TIME, read in the same
    // round trip as the records where there is one), so one clock decides every expiry, score
    // and age whatever the clocks of the processes. An explicit time is the caller's: it decides
    // that call's reservations, ages and scores (README "One clock").
    using Now = std::optional<std::int64_t>;

    // Insert a new game in state Created, in the pending set scored now (created_at and
    // updated_at are set to it); returns the game as stored. Throws GameExists if the id is
    // live or tombstoned.
    Game create_game(const Game& game, Now now = std::nullopt);
    // Creates every game in one guarded commit, all or none: when an id is taken (or stored
    // under a tombstone) nothing is written and GameExists names every taken id. Ids must be
    // distinct; at most kMaxCreateBatch games per call. Each comes back stamped as create_game's.
    static constexpr std::size_t kMaxCreateBatch = 1000;
    std::vector<Game> create_games(std::span<const Game> games, Now now = std::nullopt);
    // The game as of now (reservations expired by then are left out).
    std::optional<Game> get_game(std::string_view id, Now now = std::nullopt);
    // Lobby games in CreatorJoined with free seats, oldest lobby score first.
    std::vector<Game> get_open_games(std::size_t limit);
    // Open games matching `filters` with at least min_free_seats free at now (reservations
    // counted), oldest first, after `cursor` (a next_cursor of an earlier page).
    OpenGamesPage open_games_page(std::size_t limit, const Filters& filters,
                                  std::int32_t min_free_seats,
                                  const std::optional<std::string>& cursor, Now now = std::nullopt);
    // Reserves (or refreshes) a seat for player_id until now + ttl_ms. Throws GameNotFound,
    // SeatUnavailable. `exclusive`: the player's one seat of the namespace (README "Seats"):
    // refused with SeatRefusal::ReservedElsewhere while they hold a live one in another game.
    Reservation reserve_seat(const std::string& game_id, const std::string& player_id,
                             std::int64_t ttl_ms, Now now = std::nullopt, bool exclusive = true);
    bool cancel_reservation(const std::string& game_id, const std::string& player_id,
                            Now now = std::nullopt);
    // Reserves a seat in the oldest open game matching `filters`; nullopt when none has one.
    // `exclusive`: a player who holds a live seat in the namespace gets that seat back when its
    // game matches `filters` (a retried call takes no second seat); SeatUnavailable
    // (ReservedElsewhere) when it does not and another game could be taken.
    std::optional<Reservation> quick_join(const std::string& player_id, const Filters& filters,
                                          std::int64_t ttl_ms, Now now = std::nullopt,
                                          bool exclusive = true);
    // Atomically apply one event (validated by the caller) at time now.
    ApplyResult apply(const Event& event, Now now = std::nullopt);
    // Apply in order, results per event: one read and one commit per batch (plus one retry
    // round for games another client wrote in between). A game whose write the backend
    // refuses (a key of the wrong type) gets Rejected results with the reason, nothing written.
    std::vector<ApplyResult> apply_many(std::span<const Event> events, Now now = std::nullopt);
    // Remove every game whose score in its set is older than now - max age of that set,
    // in batches of at most `batch` per atomic step; returns the removed records. Each removal
    // is also appended to the reaped stream (reaped_stream()) in the same atomic step.
    std::vector<Game> reap(Now now, const MaxAges& max_ages, std::size_t batch);
    // The backend's clock (ms): the time nullopt stands for.
    std::int64_t clock() { return backend_->clock(); }
    Counts counts();
    // The set and score of a live game (tests and tools); nullopt if not live.
    std::optional<std::pair<GameSet, std::int64_t>> set_entry(std::string_view id);
    // Up to `limit` (0..10000) live games of one set with their scores, oldest first, as of
    // now (inspection: `game-data games`).
    std::vector<SetMember> set_members(GameSet set, std::size_t limit, Now now = std::nullopt);
    std::shared_ptr<StreamTransport> streams();
    // Namespace prefix the store writes under ("gd" by default).
    const std::string& ns() const noexcept { return ns_; }
    // The stream every reaped game is appended to ("<ns>:{0}:reaped").
    std::string reaped_stream() const;
    const std::shared_ptr<Backend>& backend() const noexcept { return backend_; }
    std::optional<std::string> eviction_risk() const { return backend_->eviction_risk(); }
    // Deletes every key of this store's namespace (see Backend::remove_namespace).
    std::int64_t remove_namespace() { return backend_->remove_namespace(ns_); }
    // The namespace's filter keys, sorted, as last read (settled with the backend on first
    // use; connect() settles them at once so a mismatch fails there). Every commit checks
    // that they are still the namespace's (NamespaceConfig), and reads them again if not.
    std::vector<std::string> filter_keys();
    // Counters of everything done through this store (SPEC section 8 names).
    const std::shared_ptr<Metrics>& metrics() const noexcept { return metrics_; }

private:
    // Applies each event through Backend::change_in_place; false if the backend has none.
    bool apply_in_place(std::span<const Event> events, Now now, std::span<ApplyResult> results);
    // Applies the events of games whose every event in the batch the rules apply without a
    // read (applies_blind) through Backend::refresh_blind, when the backend has it; returns
    // the indexes of the others, in order.
    std::vector<std::size_t> apply_blind(std::span<const Event> events, Now now,
                                         std::span<ApplyResult> results);
    // The namespace's config as last read (read once first); refresh_config reads it again.
    std::shared_ptr<const NamespaceConfig> config();
    std::shared_ptr<const NamespaceConfig> refresh_config();
    // Whether the game of a seat the player holds matches `filters` (one read, unless none).
    bool held_seat_matches(const Reservation& held, const Filters& filters);
    // config(), read again first when `filters` name a key it does not hold.
    std::shared_ptr<const NamespaceConfig> filters_config(const Filters& filters);
    // Commits with the config guard; on ConfigChanged reads the config again and returns
    // nullopt (nothing was written: decide again).
    std::optional<std::vector<bool>> commit(std::span<GameWrite> writes, const NamespaceConfig& config,
                                            bool all_or_none = false);
    // create_game / create_games (`what` names the caller in errors).
    std::vector<Game> create_many(std::string_view what, std::span<const Game> games, Now now);
    // After this store declared the namespace's filter keys: enters every open game written
    // before (by writers that knew of no keys) into the new filter indexes.
    void index_open_games(const NamespaceConfig& config);
    // Trims the reaped stream to reaped_retention entries when no reaped feed reads it.
    void trim_reaped_stream();
    void count_applied(std::span<const Event> events, std::span<const ApplyResult> results,
                       std::chrono::steady_clock::time_point started);
    // The index to scan for `filters` (validated) and the filters left to check per game.
    std::string open_index_for(const Filters& filters, const NamespaceConfig& config);
    // Up to `limit` games of open index `index` after `after`, with those of its reserved twin
    // whose reservations lapsed by `now`, oldest first; `now` as Backend::scan_merged (empty:
    // the backend's clock, set to the time used).
    std::vector<IndexedGame> scan_open(const std::string& index, std::optional<std::int64_t>& now,
                                       const std::optional<IndexCursor>& after, std::size_t limit);
    // Reads one game, lets `decide` change its slot at the time read (true: write it; it may
    // claim the player's seat), commits with its guards; repeats on conflict. Returns the
    // write (committed, or refused: GameWrite::refused / seat_held), empty when not decided.
    template <typename Decide>
    GameWrite change_one(const std::string& id, Now now, Decide&& decide);

    std::shared_ptr<Backend> backend_;
    std::string ns_;
    std::int64_t tombstone_ttl_ms_;
    std::int64_t reaped_retention_;
    std::shared_ptr<Metrics> metrics_;
    std::optional<std::vector<std::string>> requested_filter_keys_;
    std::mutex config_mutex_;
    std::shared_ptr<const NamespaceConfig> config_;  // null until first read
    std::array<Metrics::Series*, 21> event_series_{};  // [type * 3 + status]
    Metrics::Histogram* apply_seconds_ = nullptr;
    Metrics::Series* conflicts_ = nullptr;
};

// "<ns>:{<shard>}:": the prefix of every key of one shard of a namespace (one hash tag, so one
// Redis Cluster slot). One shard (0) until sharding lands.
std::string key_prefix(std::string_view ns, int shard);

using BackendFactory =
    std::function<std::shared_ptr<Backend>(const Url& url, const ConnectOptions& options)>;

// Registers a backend for a URL scheme. Throws InvalidArgument if the scheme is taken.
void register_backend(const std::string& scheme, BackendFactory factory);
// Opens a store on the backend of the URL's scheme, after loading the GAME_DATA_PLUGINS
// plug-ins (plugin.hpp; once per process, PluginError when one fails). Throws InvalidArgument
// for unknown schemes.
std::shared_ptr<Store> open_store(const Url& url, const ConnectOptions& options);
// The backend of the URL's scheme, as open_store opens it (no plug-ins loaded first).
std::shared_ptr<Backend> open_backend(const Url& url, const ConnectOptions& options);
std::vector<std::string> registered_schemes();

// Built-in backends (registered automatically; exposed for direct use in tests).
std::shared_ptr<Backend> make_memory_backend(const Url& url, const ConnectOptions& options);
std::shared_ptr<Backend> make_redis_backend(const Url& url, const ConnectOptions& options);
std::shared_ptr<Store> make_memory_store(const Url& url, const ConnectOptions& options);
std::shared_ptr<Store> make_redis_store(const Url& url, const ConnectOptions& options);

}  // namespace game_data
