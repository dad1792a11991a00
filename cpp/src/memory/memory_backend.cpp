// The embedded backend behind memory://: games, sorted sets and tombstones in process memory.
// One mutex guards them all, so each read is one snapshot and each commit is atomic exactly as
// a Lua script is on Redis. memory:// is private to its connect(); memory://NAME is shared by
// every handle in the process that names it.
#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "game_data/backend.hpp"
#include "game_data/errors.hpp"
#include "game_data/store.hpp"
#include "memory/memory_stream.hpp"

namespace game_data {
namespace {

// A sorted set: members ordered by (score, id), with each member's score.
struct SortedSet {
    std::set<std::pair<std::int64_t, std::string>> by_score;
    std::unordered_map<std::string, std::int64_t> score_of;

    void add(const std::string& id, std::int64_t score) {
        auto [it, fresh] = score_of.try_emplace(id, score);
        if (!fresh) {
            by_score.erase({it->second, id});
            it->second = score;
        }
        by_score.emplace(score, id);
    }
    void remove(const std::string& id) {
        auto it = score_of.find(id);
        if (it == score_of.end()) return;
        by_score.erase({it->second, id});
        score_of.erase(it);
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
            for (const auto& name : w.index_remove) sets_[name].remove(w.id);
            for (const auto& [name, score] : w.index_add) sets_[name].add(w.id, score);
            if (w.after) {
                Record fresh{GameSlot{std::move(w.after), w.score, Tomb::None}, w.revision};
                if (rec != games_.end()) {
                    rec->second = std::move(fresh);
                } else {
                    games_.emplace(w.id, std::move(fresh));
                }
            } else {
                if (rec != games_.end()) games_.erase(rec);
                if (w.tomb != Tomb::None) {
                    const std::int64_t expires_at = now_ms() + w.tomb_ttl_ms;
                    tombs_[w.id] = Tombstone{w.tomb, expires_at};
                    tomb_expiry_.emplace_back(expires_at, w.id);
                }
            }
            if (w.reaped_entry) streams_->add(reaped_stream_, *w.reaped_entry, 0);
        }
        prune_tombs_locked();
        return out;
    }

    bool change_in_place(const std::string& id, const InPlaceFn& change) override {
        std::lock_guard lock(mutex_);
        auto rec = games_.find(id);
        if (rec == games_.end()) {
            GameSlot missing;
            missing.tomb = live_tomb(id);
            change(missing);  // nothing to store for a game that is not live
            return true;
        }
        GameSlot& slot = rec->second.slot;
        const std::optional<InPlaceChange> done = change(slot);
        if (!done) return true;
        for (const auto& name : done->index_remove) sets_[name].remove(id);
        for (const auto& [name, score] : done->index_add) sets_[name].add(id, score);
        ++rec->second.revision;
        if (!slot.game) {
            const Tomb why = slot.tomb;
            games_.erase(rec);
            if (why != Tomb::None) {
                const std::int64_t expires_at = now_ms() + done->tomb_ttl_ms;
                tombs_[id] = Tombstone{why, expires_at};
                tomb_expiry_.emplace_back(expires_at, id);
            }
        }
        prune_tombs_locked();
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

    std::vector<IndexedGame> scan_merged(std::string_view index, std::string_view lapsed,
                                         std::int64_t lapsed_until,
                                         const std::optional<IndexCursor>& after,
                                         std::size_t limit) override {
        std::lock_guard lock(mutex_);
        using Key = std::pair<std::int64_t, std::string>;
        std::vector<Key> extra;  // lapsed entries after the cursor, by their records' scores
        if (auto set = sets_.find(lapsed); set != sets_.end()) {
            for (const auto& [until, id] : set->second.by_score) {
                if (until > lapsed_until) break;
                auto rec = games_.find(id);
                if (rec == games_.end()) continue;
                Key key{rec->second.slot.score, id};
                if (!after || key > Key{after->score, after->id}) extra.push_back(std::move(key));
            }
            std::sort(extra.begin(), extra.end());
        }
        std::vector<IndexedGame> out;
        auto next_extra = extra.begin();
        auto take = [&](const Key& key) {
            out.push_back(IndexedGame{key.second, key.first, stored_locked(key.second)});
        };
        if (auto set = sets_.find(index); set != sets_.end()) {
            const auto& members = set->second.by_score;
            auto it = after ? members.upper_bound({after->score, after->id}) : members.begin();
            for (; it != members.end() && out.size() < limit; ++it) {
                while (next_extra != extra.end() && *next_extra < *it && out.size() < limit) {
                    take(*next_extra++);
                }
                if (out.size() < limit) take(*it);
            }
        }
        while (next_extra != extra.end() && out.size() < limit) take(*next_extra++);
        return out;
    }

    std::vector<std::int64_t> sizes(std::span<const std::string> indexes) override {
        std::lock_guard lock(mutex_);
        std::vector<std::int64_t> out;
        for (const auto& name : indexes) {
            auto it = sets_.find(name);
            out.push_back(it == sets_.end() ? 0 : static_cast<std::int64_t>(it->second.score_of.size()));
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

    // Forgets expired tombstones, oldest first: amortised O(1) per commit. One TTL per backend
    // makes the queue ordered by expiry.
    void prune_tombs_locked() {
        if (tomb_expiry_.empty() || tomb_expiry_.front().first > now_ms()) return;
        const std::int64_t now = now_ms();
        while (!tomb_expiry_.empty() && tomb_expiry_.front().first <= now) {
            auto it = tombs_.find(tomb_expiry_.front().second);
            if (it != tombs_.end() && it->second.expires_at <= now) tombs_.erase(it);
            tomb_expiry_.pop_front();
        }
    }

    const std::string reaped_stream_;
    std::mutex mutex_;
    std::unordered_map<std::string, Record> games_;
    std::map<std::string, SortedSet, std::less<>> sets_;
    std::unordered_map<std::string, Tombstone> tombs_;
    std::deque<std::pair<std::int64_t, std::string>> tomb_expiry_;
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
