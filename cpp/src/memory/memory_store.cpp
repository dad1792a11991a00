// The embedded backend behind memory://. One mutex guards every game, set and index, so each
// operation is atomic exactly as a Lua script is on Redis. memory:// is private to its
// connect(); memory://NAME is shared by every handle in the process that names it.
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "game_data/errors.hpp"
#include "game_data/lifecycle.hpp"
#include "game_data/store.hpp"
#include "memory/memory_stream.hpp"

namespace game_data {
namespace {

using Scored = std::set<std::pair<std::int64_t, std::string>>;

enum class Tomb : std::uint8_t { Ended, Reaped };

class MemoryStore final : public Store {
public:
    MemoryStore(const ConnectOptions& options, std::shared_ptr<memory::MemoryStreams> streams)
        : ns_(options.ns), tombstone_ttl_ms_(options.tombstone_ttl_ms), streams_(std::move(streams)) {}

    void create_game(const Game& game, std::int64_t now) override {
        std::lock_guard lock(mutex_);
        if (games_.contains(game.id) || live_tomb(game.id)) {
            throw GameExists("game id '" + game.id + "' is already taken");
        }
        Record rec{game, now};
        rec.game.state = GameState::Created;
        sets_[static_cast<int>(GameSet::Pending)].emplace(now, game.id);
        games_.emplace(game.id, std::move(rec));
    }

    std::optional<Game> get_game(std::string_view id) override {
        std::lock_guard lock(mutex_);
        auto it = games_.find(std::string(id));
        if (it == games_.end()) return std::nullopt;
        return it->second.game;
    }

    std::vector<Game> get_open_games(std::size_t limit) override {
        std::lock_guard lock(mutex_);
        std::vector<Game> out;
        out.reserve(std::min(limit, open_.size()));
        for (auto it = open_.begin(); it != open_.end() && out.size() < limit; ++it) {
            out.push_back(games_.at(it->second).game);
        }
        return out;
    }

    ApplyResult apply(const Event& event, std::int64_t now) override {
        std::lock_guard lock(mutex_);
        return apply_locked(event, now);
    }

    std::vector<ApplyResult> apply_many(std::span<const Event> events, std::int64_t now) override {
        std::lock_guard lock(mutex_);
        std::vector<ApplyResult> out;
        out.reserve(events.size());
        for (const auto& e : events) out.push_back(apply_locked(e, now));
        return out;
    }

    std::vector<Game> reap(std::int64_t now, const MaxAges& ages, std::size_t batch) override {
        if (batch == 0) batch = 1;
        std::vector<Game> out;
        for (GameSet set : kAllSets) {
            const std::int64_t cutoff = now - ages.of(set);
            while (true) {
                std::lock_guard lock(mutex_);  // one batch per lock hold, like one script call
                Scored& scored = sets_[static_cast<int>(set)];
                std::size_t taken = 0;
                while (!scored.empty() && scored.begin()->first < cutoff && taken < batch) {
                    const std::string id = scored.begin()->second;
                    Record& rec = games_.at(id);
                    out.push_back(rec.game);
                    remove_locked(rec, id, Tomb::Reaped);
                    ++taken;
                }
                if (taken < batch) break;
            }
        }
        std::lock_guard lock(mutex_);
        const std::int64_t real_now = now_ms();
        std::erase_if(tombs_, [real_now](const auto& kv) { return kv.second.expires_at <= real_now; });
        return out;
    }

    Counts counts() override {
        std::lock_guard lock(mutex_);
        return Counts{static_cast<std::int64_t>(sets_[0].size()),
                      static_cast<std::int64_t>(sets_[1].size()),
                      static_cast<std::int64_t>(sets_[2].size())};
    }

    std::optional<std::pair<GameSet, std::int64_t>> set_entry(std::string_view id) override {
        std::lock_guard lock(mutex_);
        auto it = games_.find(std::string(id));
        if (it == games_.end()) return std::nullopt;
        return std::make_pair(*set_of(it->second.game.state), it->second.score);
    }

    std::shared_ptr<StreamTransport> streams() override { return streams_; }
    const std::string& ns() const override { return ns_; }

private:
    struct Record {
        Game game;
        std::int64_t score;  // time the game entered its current set (or last heartbeat)
    };
    struct Tombstone {
        Tomb why;
        std::int64_t expires_at;
    };

    // Tombstones expire by the real clock, as Redis expires keys: a reap or apply at a
    // simulated future time must not forget which games ended.
    const Tombstone* live_tomb(const std::string& id) const {
        auto it = tombs_.find(id);
        return it != tombs_.end() && it->second.expires_at > now_ms() ? &it->second : nullptr;
    }

    ApplyResult apply_locked(const Event& event, std::int64_t now) {
        ApplyResult result;
        result.game_id = event.game_id;
        auto it = games_.find(event.game_id);
        if (it == games_.end()) {
            if (const Tombstone* t = live_tomb(event.game_id)) {
                bool benign = t->why == Tomb::Ended || event.type == EventType::GameEnded;
                result.status = benign ? ApplyStatus::Duplicate : ApplyStatus::Rejected;
                result.reason = t->why == Tomb::Ended ? "game has ended" : "game was reaped";
            } else {
                result.status = ApplyStatus::Rejected;
                result.reason = "unknown game";
            }
            return result;
        }
        Record& rec = it->second;
        Outcome o = apply_event(rec.game, event, now);
        result.status = o.status;
        result.reason = std::string(o.reason);
        if (o.status != ApplyStatus::Applied) {
            result.state = rec.game.state;
            return result;
        }
        if (!o.sets.to) {
            remove_locked(rec, event.game_id, Tomb::Ended);
            result.state = GameState::Ended;
            return result;
        }
        const bool was_open = rec.game.is_open();
        if (was_open) open_.erase({rec.score, event.game_id});
        if (o.sets.rescore) {
            sets_[static_cast<int>(*o.sets.from)].erase({rec.score, event.game_id});
            rec.score = now;
            sets_[static_cast<int>(*o.sets.to)].emplace(now, event.game_id);
        }
        rec.game = std::move(o.after);
        if (rec.game.is_open()) open_.emplace(rec.score, event.game_id);
        result.state = rec.game.state;
        return result;
    }

    // Removes a live game from its set, the open index and the table; leaves a tombstone.
    void remove_locked(Record& rec, const std::string& id, Tomb why) {
        const std::string key = id;  // `id` may alias the record being erased
        if (auto set = set_of(rec.game.state)) sets_[static_cast<int>(*set)].erase({rec.score, key});
        open_.erase({rec.score, key});
        games_.erase(key);
        tombs_[key] = Tombstone{why, now_ms() + tombstone_ttl_ms_};
    }

    std::string ns_;
    std::int64_t tombstone_ttl_ms_;
    std::mutex mutex_;
    std::unordered_map<std::string, Record> games_;
    Scored sets_[3];
    Scored open_;  // subset of lobby: CreatorJoined with a free seat, same score
    std::unordered_map<std::string, Tombstone> tombs_;
    std::shared_ptr<memory::MemoryStreams> streams_;
};

}  // namespace

std::shared_ptr<Store> make_memory_store(const Url& url, const ConnectOptions& options) {
    if (url.host.empty()) {
        return std::make_shared<MemoryStore>(options, std::make_shared<memory::MemoryStreams>());
    }
    // Named instances live as long as the process so a publisher and a matchmaker opened
    // separately by URL meet in the same backend. As on one Redis: game data is separate per
    // namespace, streams are shared by name (stream names carry their own prefix).
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<memory::MemoryStreams>> streams;
    static std::map<std::string, std::shared_ptr<Store>> stores;
    std::lock_guard lock(mutex);
    auto& transport = streams[url.host];
    if (!transport) transport = std::make_shared<memory::MemoryStreams>();
    auto& slot = stores[url.host + "\n" + options.ns];
    if (!slot) slot = std::make_shared<MemoryStore>(options, transport);
    return slot;
}

}  // namespace game_data
