// The storage plug-in point (as spdlog's sink is for logging): a Backend only stores. It reads
// game records with their set scores and tombstones, reads ranges of sorted sets, and commits
// write plans atomically; every rule, validation, index and batch lives once above it, in
// Store (store.hpp). A Backend must be thread safe and pass tests/cpp/store_conformance_test.cpp
// (through Store). Backends are selected by URL scheme (register_backend in store.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "game_data/lifecycle.hpp"
#include "game_data/types.hpp"

namespace game_data {

class StreamTransport;
using Fields = std::vector<std::pair<std::string, std::string>>;

// A callable passed down a call without owning it (no allocation, unlike std::function): valid
// while the callable it refers to lives, so only as a parameter.
template <typename Signature>
class FunctionRef;
template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
public:
    template <typename F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> && std::is_invocable_r_v<R, F&, Args...>)
    FunctionRef(F&& f) noexcept  // implicit, as std::function converts
        : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          call_([](void* object, Args... args) -> R {
              return std::invoke(*static_cast<std::remove_reference_t<F>*>(object), std::forward<Args>(args)...);
          }) {}
    R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

private:
    void* object_;
    R (*call_)(void*, Args...);
};

// One game id as stored: the slot the rules work on, plus the revision the backend keeps so a
// commit can tell whether anything wrote the game since it was read.
struct StoredGame {
    GameSlot slot;
    std::int64_t revision = 0;  // 0: no live record
    std::string refused;        // set when the game's keys cannot be read (a key of another type)
};

// The atomic change of one game, computed by Store from the rules. The backend applies all of it
// iff the game's revision is still `expect_revision` (0: no live record and no tombstone;
// kExpectNoRecord: no live record, tombstones ignored), and nothing otherwise.
struct GameWrite {
    static constexpr std::int64_t kExpectNoRecord = -1;

    std::string id;
    std::int64_t expect_revision = 0;
    const Game* before = nullptr;   // the record read; set when Backend::writes_differences()
    std::optional<Game> after;      // nullopt: delete the record
    std::int64_t revision = 0;      // the record's new revision (when `after`)
    std::int64_t score = 0;         // the record's set score (when `after`)
    Tomb tomb = Tomb::None;         // left behind when the record is deleted (None: no tombstone)
    std::int64_t tomb_ttl_ms = 0;
    std::vector<std::string> index_remove;                      // sorted sets to leave
    std::vector<std::pair<std::string, std::int64_t>> index_add;  // sorted sets to enter/rescore
    std::optional<Fields> reaped_entry;  // appended to the reaped stream in the same step
    // Seats (one live reservation per player and namespace, README "Seats"): the commit
    // claims the player's namespace seat for this game until expires_at, and is refused
    // (nothing written, `seat_held` set) while the player holds a live one in another game
    // at `now`. Seats of `seat_release` players that point at this game are let go.
    struct SeatClaim {
        std::string player;
        std::int64_t expires_at = 0;
        std::int64_t now = 0;
    };
    std::optional<SeatClaim> seat_claim;
    std::vector<std::string> seat_release;

    // Set by the backend when commit() returns false for this write for another reason than
    // its revision guard (nothing of it was written in either case):
    std::string refused;                     // a key the write needs holds another type
    std::optional<Reservation> seat_held;    // the seat the player holds elsewhere
    // Its guards held, but another write of the same all_or_none commit failed its own.
    bool held_back = false;
};

// The namespace's stored configuration (the filter keys open games are indexed by), as a
// writer assumed it when it computed its writes. Backend::commit checks it in the same atomic
// step as the revisions, so no writer ever keeps an index by keys the namespace no longer has.
struct NamespaceConfig {
    bool stored = false;                   // false: no filter keys declared yet
    std::vector<std::string> filter_keys;  // sorted; empty unless stored
    bool operator==(const NamespaceConfig&) const = default;
};

// Thrown by Backend::commit when the namespace's config is not the one the writes assumed:
// nothing was written; Store reads the config again and decides again.
class ConfigChanged : public std::runtime_error {
public:
    ConfigChanged() : std::runtime_error("the namespace's filter keys changed") {}
};

// An entry of a sorted set (by score, then id) with what is stored under its id.
struct IndexedGame {
    std::string id;
    std::int64_t score = 0;
    StoredGame stored;
};

// Position in a sorted set: entries strictly after (score, id).
struct IndexCursor {
    std::int64_t score = 0;
    std::string id;
};

class InvalidArgument;
// The error a namespace_config() mismatch throws (one wording for every backend).
InvalidArgument filter_keys_mismatch(const std::vector<std::string>& requested,
                                     const std::vector<std::string>& stored);
// A stored config's filter keys (comma-joined, sorted) as a NamespaceConfig: "" (what
// versions before 0.5 stored for an empty declaration) is no declaration. Throws ReplyError
// naming `where` when the text is not one a client stores (bad key, unsorted, duplicates).
NamespaceConfig parse_filter_keys_config(std::string_view text, std::string_view where);
// The text parse_filter_keys_config reads ("" when not stored).
std::string filter_keys_config_text(const NamespaceConfig& config);

class Backend {
public:
    virtual ~Backend() = default;

    // What is stored under each id, in order; one consistent snapshot per call. With
    // `clock`, also the backend's clock (ms) read in that same snapshot (Redis: TIME).
    virtual std::vector<StoredGame> read(std::span<const std::string> ids,
                                         std::int64_t* clock = nullptr) = 0;
    // The backend's clock in ms: the one clock that decides expiries, scores and ages (Redis:
    // TIME; memory://: this process's). README "One clock".
    virtual std::int64_t clock() = 0;
    // Applies each write atomically iff its guards hold; true for the committed ones. Every
    // guard of a write (revision, seat, the type of every key it touches) is checked before its
    // first write, so a write that cannot apply writes nothing (`refused` / `seat_held` say
    // why when it was not the revision). Writes to different games are independent: a failed
    // guard skips only its own write; with `all_or_none`, a failed guard of any write writes
    // none of them (every entry false; `refused` / `seat_held` set on the writes that failed).
    // With `config`, throws ConfigChanged (and writes nothing) unless the namespace's config
    // is still that. A backend may move from `writes`.
    virtual std::vector<bool> commit(std::span<GameWrite> writes,
                                     const NamespaceConfig* config = nullptr,
                                     bool all_or_none = false) = 0;
    // Up to `limit` entries of sorted set `index` with score < max_score_exclusive, in (score, id)
    // order, after `after` when given, each with what is stored under its id.
    virtual std::vector<IndexedGame> scan(std::string_view index, std::int64_t max_score_exclusive,
                                          const std::optional<IndexCursor>& after,
                                          std::size_t limit) = 0;
    // As scan() with no score bound, over sorted set `index` once the entries of `lapsed` (its
    // reserved twin) scored at most `now` have been moved back into it, each at the open score of
    // its record (open_score(), lifecycle.hpp; an entry with no record keeps its own). Readers clean the twin as they
    // pass, so no read reads every lapse: one call moves at most kLapsedMovesPerScan entries
    // (ZREM there, ZADD here) and, if more were due, returns no entries and `lapsed_left`; the
    // caller calls again with the same `now` (each lapse is moved once). Otherwise the entries
    // are returned from one snapshot that includes the moves. The record is not rewritten.
    // One clock: when `now` is empty on entry the backend uses its own (Redis: TIME, in the
    // script; memory: now_ms()) and sets `now` to that time, which the caller then decides free
    // seats and reservations with; when set (an explicit time, for tests), that is used.
    static constexpr std::size_t kLapsedMovesPerScan = 256;
    struct MergedScan {
        std::vector<IndexedGame> entries;
        bool lapsed_left = false;  // more lapsed entries were due: call again, same `now`
    };
    virtual MergedScan scan_merged(std::string_view index, std::string_view lapsed,
                                   std::optional<std::int64_t>& now,
                                   const std::optional<IndexCursor>& after, std::size_t limit) = 0;
    // The player's namespace seat as last claimed (GameWrite::SeatClaim), live or not; nullopt
    // when none is stored.
    virtual std::optional<Reservation> seat(const std::string& player) = 0;
    // Number of entries of each sorted set, in order.
    virtual std::vector<std::int64_t> sizes(std::span<const std::string> indexes) = 0;
    virtual std::shared_ptr<StreamTransport> streams() = 0;
    // Optional fast path for backends that can hold a lock over one game (memory://): runs
    // `change` on the stored slot of `id` itself while nothing else can touch it (a missing game
    // comes as a slot with no record and its tombstone), then stores what `change` left in it:
    // the slot (a removed record leaves `change`'s tombstone) and the index moves it wrote into
    // the InPlaceChange it is given (empty; the backend may reuse its storage from call to call).
    // `change` returns false when nothing changed. Returns false if the backend has no such
    // lock; Store then reads and commits with a revision guard.
    struct InPlaceChange {
        const NamespaceConfig* config = nullptr;  // in: the namespace's, under the same lock
        std::vector<std::string> seat_release;    // out: as GameWrite::seat_release
        std::vector<std::string> index_remove;
        std::vector<std::pair<std::string, std::int64_t>> index_add;
        std::int64_t tomb_ttl_ms = 0;
    };
    using InPlaceFn = FunctionRef<bool(GameSlot&, InPlaceChange&)>;
    virtual bool change_in_place(const std::string& /*id*/, const InPlaceFn& /*change*/) {
        return false;
    }
    // Optional fast path for events the rules apply without reading the game (applies_blind,
    // lifecycle.hpp: heartbeats). For each refresh, in order and each atomically, every key's
    // type checked before its first write: where the game's record exists and names
    // `server_id`, rescores the game's entry in the sorted set of the state the record names
    // (set_of; only where the entry is there) to the time, sets the record's updated_at and set
    // score to the time and its last_seq to `seq` when higher, and gives it a new revision (so
    // a commit guarded by the revision read before it fails and decides again); otherwise
    // writes nothing. The time is `now` when set, else the backend's clock (Redis: TIME, in the
    // same script). Returns what each guard saw (BlindSeen), or an empty vector when the
    // backend has no such path (Store then applies them as any event).
    struct BlindRefresh {
        std::string_view id;
        std::string_view server_id;
        std::optional<std::int64_t> seq;
    };
    virtual std::vector<BlindSeen> refresh_blind(std::span<const BlindRefresh> /*refreshes*/,
                                                 std::optional<std::int64_t> /*now*/) {
        return {};
    }
    virtual bool refreshes_blind() const { return false; }
    // True if commit() reads GameWrite::before (to write only what changed); otherwise Store
    // may hand the rules the record it read instead of a copy, and `before` is null.
    virtual bool writes_differences() const { return false; }
    // The namespace's config: stores `requested` (sorted filter keys, not empty) when the
    // namespace has none yet, and returns what it holds then. Throws InvalidArgument when it
    // holds other keys, ReplyError when what it holds is not a valid config.
    // `declared` (when given) is set to whether this call stored `requested`.
    virtual NamespaceConfig namespace_config(const std::optional<std::vector<std::string>>& requested,
                                             bool* declared = nullptr) = 0;
    // The backend's eviction policy when, found at connect, it can evict game records (SPEC
    // section 10; reported as game_data_eviction_risk and logged). Default: none.
    virtual std::optional<std::string> eviction_risk() const { return std::nullopt; }
    // Deletes every key of namespace `ns` (`<ns>:*`: records, sets, indexes, tombstones,
    // config, its streams) and returns how many; for tools that clean up after a run
    // (game-data simulate). Default: 0, for backends whose data ends with the process.
    virtual std::int64_t remove_namespace(const std::string& /*ns*/) { return 0; }
};

}  // namespace game_data
