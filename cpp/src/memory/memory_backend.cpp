// The embedded backend behind memory://: games, sorted sets and tombstones in process memory.
// One mutex guards them all, so each read is one snapshot and each commit is atomic exactly as
// a Lua script is on Redis. memory:// is private to its connect(); memory://NAME is shared by
// every handle in the process that names it.
#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "game_data/backend.hpp"
#include "game_data/errors.hpp"
#include "game_data/store.hpp"
#include "memory/memory_stream.hpp"

namespace game_data {
namespace {

struct Record;

// A sorted set: members ordered by (score, id), each with its id's record (null for an orphaned
// entry), so a scan reads its members' records without a lookup by id.
struct SortedSet {
    using ByScore = std::map<std::pair<std::int64_t, std::string>, const Record*>;
    ByScore by_score;
    std::size_t size() const { return by_score.size(); }
};

// Where a live game is in one sorted set. Its record holds one per set it belongs to, so
// leaving, rescoring or moving between sets needs no lookup by id and, but for a first entry,
// no allocation (a set entered takes the node of a set left).
struct Membership {
    SortedSet* set;  // sets_ never drops a set, so this stays valid
    SortedSet::ByScore::iterator at;
};

// A live game as stored. Its address is stable (a node of an unordered_map) while it lives.
struct Record {
    GameSlot slot;  // always holds a game
    std::int64_t revision = 0;
    std::vector<Membership> sets;  // the sorted sets it is in
};

// Tombstones by game id, each with its expiry (ms, real clock), in one array probed linearly:
// a game's end writes one slot, where an unordered_map insert cost a node and several cache
// misses (perf: the largest part of a memory:// apply). Expired entries are not erased one by
// one: a put may reuse one, and all are dropped when the array is rebuilt, which happens when
// the slots in use reach 3/4 of it (amortised O(1) per put; at most 4 slots per live entry).
class TombTable {
public:
    struct Entry {
        Tomb why;
        std::int64_t expires_at;
    };

    std::optional<Entry> find(std::string_view id) const {
        if (slots_.empty()) return std::nullopt;
        const std::size_t h = hash(id);
        for (std::size_t i = h & mask();; i = (i + 1) & mask()) {
            const Slot& s = slots_[i];
            if (s.why == Tomb::None) return std::nullopt;  // a free slot ends the probe
            if (s.hash == h && s.id == id) return Entry{s.why, s.expires_at};
        }
    }

    // `why` must not be Tomb::None. Entries expired at `now` may be dropped.
    void put(std::string id, Tomb why, std::int64_t expires_at, std::int64_t now) {
        if (4 * (used_ + 1) > 3 * slots_.size()) rebuild(now);
        const std::size_t h = hash(id);
        Slot* expired = nullptr;  // the first on the probe, reused unless `id` is further on
        for (std::size_t i = h & mask();; i = (i + 1) & mask()) {
            Slot& s = slots_[i];
            if (s.why == Tomb::None) {
                if (expired == nullptr) ++used_;
                (expired ? *expired : s) = Slot{h, expires_at, why, std::move(id)};
                return;
            }
            if (s.hash == h && s.id == id) {
                s.why = why;
                s.expires_at = expires_at;
                return;
            }
            if (expired == nullptr && s.expires_at <= now) expired = &s;
        }
    }

private:
    struct Slot {
        std::size_t hash = 0;
        std::int64_t expires_at = 0;
        Tomb why = Tomb::None;  // None: free
        std::string id;
    };

    static std::size_t hash(std::string_view id) { return std::hash<std::string_view>{}(id); }
    std::size_t mask() const { return slots_.size() - 1; }

    // Keeps the entries live at `now` in an array at most half full (a power of two).
    void rebuild(std::int64_t now) {
        std::vector<Slot> old = std::move(slots_);
        std::size_t live = 0;
        for (const Slot& s : old) live += s.why != Tomb::None && s.expires_at > now ? 1 : 0;
        std::size_t size = 16;
        while (size < 2 * (live + 1)) size *= 2;
        slots_.assign(size, Slot{});
        used_ = live;
        for (Slot& s : old) {
            if (s.why == Tomb::None || s.expires_at <= now) continue;
            std::size_t i = s.hash & mask();
            while (slots_[i].why != Tomb::None) i = (i + 1) & mask();
            slots_[i] = std::move(s);
        }
    }

    std::vector<Slot> slots_;
    std::size_t used_ = 0;  // slots not free (live or expired)
};

class MemoryBackend final : public Backend {
public:
    MemoryBackend(const ConnectOptions& options, std::shared_ptr<memory::MemoryStreams> streams)
        : reaped_stream_(key_prefix(options.ns, 0) + "reaped"), streams_(std::move(streams)) {}

    std::vector<StoredGame> read(std::span<const std::string> ids, std::int64_t* clock) override {
        std::lock_guard lock(mutex_);
        std::vector<StoredGame> out(ids.size());
        for (std::size_t i = 0; i < ids.size(); ++i) store_into_locked(ids[i], out[i]);
        if (clock) *clock = now_ms();
        return out;
    }

    // One process, one clock: this process's.
    std::int64_t clock() override { return now_ms(); }

    std::vector<bool> commit(std::span<GameWrite> writes, const NamespaceConfig* config,
                             bool all_or_none) override {
        std::lock_guard lock(mutex_);
        if (config && *config != config_) throw ConfigChanged();
        std::vector<bool> out(writes.size(), false);
        if (all_or_none) {
            std::vector<bool> hold(writes.size());
            for (std::size_t i = 0; i < writes.size(); ++i) hold[i] = guards_hold_locked(writes[i]);
            if (std::find(hold.begin(), hold.end(), false) != hold.end()) {
                for (std::size_t i = 0; i < writes.size(); ++i) writes[i].held_back = hold[i];
                return out;
            }
        }
        for (std::size_t i = 0; i < writes.size(); ++i) {
            GameWrite& w = writes[i];
            if (!guards_hold_locked(w)) continue;
            auto rec = games_.find(w.id);
            out[i] = true;
            release_seats_locked(w.id, w.seat_release);
            if (w.seat_claim) claim_seat_locked(w.id, *w.seat_claim);
            if (w.after) {
                if (rec == games_.end()) {
                    rec = games_.try_emplace(w.id).first;
                    adopt_orphans_locked(rec);
                }
                move_indexes_locked(rec->first, &rec->second, rec->second.sets, w.index_remove,
                                    w.index_add);
                rec->second.slot = GameSlot{std::move(w.after), w.score, Tomb::None};
                rec->second.revision = w.revision;
            } else {
                if (rec != games_.end()) {
                    erase_locked(rec, w.index_remove, w.index_add);
                } else if (!w.index_remove.empty() || !w.index_add.empty()) {
                    auto& entries = orphans_[w.id];
                    move_indexes_locked(w.id, nullptr, entries, w.index_remove, w.index_add);
                    if (entries.empty()) orphans_.erase(w.id);
                }
                if (w.tomb != Tomb::None) add_tomb_locked(w.id, w.tomb, w.tomb_ttl_ms);
            }
            if (w.reaped_entry) streams_->add(reaped_stream_, *w.reaped_entry, 0);
        }
        return out;
    }

    bool change_in_place(const std::string& id, const InPlaceFn& change) override {
        std::lock_guard lock(mutex_);
        InPlaceChange& moves = moves_;  // storage reused from call to call, under the lock
        moves.config = &config_;
        moves.seat_release.clear();
        moves.index_remove.clear();
        moves.index_add.clear();
        auto rec = games_.find(id);
        if (rec == games_.end()) {
            GameSlot missing;
            missing.tomb = live_tomb(id);
            change(missing, moves);  // nothing to store for a game that is not live
            return true;
        }
        GameSlot& slot = rec->second.slot;
        if (!change(slot, moves)) return true;
        release_seats_locked(id, moves.seat_release);
        if (slot.game) {
            move_indexes_locked(rec->first, &rec->second, rec->second.sets, moves.index_remove,
                                moves.index_add);
            ++rec->second.revision;
        } else {
            const Tomb why = slot.tomb;
            std::string key = erase_locked(rec, moves.index_remove, moves.index_add);
            if (why != Tomb::None) add_tomb_locked(std::move(key), why, moves.tomb_ttl_ms);
        }
        return true;
    }

    std::vector<IndexedGame> scan(std::string_view index, std::int64_t max_score_exclusive,
                                  const std::optional<IndexCursor>& after,
                                  std::size_t limit) override {
        std::lock_guard lock(mutex_);
        return scan_locked(index, max_score_exclusive, after, limit);
    }

    std::vector<IndexedGame> scan_locked(std::string_view index, std::int64_t max_score_exclusive,
                                         const std::optional<IndexCursor>& after,
                                         std::size_t limit) const {
        std::vector<IndexedGame> out;
        auto set = sets_.find(index);
        if (set == sets_.end()) return out;
        const auto& members = set->second.by_score;
        out.reserve(std::min(limit, members.size()));
        auto it = after ? members.upper_bound({after->score, after->id}) : members.begin();
        for (; it != members.end() && out.size() < limit && it->first.first < max_score_exclusive;
             ++it) {
            append_locked(out, it->first.first, it->first.second, it->second);
        }
        return out;
    }

    MergedScan scan_merged(std::string_view index, std::string_view lapsed,
                           std::optional<std::int64_t>& now, const std::optional<IndexCursor>& after,
                           std::size_t limit) override {
        std::lock_guard lock(mutex_);
        if (!now) now = now_ms();
        MergedScan out;
        if (auto twin = sets_.find(lapsed); twin != sets_.end()) {
            // The twin's entries due by now go back into the index at their open score,
            // oldest lapse first, a bounded number per call (as a Redis script moves them).
            auto& due = twin->second.by_score;
            std::vector<std::string> leave;
            std::vector<std::pair<std::string, std::int64_t>> enter;
            for (std::size_t moved = 0; !due.empty() && due.begin()->first.first <= *now; ++moved) {
                if (moved == kLapsedMovesPerScan) {
                    out.lapsed_left = true;
                    return out;
                }
                const auto [entry, record] = *due.begin();
                leave.assign(1, std::string(lapsed));
                enter.assign(1, {std::string(index), record && record->slot.game ? open_score(*record->slot.game) : entry.first});
                if (record != nullptr) {
                    Record& r = games_.find(entry.second)->second;
                    move_indexes_locked(entry.second, &r, r.sets, leave, enter);
                } else {
                    move_indexes_locked(entry.second, nullptr, orphans_[entry.second], leave, enter);
                }
            }
        }
        out.entries = scan_locked(index, std::numeric_limits<std::int64_t>::max(), after, limit);
        return out;
    }

    std::optional<Reservation> seat(const std::string& player) override {
        std::lock_guard lock(mutex_);
        auto it = seats_.find(player);
        if (it == seats_.end()) return std::nullopt;
        return it->second;
    }

    std::vector<std::int64_t> sizes(std::span<const std::string> indexes) override {
        std::lock_guard lock(mutex_);
        std::vector<std::int64_t> out;
        for (const auto& name : indexes) {
            auto it = sets_.find(name);
            out.push_back(it == sets_.end() ? 0 : static_cast<std::int64_t>(it->second.size()));
        }
        return out;
    }

    std::shared_ptr<StreamTransport> streams() override { return streams_; }

    NamespaceConfig namespace_config(const std::optional<std::vector<std::string>>& requested,
                                     bool* declared) override {
        std::lock_guard lock(mutex_);
        if (declared) *declared = false;
        if (!config_.stored && requested && !requested->empty()) {
            config_ = NamespaceConfig{true, *requested};
            if (declared) *declared = true;
        }
        if (requested && config_.stored && *requested != config_.filter_keys) {
            throw filter_keys_mismatch(*requested, config_.filter_keys);
        }
        return config_;
    }

private:
    using Records = std::unordered_map<std::string, Record>;
    // What is stored under `id` (its record, or null), written into `out` (default-constructed).
    void store_into_locked(std::string_view id, const Record* record, StoredGame& out) const {
        if (record != nullptr) {
            out.slot = record->slot;
            out.revision = record->revision;
        } else {
            out.slot.tomb = live_tomb(id);
        }
    }
    void store_into_locked(const std::string& id, StoredGame& out) const {
        auto it = games_.find(id);
        store_into_locked(id, it == games_.end() ? nullptr : &it->second, out);
    }
    // Appends a set entry with what is stored under its id, built in place: a scan copies
    // each record once and moves none (callgrind: moving was a quarter of get_open_games).
    void append_locked(std::vector<IndexedGame>& out, std::int64_t score, std::string_view id,
                       const Record* record) const {
        IndexedGame& e = out.emplace_back();
        e.id = id;
        e.score = score;
        store_into_locked(id, record, e.stored);
    }

    // Whether the write's guards hold (its revision; its seat claim, else `seat_held` is set).
    // Writes are checked against what is stored: writes of one commit name distinct games.
    bool guards_hold_locked(GameWrite& w) {
        auto rec = games_.find(w.id);
        bool ok = false;
        if (w.expect_revision == GameWrite::kExpectNoRecord) {
            ok = rec == games_.end();
        } else if (w.expect_revision == 0) {
            ok = rec == games_.end() && live_tomb(w.id) == Tomb::None;
        } else {
            ok = rec != games_.end() && rec->second.revision == w.expect_revision;
        }
        if (!ok || !w.seat_claim) return ok;
        auto held = seats_.find(w.seat_claim->player);
        if (held != seats_.end() && held->second.expires_at > w.seat_claim->now &&
            held->second.game_id != w.id) {
            w.seat_held = held->second;
            return false;
        }
        return true;
    }

    // The player's namespace seat is this game's until the claim's expiry. Seats that lapsed
    // are dropped once they outnumber the live ones (amortised O(1) per claim).
    void claim_seat_locked(const std::string& game_id, const GameWrite::SeatClaim& claim) {
        seats_[claim.player] = Reservation{game_id, claim.player, claim.expires_at};
        if (seats_.size() >= 2 * seats_after_sweep_ + 64) {
            std::erase_if(seats_, [&](const auto& s) { return s.second.expires_at <= claim.now; });
            seats_after_sweep_ = seats_.size();
        }
    }
    void release_seats_locked(std::string_view game_id, const std::vector<std::string>& players) {
        for (const auto& player : players) {
            auto it = seats_.find(player);
            if (it != seats_.end() && it->second.game_id == game_id) seats_.erase(it);
        }
    }

    // Tombstones expire by the real clock, as Redis expires keys: an apply or reap at a
    // simulated future time must not forget which games ended.
    Tomb live_tomb(std::string_view id) const {
        const auto tomb = tombs_.find(id);
        return tomb && tomb->expires_at > now_ms() ? tomb->why : Tomb::None;
    }

    // Game `id` (its record, or null for orphaned entries), in the sets `in` lists, leaves sets
    // `remove` and enters or rescores `add`. A set entered takes the node of a set left where
    // there is one. `remove` is consumed.
    void move_indexes_locked(const std::string& id, const Record* record,
                             std::vector<Membership>& in, std::vector<std::string>& remove,
                             const std::vector<std::pair<std::string, std::int64_t>>& add) {
        auto membership = [&](const SortedSet* set) {
            return std::find_if(in.begin(), in.end(), [&](const Membership& m) { return m.set == set; });
        };
        auto named = [&](const std::string& name) -> SortedSet* {
            auto it = sets_.find(name);
            return it == sets_.end() ? nullptr : &it->second;
        };
        for (const auto& [name, score] : add) {
            SortedSet* to = &sets_[name];
            auto m = membership(to);
            while (m == in.end() && !remove.empty()) {
                m = membership(named(remove.back()));
                remove.pop_back();
            }
            if (m == in.end()) {
                in.push_back(Membership{to, to->by_score.try_emplace({score, id}, record).first});
            } else if (m->set != to || m->at->first.first != score) {
                auto node = m->set->by_score.extract(m->at);
                node.key().first = score;
                m->set = to;
                m->at = to->by_score.insert(std::move(node)).position;
            }
        }
        for (const auto& name : remove) {
            auto m = membership(named(name));
            if (m == in.end()) continue;
            m->set->by_score.erase(m->at);
            in.erase(m);
        }
    }

    // Removes the record after its last index moves; returns its id. The entries of sets the
    // moves left it in (none, when Store wrote them) stay, as on Redis, as orphans.
    std::string erase_locked(Records::iterator rec, std::vector<std::string>& remove,
                             const std::vector<std::pair<std::string, std::int64_t>>& add) {
        move_indexes_locked(rec->first, &rec->second, rec->second.sets, remove, add);
        if (!rec->second.sets.empty()) {
            for (const Membership& m : rec->second.sets) m.at->second = nullptr;
            orphans_[rec->first] = std::move(rec->second.sets);
        }
        return std::move(games_.extract(rec).key());
    }

    // A record made for an id with orphaned set entries takes them over.
    void adopt_orphans_locked(Records::iterator rec) {
        if (orphans_.empty()) return;
        auto it = orphans_.find(rec->first);
        if (it == orphans_.end()) return;
        rec->second.sets = std::move(it->second);
        for (const Membership& m : rec->second.sets) m.at->second = &rec->second;
        orphans_.erase(it);
    }

    // Remembers that `id` ended or was reaped, for ttl_ms of the real clock: an entry of its
    // own, not the game's record (which is the size of a Game).
    void add_tomb_locked(std::string id, Tomb why, std::int64_t ttl_ms) {
        const std::int64_t now = now_ms();
        tombs_.put(std::move(id), why, now + ttl_ms, now);
    }

    const std::string reaped_stream_;
    std::mutex mutex_;
    Records games_;
    std::map<std::string, SortedSet, std::less<>> sets_;
    // Set entries of ids without a record: only after a write that removed a record but not
    // its entries, which Store never makes (tests make it, as damage a failover leaves).
    std::unordered_map<std::string, std::vector<Membership>> orphans_;
    TombTable tombs_;
    InPlaceChange moves_;  // change_in_place's, kept for its storage
    NamespaceConfig config_;  // the namespace's (filter keys once declared)
    // Each player's namespace seat (README "Seats"): the game and expiry of their reservation.
    std::unordered_map<std::string, Reservation> seats_;
    std::size_t seats_after_sweep_ = 0;
    std::shared_ptr<memory::MemoryStreams> streams_;
};

}  // namespace

std::shared_ptr<Backend> make_memory_backend(const Url& url, const ConnectOptions& options) {
    if (url.host.empty()) {
        return std::make_shared<MemoryBackend>(options, std::make_shared<memory::MemoryStreams>());
    }
    // Named instances live as long as the process so a publisher and a matchmaker opened
    // separately by URL meet in the same backend. As on one Redis: game data is separate per
    // namespace, streams are shared by name (stream names carry their own prefix).
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<memory::MemoryStreams>> streams;
    static std::map<std::string, std::shared_ptr<Backend>> backends;
    std::lock_guard lock(mutex);
    auto& transport = streams[url.host];
    if (!transport) transport = std::make_shared<memory::MemoryStreams>();
    auto& slot = backends[url.host + "\n" + options.ns];
    if (!slot) slot = std::make_shared<MemoryBackend>(options, transport);
    return slot;
}

}  // namespace game_data
