// The Redis backend behind redis://, rediss:// and unix://. Layout (SPEC section 4, one shard):
//   <ns>:{0}:game:<id>   hash: id, state, creator_id, capacity, server_id, players (comma
//                        joined), metadata (JSON), created_at, updated_at, last_seq, and
//                        s:<player> = seq of the latest roster event per player (with seqs)
//   <ns>:{0}:pending / :lobby / :active   sorted sets of ids scored by ms
//   <ns>:{0}:open        sorted set, the lobby games in creator_joined with a free seat,
//                        scored as in lobby (what get_open_games reads)
//   <ns>:{0}:tomb:<id>   string "ended" or "reaped", expiring after tombstone_ttl_ms
// Every multi-key change is one Lua script (cpp/src/lua), so any number of stores, threads and
// processes may share one Redis. A RedisStore is thread safe: each call borrows one
// connection from a pool of pool_size and waits while all are busy. While Redis is down calls
// fail fast with ConnectionError (OutcomeUnknown if a command was in flight) and the next call
// after it is back reconnects; scripts are reloaded on NOSCRIPT.
#include <algorithm>
#include <charconv>
#include <iterator>
#include <limits>
#include <mutex>

#include <spdlog/spdlog.h>

#include "game_data/errors.hpp"
#include "game_data/event_codec.hpp"
#include "game_data/logging.hpp"
#include "game_data/lua_scripts.hpp"
#include "game_data/store.hpp"
#include "game_data/validation.hpp"
#include "redis/redis_connection.hpp"
#include "redis/redis_eviction.hpp"
#include "redis/redis_streams.hpp"

namespace game_data {
namespace {

using redis::Args;
using redis::Connection;
using redis::ConnectionPool;
using redis::ReplyPtr;

// A script's text and the SHA1 Redis gave it. The SHA depends only on the text, so it is fixed
// once loaded; NOSCRIPT (after a restart or SCRIPT FLUSH) only means "load it again".
struct Script {
    std::string_view name;
    std::string_view text;
    std::string sha;
};

std::int64_t to_int(std::string_view s, const char* what) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) {
        throw ReplyError(std::string("corrupt game record: bad ") + what);
    }
    return v;
}

std::string_view str(const redisReply& r) { return redis::reply_text(r); }

std::int64_t integer_of(const redisReply& r, const char* what) {
    if (r.type == REDIS_REPLY_INTEGER) return r.integer;
    if (r.type == REDIS_REPLY_STRING) return to_int(str(r), what);
    throw ReplyError(std::string("unexpected reply type for ") + what);
}

std::string join_players(const std::vector<std::string>& players) {
    std::string out;
    for (const auto& p : players) {
        if (!out.empty()) out.push_back(',');
        out += p;
    }
    return out;
}

// A game record from a flat HGETALL array (field, value, ...).
Game decode_game(const redisReply& r) {
    if (r.type != REDIS_REPLY_ARRAY || r.elements % 2 != 0) {
        throw ReplyError("corrupt game record: not a field/value array");
    }
    Game g;
    bool has_id = false, has_state = false;
    for (size_t i = 0; i + 1 < r.elements; i += 2) {
        const std::string_view field = str(*r.element[i]);
        const std::string_view value = str(*r.element[i + 1]);
        if (field == "id") {
            g.id = value;
            has_id = true;
        } else if (field == "state") {
            auto s = parse_game_state(value);
            if (!s) throw ReplyError("corrupt game record: unknown state");
            g.state = *s;
            has_state = true;
        } else if (field == "creator_id") {
            g.creator_id = value;
        } else if (field == "capacity") {
            g.capacity = static_cast<std::int32_t>(to_int(value, "capacity"));
        } else if (field == "server_id") {
            g.server_id = value;
        } else if (field == "players") {
            g.players.clear();
            std::size_t start = 0;
            while (start < value.size()) {
                std::size_t comma = value.find(',', start);
                if (comma == std::string_view::npos) comma = value.size();
                if (comma > start) g.players.emplace_back(value.substr(start, comma - start));
                start = comma + 1;
            }
        } else if (field == "metadata") {
            g.metadata = nlohmann::json::parse(value, nullptr, false);
            if (!g.metadata.is_object()) throw ReplyError("corrupt game record: metadata");
        } else if (field == "created_at") {
            g.created_at = to_int(value, "created_at");
        } else if (field == "updated_at") {
            g.updated_at = to_int(value, "updated_at");
        } else if (field == "last_seq") {
            g.last_seq = to_int(value, "last_seq");
        } else if (field.starts_with("s:")) {
            g.player_seqs[std::string(field.substr(2))] = to_int(value, "player seq");
        }
    }
    if (!has_id || !has_state) throw ReplyError("corrupt game record: missing id or state");
    return g;
}

class RedisStore final : public Store {
public:
    RedisStore(redis::Endpoint endpoint, const ConnectOptions& options)
        : pool_(std::make_shared<ConnectionPool>(std::move(endpoint))),
          ns_(options.ns),
          prefix_(options.ns + ":{0}:"),
          game_prefix_(prefix_ + "game:"),
          tomb_prefix_(prefix_ + "tomb:"),
          pending_(prefix_ + "pending"),
          lobby_(prefix_ + "lobby"),
          active_(prefix_ + "active"),
          open_(prefix_ + "open"),
          ttl_(std::to_string(options.tombstone_ttl_ms)),
          create_{"create_game", lua::create_game, {}},
          apply_{"apply_event", lua::apply_event, {}},
          reap_{"reap_batch", lua::reap_batch, {}},
          open_games_{"get_open_games", lua::get_open_games, {}},
          counts_{"counts", lua::counts, {}},
          set_entry_{"set_entry", lua::set_entry, {}},
          streams_(std::make_shared<redis::RedisStreams>(pool_)) {
        if (options.ns.find_first_of("{}") != std::string::npos) {
            throw InvalidArgument("namespace must not contain '{' or '}' (they form hash tags)");
        }
        if (options.tombstone_ttl_ms <= 0) throw InvalidArgument("tombstone_ttl_ms must be > 0");
        // Connect now so a wrong URL fails here. Scripts are loaded on first use, so a
        // publisher whose Redis user may only XADD never needs SCRIPT LOAD.
        auto conn = pool_->acquire();
        eviction_risk_ = redis::eviction_risk(*conn, pool_->endpoint().display);
    }

    void create_game(const Game& game, std::int64_t now) override {
        validate_id("game_id", game.id);
        for (const auto& p : game.players) validate_id("player_id", p);
        auto conn = pool_->acquire();
        ReplyPtr r = eval(*conn, create_, {game_prefix_ + game.id, pending_, tomb_prefix_ + game.id},
                          {game.id, game.creator_id, std::to_string(game.capacity), game.server_id,
                           join_players(game.players), game.metadata.dump(),
                           std::to_string(game.created_at), std::to_string(game.updated_at),
                           std::to_string(game.last_seq), std::to_string(now)});
        if (redis::is_error(*r, "GAMEEXISTS")) {
            throw GameExists("game id '" + game.id + "' is already taken");
        }
        check(*r, "create_game");
    }

    std::optional<Game> get_game(std::string_view id) override {
        ReplyPtr r = read_only([&](Connection& c) {
            return c.command({"HGETALL", game_prefix_ + std::string(id)});
        });
        check(*r, "HGETALL");
        if (r->type != REDIS_REPLY_ARRAY) throw ReplyError("unexpected reply to HGETALL");
        if (r->elements == 0) return std::nullopt;
        return decode_game(*r);
    }

    std::vector<Game> get_open_games(std::size_t limit) override {
        if (limit == 0) return {};
        const auto capped = std::min<std::size_t>(limit, std::numeric_limits<std::int32_t>::max());
        ReplyPtr r = read_only([&](Connection& c) {
            return eval(c, open_games_, {open_}, {std::to_string(capped), game_prefix_});
        });
        return decode_games(*r, "get_open_games");
    }

    ApplyResult apply(const Event& event, std::int64_t now) override {
        check_seq(event);
        auto conn = pool_->acquire();
        ReplyPtr r = eval(*conn, apply_, apply_keys(event), apply_args(event, now));
        return decode_apply(*r, event);
    }

    std::vector<ApplyResult> apply_many(std::span<const Event> events, std::int64_t now) override {
        if (events.empty()) return {};
        for (const auto& e : events) check_seq(e);
        auto conn = pool_->acquire();
        ensure_loaded(*conn, apply_);
        // MULTI/EXEC makes the batch all-or-nothing with respect to the script cache: a SCRIPT
        // FLUSH (or a restart) and another client's reload can never fall between two of its
        // events, so NOSCRIPT hits every event or none. The one retry sends the script text
        // (EVAL), which cannot miss the cache, so the batch runs once, in order.
        std::vector<Args> commands;
        commands.reserve(events.size() + 2);
        for (const bool with_text : {false, true}) {
            commands.clear();
            commands.push_back({"MULTI"});
            {
                std::lock_guard lock(sha_mutex_);
                for (const auto& e : events) {
                    Args c = evalsha_args(apply_, apply_keys(e), apply_args(e, now));
                    if (with_text) {
                        c[0] = "EVAL";
                        c[1] = std::string(apply_.text);
                    }
                    commands.push_back(std::move(c));
                }
            }
            commands.push_back({"EXEC"});
            std::vector<ReplyPtr> replies = conn->pipeline(commands);
            for (const auto& r : replies) check(*r, "apply_many");  // MULTI, QUEUED..., EXEC
            const redisReply& exec = *replies.back();
            if (exec.type != REDIS_REPLY_ARRAY || exec.elements != events.size()) {
                throw ReplyError("unexpected reply to apply_many's EXEC");
            }
            bool noscript = false;
            for (std::size_t i = 0; i < exec.elements; ++i) {
                noscript = noscript || redis::is_error(*exec.element[i], "NOSCRIPT");
            }
            if (noscript) {
                logger()->info("redis: script apply_event not loaded on {}, sending its text",
                               pool_->endpoint().display);
                continue;
            }
            std::vector<ApplyResult> out;
            out.reserve(events.size());
            for (std::size_t i = 0; i < events.size(); ++i) {
                out.push_back(decode_apply(*exec.element[i], events[i]));
            }
            return out;
        }
        throw ReplyError("apply_many: NOSCRIPT although the script text was sent");
    }

    std::vector<Game> reap(std::int64_t now, const MaxAges& ages, std::size_t batch) override {
        batch = std::clamp<std::size_t>(batch, 1, 100'000);
        std::vector<Game> out;
        try {
            for (GameSet set : kAllSets) {
                const std::string cutoff = std::to_string(now - ages.of(set));
                const std::string& key = set_key(set);
                while (true) {  // one bounded script call per batch: Redis is never blocked long
                    auto conn = pool_->acquire();
                    ReplyPtr r = eval(*conn, reap_, {key, open_},
                                      {cutoff, std::to_string(batch), game_prefix_, tomb_prefix_, ttl_});
                    std::vector<Game> removed = decode_games(*r, "reap");
                    const std::size_t n = removed.size();
                    std::move(removed.begin(), removed.end(), std::back_inserter(out));
                    if (n < batch) break;
                }
            }
        } catch (const GameDataError& e) {
            // Earlier batches are committed: their games must reach the caller, who deletes
            // them on their game servers. What is left is reaped by the next call.
            if (out.empty()) throw;
            logger()->error("redis: reap stopped after {} games: {}", out.size(), e.what());
        }
        return out;
    }

    Counts counts() override {
        ReplyPtr r = read_only([&](Connection& c) {
            return eval(c, counts_, {pending_, lobby_, active_}, {});
        });
        check(*r, "counts");
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) throw ReplyError("unexpected reply to counts");
        return Counts{integer_of(*r->element[0], "count"), integer_of(*r->element[1], "count"),
                      integer_of(*r->element[2], "count")};
    }

    std::optional<std::pair<GameSet, std::int64_t>> set_entry(std::string_view id) override {
        ReplyPtr r = read_only([&](Connection& c) {
            return eval(c, set_entry_, {pending_, lobby_, active_}, {std::string(id)});
        });
        check(*r, "set_entry");
        if (r->type != REDIS_REPLY_ARRAY) throw ReplyError("unexpected reply to set_entry");
        if (r->elements == 0) return std::nullopt;
        if (r->elements != 2) throw ReplyError("unexpected reply to set_entry");
        const std::int64_t index = integer_of(*r->element[0], "set index");
        if (index < 0 || index > 2) throw ReplyError("unexpected set index");
        return std::make_pair(static_cast<GameSet>(index), integer_of(*r->element[1], "score"));
    }

    std::shared_ptr<StreamTransport> streams() override { return streams_; }
    const std::string& ns() const override { return ns_; }
    std::optional<std::string> eviction_risk() const override { return eviction_risk_; }

private:
    static void check(const redisReply& r, const std::string& what) {
        if (r.type == REDIS_REPLY_ERROR) redis::throw_error(redis::Stage::Command, nullptr, &r, what);
    }

    // Seqs are compared as Lua numbers (doubles): exact only up to 2^53 - 1.
    static void check_seq(const Event& e) {
        if (e.seq && (*e.seq < 0 || *e.seq > kMaxSeq)) {
            throw InvalidArgument("seq must be between 0 and 2^53 - 1");
        }
    }

    const std::string& set_key(GameSet s) const {
        switch (s) {
            case GameSet::Pending: return pending_;
            case GameSet::Lobby: return lobby_;
            case GameSet::Active: return active_;
        }
        return pending_;
    }

    Args apply_keys(const Event& e) const {
        return {game_prefix_ + e.game_id, pending_, lobby_, active_, open_, tomb_prefix_ + e.game_id};
    }

    Args apply_args(const Event& e, std::int64_t now) const {
        return {e.game_id,
                std::string(to_string(e.type)),
                e.server_id,
                e.player_id ? "1" : "0",
                e.player_id.value_or(std::string()),
                e.seq ? std::to_string(*e.seq) : std::string(),
                std::to_string(now),
                ttl_};
    }

    static ApplyResult decode_apply(const redisReply& r, const Event& e) {
        check(r, "apply_event");
        if (r.type != REDIS_REPLY_ARRAY || r.elements != 3) throw ReplyError("unexpected reply to apply_event");
        ApplyResult out;
        out.game_id = e.game_id;
        auto status = parse_apply_status(str(*r.element[0]));
        if (!status) throw ReplyError("unexpected status from apply_event");
        out.status = *status;
        out.reason = str(*r.element[1]);
        const std::string_view state = str(*r.element[2]);
        if (!state.empty()) {
            out.state = parse_game_state(state);
            if (!out.state) throw ReplyError("unexpected state from apply_event");
        }
        return out;
    }

    static std::vector<Game> decode_games(const redisReply& r, const std::string& what) {
        check(r, what);
        if (r.type != REDIS_REPLY_ARRAY) throw ReplyError("unexpected reply to " + what);
        std::vector<Game> out;
        out.reserve(r.elements);
        for (size_t i = 0; i < r.elements; ++i) out.push_back(decode_game(*r.element[i]));
        return out;
    }

    static Args evalsha_args(const Script& s, const Args& keys, const Args& args) {
        Args out;
        out.reserve(3 + keys.size() + args.size());
        out.push_back("EVALSHA");
        out.push_back(s.sha);
        out.push_back(std::to_string(keys.size()));
        out.insert(out.end(), keys.begin(), keys.end());
        out.insert(out.end(), args.begin(), args.end());
        return out;
    }

    void ensure_loaded(Connection& conn, Script& s) {
        {
            std::lock_guard lock(sha_mutex_);
            if (!s.sha.empty()) return;
        }
        load(conn, s);
    }

    void load(Connection& conn, Script& s) {
        ReplyPtr r = conn.command({"SCRIPT", "LOAD", std::string(s.text)});
        check(*r, "SCRIPT LOAD " + std::string(s.name));
        std::lock_guard lock(sha_mutex_);
        s.sha = str(*r);
    }

    // EVALSHA, and on NOSCRIPT (restart, SCRIPT FLUSH) load and retry once. A NOSCRIPT reply
    // means the script never ran, so the retry cannot apply anything twice.
    ReplyPtr eval(Connection& conn, Script& s, const Args& keys, const Args& args) {
        ensure_loaded(conn, s);
        Args command;
        {
            std::lock_guard lock(sha_mutex_);
            command = evalsha_args(s, keys, args);
        }
        ReplyPtr r = conn.command(command);
        if (!redis::is_error(*r, "NOSCRIPT")) return r;
        logger()->info("redis: script {} not loaded on {}, loading it again", s.name,
                       pool_->endpoint().display);
        load(conn, s);
        {
            std::lock_guard lock(sha_mutex_);
            command = evalsha_args(s, keys, args);
        }
        return conn.command(command);
    }

    // Reads may be retried once on a fresh connection when a pooled one turns out dead:
    // they change nothing, so the caller only sees an error if Redis is really unreachable.
    template <typename Fn>
    ReplyPtr read_only(Fn&& fn) {
        try {
            auto conn = pool_->acquire();
            return fn(*conn);
        } catch (const OutcomeUnknown&) {
            auto conn = pool_->acquire();
            return fn(*conn);
        }
    }

    std::shared_ptr<ConnectionPool> pool_;
    std::string ns_;
    std::string prefix_, game_prefix_, tomb_prefix_;
    std::string pending_, lobby_, active_, open_;
    std::string ttl_;
    std::mutex sha_mutex_;  // guards Script::sha (rewritten with the same value on reload)
    Script create_, apply_, reap_, open_games_, counts_, set_entry_;
    std::shared_ptr<redis::RedisStreams> streams_;
    std::optional<std::string> eviction_risk_;  // checked once, at connect
};

}  // namespace

std::shared_ptr<Store> make_redis_store(const Url& url, const ConnectOptions& options) {
    return std::make_shared<RedisStore>(redis::Endpoint::from(url, options), options);
}

}  // namespace game_data
