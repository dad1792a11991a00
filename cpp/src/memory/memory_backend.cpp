// The embedded backend behind memory://: games, sorted sets and tombstones in process memory.
// One mutex guards them all, so each read is one snapshot and each commit is atomic exactly as
// a Lua script is on Redis. memory:// is private to its connect(); memory://NAME is shared by
// every handle in the process that names it.
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <unordered_map>

#include "game_data/backend.hpp"
#include "game_data/errors.hpp"
#include "game_data/store.hpp"
#include "memory/memory_stream.hpp"

namespace game_data {
namespace {

// A sorted set: members ordered by (score, id), and each member's place by id. The id is stored
// once, in by_score (whose nodes never move), and `place` keys on views of it. Rescoring a
// member, or moving it to another set, moves its nodes: no allocation.
struct SortedSet {
    using ByScore = std::set<std::pair<std::int64_t, std::string>>;
    using Places = std::unordered_map<std::string_view, ByScore::iterator>;
    ByScore by_score;
    Places place;

    // A member taken out of a set, to be put into another.
    struct Nodes {
        ByScore::node_type entry;
        Places::node_type place;
    };

    bool contains(std::string_view id) const { return place.contains(id); }
    std::size_t size() const { return place.size(); }

    void add(const std::string& id, std::int64_t score) {
        auto it = place.find(id);
        if (it == place.end()) {
            auto entry = by_score.emplace(score, id).first;
            place.emplace(std::string_view(entry->second), entry);
        } else if (it->second->first != score) {
            auto entry = by_score.extract(it->second);
            entry.value().first = score;
            it->second = by_score.insert(std::move(entry)).position;
        }
    }
    void remove(std::string_view id) {
        auto it = place.find(id);
        if (it == place.end()) return;
        by_score.erase(it->second);
        place.erase(it);
    }
    // The member's nodes, or empty ones if `id` is not a member.
    Nodes take(std::string_view id) {
        auto it = place.find(id);
        if (it == place.end()) return {};
        auto entry = by_score.extract(it->second);
        return Nodes{std::move(entry), place.extract(it)};
    }
    // Adds a member that is not in this set from nodes take() returned (not empty).
    void put(Nodes nodes, std::int64_t score) {
        nodes.entry.value().first = score;
        nodes.place.mapped() = by_score.insert(std::move(nodes.entry)).position;
        place.insert(std::move(nodes.place));
    }
};

class MemoryBackend final : public Backend {
public:
    MemoryBackend(const ConnectOptions& options, std::shared_ptr<memory::MemoryStreams> streams)
        : reaped_stream_(key_prefix(options.ns, 0) + "reaped"), streams_(std::move(streams)) {}

    std::vector<StoredGame> read(std::span<const std::string> ids) override {
        std::lock_guard lock(mutex_);
        std::vector<StoredGame> out(ids.size());
        for (std::size_t i = 0; i < ids.size(); ++i) out[i] = stored_locked(ids[i]);
        return out;
    }

    std::vector<bool> commit(std::span<GameWrite> writes) override {
        std::lock_guard lock(mutex_);
        std::vector<bool> out(writes.size(), false);
        for (std::size_t i = 0; i < writes.size(); ++i) {
            GameWrite& w = writes[i];
            auto rec = games_.find(w.id);
            bool ok = false;
            if (w.expect_revision == GameWrite::kExpectNoRecord) {
                ok = rec == games_.end();
            } else if (w.expect_revision == 0) {
                ok = rec == games_.end() && live_tomb(w.id) == Tomb::None;
            } else {
                ok = rec != games_.end() && rec->second.revision == w.expect_revision;
            }
            if (!ok) continue;
            out[i] = true;
            move_indexes_locked(w.id, w.index_remove, w.index_add);
            if (w.after) {
                Record fresh{GameSlot{std::move(w.after), w.score, Tomb::None}, w.revision};
                if (rec != games_.end()) {
                    rec->second = std::move(fresh);
                } else {
                    games_.emplace(w.id, std::move(fresh));
                }
            } else {
                if (rec != games_.end()) games_.erase(rec);
                if (w.tomb != Tomb::None) add_tomb_locked(w.id, w.tomb, w.tomb_ttl_ms);
            }
            if (w.reaped_entry) streams_->add(reaped_stream_, *w.reaped_entry, 0);
        }
        return out;
    }

    bool change_in_place(const std::string& id, const InPlaceFn& change) override {
        std::lock_guard lock(mutex_);
        InPlaceChange& moves = moves_;  // storage reused from call to call, under the lock
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
        move_indexes_locked(id, moves.index_remove, moves.index_add);
        ++rec->second.revision;
        if (!slot.game) {
            const Tomb why = slot.tomb;
            auto gone = games_.extract(rec);  // its key becomes the tombstone's
            if (why != Tomb::None) add_tomb_locked(std::move(gone.key()), why, moves.tomb_ttl_ms);
        }
        return true;
    }

    std::vector<IndexedGame> scan(std::string_view index, std::int64_t max_score_exclusive,
                                  const std::optional<IndexCursor>& after,
                                  std::size_t limit) override {
        std::lock_guard lock(mutex_);
        std::vector<IndexedGame> out;
        auto set = sets_.find(index);
        if (set == sets_.end()) return out;
        const auto& members = set->second.by_score;
        auto it = after ? members.upper_bound({after->score, after->id}) : members.begin();
        for (; it != members.end() && out.size() < limit && it->first < max_score_exclusive; ++it) {
            out.push_back(IndexedGame{it->second, it->first, stored_locked(it->second)});
        }
        return out;
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

    std::vector<std::string> namespace_filter_keys(
        const std::optional<std::vector<std::string>>& requested) override {
        std::lock_guard lock(mutex_);
        if (!filter_keys_) {
            if (!requested) return {};
            filter_keys_ = *requested;
        }
        if (requested && *requested != *filter_keys_) throw filter_keys_mismatch(*requested, *filter_keys_);
        return *filter_keys_;
    }

private:
    struct Record {
        GameSlot slot;  // always holds a game
        std::int64_t revision;
    };
    struct Tombstone {
        Tomb why;
        std::int64_t expires_at;
    };

    StoredGame stored_locked(const std::string& id) const {
        StoredGame out;
        auto it = games_.find(id);
        if (it != games_.end()) {
            out.slot = it->second.slot;
            out.revision = it->second.revision;
        } else {
            out.slot.tomb = live_tomb(id);
        }
        return out;
    }

    // Tombstones expire by the real clock, as Redis expires keys: an apply or reap at a
    // simulated future time must not forget which games ended.
    Tomb live_tomb(const std::string& id) const {
        auto it = tombs_.find(id);
        return it != tombs_.end() && it->second.expires_at > now_ms() ? it->second.why : Tomb::None;
    }

    // Leaves sets `remove` and enters or rescores `add`. A set entered takes the nodes of a set
    // left where there is one, so moving a game between sets allocates nothing. `remove` is
    // consumed.
    void move_indexes_locked(const std::string& id, std::vector<std::string>& remove,
                             const std::vector<std::pair<std::string, std::int64_t>>& add) {
        for (const auto& [name, score] : add) {
            SortedSet& to = sets_[name];
            if (!to.contains(id) && !remove.empty()) {
                SortedSet::Nodes nodes = sets_[remove.back()].take(id);
                remove.pop_back();
                if (!nodes.entry.empty()) {
                    to.put(std::move(nodes), score);
                    continue;
                }
            }
            to.add(id, score);
        }
        for (const auto& name : remove) sets_[name].remove(id);
    }

    // Remembers that `id` ended or was reaped, for ttl_ms of the real clock: a small entry of
    // its own (a record is the size of a Game). Expired tombstones are forgotten here, oldest
    // first (amortised O(1); one TTL per backend keeps the queue in expiry order): they are only
    // made here, and live_tomb() ignores expired ones meanwhile.
    void add_tomb_locked(std::string id, Tomb why, std::int64_t ttl_ms) {
        const std::int64_t now = now_ms();
        while (!tomb_expiry_.empty() && tomb_expiry_.front().first <= now) {
            auto it = tombs_.find(tomb_expiry_.front().second);
            if (it != tombs_.end() && it->second.expires_at <= now) tombs_.erase(it);
            tomb_expiry_.pop_front();
        }
        const std::int64_t expires_at = now + ttl_ms;
        tomb_expiry_.emplace_back(expires_at, id);
        tombs_.insert_or_assign(std::move(id), Tombstone{why, expires_at});
    }

    const std::string reaped_stream_;
    std::mutex mutex_;
    std::unordered_map<std::string, Record> games_;
    std::map<std::string, SortedSet, std::less<>> sets_;
    std::unordered_map<std::string, Tombstone> tombs_;
    std::deque<std::pair<std::int64_t, std::string>> tomb_expiry_;
    InPlaceChange moves_;  // change_in_place's, kept for its storage
    std::optional<std::vector<std::string>> filter_keys_;  // the namespace's, once given
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
