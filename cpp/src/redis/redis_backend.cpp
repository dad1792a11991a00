// The Redis backend behind redis://, rediss:// and unix://. It only stores: three generic Lua
// scripts read snapshots and apply the guarded write plans that Store computed; no rule of the
// game is written here. Layout (one shard, hash tag {0}; README "Redis layout"):
//   <ns>:{0}:game:<id>   hash, the record (fields below, the only place they are spelled)
//   <ns>:{0}:pending / :lobby / :active / :open   sorted sets of ids scored by ms
//   <ns>:{0}:open:<key>=<value>, :reserved[:<key>=<value>]   open indexes and their reserved twins
//   <ns>:{0}:tomb:<id>   string "ended" or "reaped", expiring after tombstone_ttl_ms
//   <ns>:{0}:reaped      stream, one entry per reaped game
//   <ns>:{0}:seat:<player>   string "<game id> <expires_at>": the player's one seat (README "Seats")
//   <ns>:{0}:config      hash: filter_keys (the namespace's, declared once)
// Thread safe: each call borrows one connection from a pool of pool_size. While Redis is down
// calls fail fast with ConnectionError (OutcomeUnknown if a command was in flight); scripts are
// reloaded on NOSCRIPT.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <mutex>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "game_data/backend.hpp"
#include "game_data/errors.hpp"
#include "game_data/json.hpp"
#include "game_data/logging.hpp"
#include "game_data/lua_scripts.hpp"
#include "game_data/store.hpp"
#include "redis/redis_connection.hpp"
#include "redis/redis_eviction.hpp"
#include "redis/redis_streams.hpp"

namespace game_data {
namespace {

using redis::Args;
using redis::Connection;
using redis::ConnectionPool;
using redis::ReplyPtr;

// The record's field names.
namespace field {
constexpr std::string_view kId = "id", kState = "state", kCreator = "creator_id",
                           kCapacity = "capacity", kServer = "server_id", kPlayers = "players",
                           kMetadata = "metadata", kCreatedAt = "created_at",
                           kUpdatedAt = "updated_at", kLastSeq = "last_seq", kHeld = "held",
                           kSeqFloor = "seq_floor", kCreatorSeen = "creator_seen", kRev = "rev",
                           kScore = "score";
constexpr std::string_view kPlayerSeqPrefix = "s:";  // s:<player> = seq of their latest roster event
constexpr std::string_view kReservationPrefix = "r:";  // r:<player> = expires_at of their seat
}  // namespace field

// A script's text and the SHA1 Redis gave it. The SHA depends only on the text, so it is fixed
// once loaded; NOSCRIPT (after a restart or SCRIPT FLUSH) only means "load it again".
struct Script {
    std::string_view name;
    std::string_view text;
    std::string sha;
};

std::string_view str(const redisReply& r) { return redis::reply_text(r); }

std::int64_t to_int(std::string_view s, const char* what) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc{} && p == s.data() + s.size()) return v;
    // Sorted-set scores come back as doubles' text; ms timestamps are exact in a double.
    double d = 0;
    auto [q, ec2] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec2 == std::errc{} && q == s.data() + s.size() && std::isfinite(d)) {
        return static_cast<std::int64_t>(d);
    }
    throw ReplyError(std::string("corrupt game record: bad ") + what);
}

void check(const redisReply& r, const std::string& what) {
    if (r.type == REDIS_REPLY_ERROR) redis::throw_error(redis::Stage::Command, nullptr, &r, what);
}

// Why a write was refused: a key the scripts found holding another type (commit_games.lua,
// refresh_games.lua), in one wording.
std::string wrong_type_refusal(std::string_view key, std::string_view holds) {
    return "key '" + std::string(key) + "' holds a " + std::string(holds) + ", not what the game needs there";
}

// A TIME reply (seconds, microseconds) in ms.
std::int64_t time_ms(const redisReply& r) {
    check(r, "TIME");
    if (r.type != REDIS_REPLY_ARRAY || r.elements != 2) throw ReplyError("unexpected reply to TIME");
    return to_int(str(*r.element[0]), "TIME") * 1000 + to_int(str(*r.element[1]), "TIME") / 1000;
}

std::string join_players(const std::vector<std::string>& players) {
    std::string out;
    for (const auto& p : players) {
        if (!out.empty()) out.push_back(',');
        out += p;
    }
    return out;
}

std::string join_held(const std::vector<std::pair<std::string, std::int64_t>>& held) {
    std::string out;
    for (const auto& [p, seq] : held) {
        if (!out.empty()) out.push_back(',');
        out += p;
        out.push_back(':');
        out += std::to_string(seq);
    }
    return out;
}

template <typename Fn>
void split(std::string_view s, char sep, Fn&& fn) {
    std::size_t start = 0;
    while (start < s.size()) {
        std::size_t end = s.find(sep, start);
        if (end == std::string_view::npos) end = s.size();
        if (end > start) fn(s.substr(start, end - start));
        start = end + 1;
    }
}

// The record (HGETALL field/value array) as the rules' slot, with its revision.
StoredGame decode_record(const redisReply& r) {
    if (r.type != REDIS_REPLY_ARRAY || r.elements % 2 != 0) {
        throw ReplyError("corrupt game record: not a field/value array");
    }
    StoredGame out;
    out.revision = 1;  // records written before revisions existed
    Game& g = out.slot.game.emplace();
    bool has_id = false, has_state = false;
    for (size_t i = 0; i + 1 < r.elements; i += 2) {
        const std::string_view f = str(*r.element[i]);
        const std::string_view v = str(*r.element[i + 1]);
        if (f == field::kId) {
            g.id = v;
            has_id = true;
        } else if (f == field::kState) {
            auto s = parse_game_state(v);
            if (!s) throw ReplyError("corrupt game record: unknown state");
            g.state = *s;
            has_state = true;
        } else if (f == field::kCreator) {
            g.creator_id = v;
        } else if (f == field::kCapacity) {
            g.capacity = static_cast<std::int32_t>(to_int(v, "capacity"));
        } else if (f == field::kServer) {
            g.server_id = v;
        } else if (f == field::kPlayers) {
            split(v, ',', [&](std::string_view p) { g.players.emplace_back(p); });
        } else if (f == field::kMetadata) {
            nlohmann::json doc = nlohmann::json::parse(v, nullptr, false);
            if (!doc.is_object()) throw ReplyError("corrupt game record: metadata");
            g.metadata = to_metadata(std::move(doc));
        } else if (f == field::kCreatedAt) {
            g.created_at = to_int(v, "created_at");
        } else if (f == field::kUpdatedAt) {
            g.updated_at = to_int(v, "updated_at");
        } else if (f == field::kLastSeq) {
            g.last_seq = to_int(v, "last_seq");
        } else if (f == field::kHeld) {
            split(v, ',', [&](std::string_view h) {
                const auto colon = h.rfind(':');
                if (colon == std::string_view::npos) throw ReplyError("corrupt game record: held");
                g.held.emplace_back(std::string(h.substr(0, colon)), to_int(h.substr(colon + 1), "held seq"));
            });
        } else if (f == field::kSeqFloor) {
            g.seq_floor = to_int(v, "seq_floor");
        } else if (f == field::kCreatorSeen) {
            g.creator_seen = v == "1";
        } else if (f == field::kRev) {
            out.revision = to_int(v, "rev");
        } else if (f == field::kScore) {
            out.slot.score = to_int(v, "score");
        } else if (f.starts_with(field::kReservationPrefix)) {
            g.reservations[std::string(f.substr(field::kReservationPrefix.size()))] = to_int(v, "reservation");
        } else if (f.starts_with(field::kPlayerSeqPrefix)) {
            g.player_seqs[std::string(f.substr(field::kPlayerSeqPrefix.size()))] = to_int(v, "player seq");
        }
    }
    if (!has_id || !has_state) throw ReplyError("corrupt game record: missing id or state");
    return out;
}

// HSET / HDEL arguments that turn record `before` (nullptr: none) into `after`.
void encode_changes(const Game* before, const Game& after, std::int64_t revision,
                    std::int64_t score, Args& hset, Args& hdel) {
    auto put = [&](std::string_view f, std::string v) {
        hset.emplace_back(f);
        hset.push_back(std::move(v));
    };
    const bool all = before == nullptr;
    if (all || before->id != after.id) put(field::kId, after.id);
    if (all || before->state != after.state) put(field::kState, std::string(to_string(after.state)));
    if (all || before->creator_id != after.creator_id) put(field::kCreator, after.creator_id);
    if (all || before->capacity != after.capacity) put(field::kCapacity, std::to_string(after.capacity));
    if (all || before->server_id != after.server_id) put(field::kServer, after.server_id);
    if (all || before->players != after.players) put(field::kPlayers, join_players(after.players));
    if (all || before->metadata != after.metadata) put(field::kMetadata, after.metadata.dump());
    if (all || before->created_at != after.created_at) put(field::kCreatedAt, std::to_string(after.created_at));
    if (all || before->updated_at != after.updated_at) put(field::kUpdatedAt, std::to_string(after.updated_at));
    if (all || before->last_seq != after.last_seq) put(field::kLastSeq, std::to_string(after.last_seq));
    if (all || before->held != after.held) {
        if (!after.held.empty()) put(field::kHeld, join_held(after.held));
        else if (!all) hdel.emplace_back(field::kHeld);
    }
    if ((all && after.seq_floor != 0) || (!all && before->seq_floor != after.seq_floor)) {
        put(field::kSeqFloor, std::to_string(after.seq_floor));
    }
    if (after.creator_seen && (all || !before->creator_seen)) put(field::kCreatorSeen, "1");
    // Per-player maps: one field per entry, written when new or changed, deleted when gone.
    auto sync_map = [&](const std::map<std::string, std::int64_t>* was,
                        const std::map<std::string, std::int64_t>& now, std::string_view prefix) {
        for (const auto& [player, value] : now) {
            if (was) {
                auto it = was->find(player);
                if (it != was->end() && it->second == value) continue;
            }
            put(std::string(prefix) + player, std::to_string(value));
        }
        if (!was) return;
        for (const auto& [player, value] : *was) {
            if (!now.contains(player)) hdel.push_back(std::string(prefix) + player);
        }
    };
    sync_map(all ? nullptr : &before->player_seqs, after.player_seqs, field::kPlayerSeqPrefix);
    sync_map(all ? nullptr : &before->reservations, after.reservations, field::kReservationPrefix);
    put(field::kRev, std::to_string(revision));
    put(field::kScore, std::to_string(score));
}

class RedisBackend final : public Backend {
public:
    RedisBackend(redis::Endpoint endpoint, const ConnectOptions& options)
        : pool_(std::make_shared<ConnectionPool>(std::move(endpoint))),
          prefix_(key_prefix(options.ns, 0)),
          game_prefix_(prefix_ + "game:"),
          tomb_prefix_(prefix_ + "tomb:"),
          seat_prefix_(prefix_ + "seat:"),
          reaped_(prefix_ + "reaped"),
          scan_{"scan_index", lua::scan_index, {}},
          commit_{"commit_games", lua::commit_games, {}},
          declare_{"declare_filter_keys", lua::declare_filter_keys, {}},
          refresh_{"refresh_games", lua::refresh_games, {}},
          streams_(std::make_shared<redis::RedisStreams>(pool_)) {
        if (options.ns.find_first_of("{}") != std::string::npos) {
            throw InvalidArgument("namespace must not contain '{' or '}' (they form hash tags)");
        }
        // Connect now so a wrong URL fails here. Scripts are loaded on first use, so a
        // publisher whose Redis user may only XADD never needs SCRIPT LOAD.
        auto conn = pool_->acquire();
        eviction_risk_ = redis::eviction_risk(*conn, pool_->endpoint().display);
    }

    // One pipelined round trip of plain reads (HGETALL, GET per game), not a script: reads
    // never wait behind CLIENT PAUSE WRITE and need no script rights. Each game's record and
    // its tombstone are written by one commit, so whichever is seen is a committed state.
    // With `clock`, TIME goes first in the same pipeline: the time the records are decided at
    // is Redis's, read before them (so no record read can be newer than that time).
    std::vector<StoredGame> read(std::span<const std::string> ids, std::int64_t* clock) override {
        if (ids.empty() && !clock) return {};
        std::vector<Args> commands;
        commands.reserve(ids.size() * 2 + 1);
        if (clock) commands.push_back({"TIME"});
        for (const auto& id : ids) {
            commands.push_back({"HGETALL", game_prefix_ + id});
            commands.push_back({"GET", tomb_prefix_ + id});
        }
        std::vector<ReplyPtr> replies = read_pipeline(commands);
        if (clock) {
            *clock = time_ms(*replies.front());
            replies.erase(replies.begin());
        }
        std::vector<StoredGame> out(ids.size());
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const redisReply& rec = *replies[2 * i];
            const redisReply& tomb = *replies[2 * i + 1];
            // A key of this game holding another type refuses this game only (Store reports it
            // and writes nothing of it); any other error fails the read.
            const redisReply* wrong = redis::error_kind(rec) == redis::ErrorKind::WrongType ? &rec
                                      : redis::error_kind(tomb) == redis::ErrorKind::WrongType ? &tomb
                                                                                                : nullptr;
            if (wrong) {
                out[i].refused = "key '" + (wrong == &rec ? game_prefix_ : tomb_prefix_) + ids[i] +
                                 "' holds another type than the game needs there";
                continue;
            }
            check(rec, "HGETALL");
            check(tomb, "GET");
            if (rec.type == REDIS_REPLY_ARRAY && rec.elements > 0) {
                out[i] = decode_record(rec);
            } else if (tomb.type == REDIS_REPLY_STRING) {
                out[i].slot.tomb = parse_tomb(str(tomb)).value_or(Tomb::Ended);
            }
        }
        return out;
    }

    std::int64_t clock() override {
        ReplyPtr r = read_only([&](Connection& c) { return c.command({"TIME"}); });
        return time_ms(*r);
    }

    std::vector<bool> commit(std::span<GameWrite> writes, const NamespaceConfig* config,
                             bool all_or_none) override {
        if (writes.empty()) return {};
        Args keys;
        std::unordered_map<std::string, std::size_t> key_index;
        auto key = [&](std::string k) {
            auto [it, fresh] = key_index.try_emplace(std::move(k), keys.size() + 1);
            if (fresh) keys.push_back(it->first);
            return std::to_string(it->second);
        };
        Args argv;
        argv.push_back(std::to_string(writes.size()) + (all_or_none ? "!" : ""));
        if (config) {
            argv.push_back(key(prefix_ + "config"));
            argv.push_back(config->stored ? "=" + filter_keys_config_text(*config) : "-");
        } else {
            argv.push_back("0");
            argv.push_back("-");
        }
        Args ops, hset, hdel;
        for (const GameWrite& w : writes) {
            argv.push_back(key(game_prefix_ + w.id));
            argv.push_back(key(tomb_prefix_ + w.id));
            argv.push_back(w.id);
            argv.push_back(std::to_string(w.expect_revision));
            if (w.seat_claim) {
                argv.push_back(key(seat_prefix_ + w.seat_claim->player));
                argv.push_back(std::to_string(w.seat_claim->expires_at));
                argv.push_back(std::to_string(w.seat_claim->now));
            } else {
                argv.push_back("0");
                argv.push_back("0");
                argv.push_back("0");
            }
            ops.clear();
            if (w.after) {
                hset.clear();
                hdel.clear();
                encode_changes(w.before, *w.after, w.revision, w.score, hset, hdel);
                ops.push_back("H");
                ops.push_back(std::to_string(hset.size() / 2));
                ops.insert(ops.end(), hset.begin(), hset.end());
                if (!hdel.empty()) {
                    ops.push_back("D");
                    ops.push_back(std::to_string(hdel.size()));
                    ops.insert(ops.end(), hdel.begin(), hdel.end());
                }
            } else if (w.expect_revision != GameWrite::kExpectNoRecord) {
                ops.push_back("X");
                if (w.tomb != Tomb::None) {
                    ops.push_back("T");
                    ops.emplace_back(to_string(w.tomb));
                    ops.push_back(std::to_string(w.tomb_ttl_ms));
                }
            }
            for (const auto& name : w.index_remove) {
                ops.push_back("R");
                ops.push_back(key(prefix_ + name));
            }
            for (const auto& [name, score] : w.index_add) {
                ops.push_back("Z");
                ops.push_back(key(prefix_ + name));
                ops.push_back(std::to_string(score));
            }
            for (const auto& player : w.seat_release) {
                ops.push_back("S");
                ops.push_back(key(seat_prefix_ + player));
            }
            if (w.reaped_entry) {
                ops.push_back("A");
                ops.push_back(key(reaped_));
                ops.push_back(std::to_string(w.reaped_entry->size()));
                for (const auto& [f, v] : *w.reaped_entry) {
                    ops.push_back(f);
                    ops.push_back(v);
                }
            }
            argv.push_back(std::to_string(ops.size()));
            argv.insert(argv.end(), std::make_move_iterator(ops.begin()), std::make_move_iterator(ops.end()));
        }
        auto conn = pool_->acquire();
        ReplyPtr r = eval(*conn, commit_, keys, argv);
        if (r->type == REDIS_REPLY_ERROR && str(*r).starts_with("CONFIG")) throw ConfigChanged();
        check(*r, "commit_games");
        if (r->type != REDIS_REPLY_ARRAY || r->elements != writes.size()) {
            throw ReplyError("unexpected reply to commit_games");
        }
        std::vector<bool> out(writes.size());
        for (std::size_t i = 0; i < writes.size(); ++i) {
            const redisReply& e = *r->element[i];
            if (e.type == REDIS_REPLY_INTEGER) {
                out[i] = e.integer == 1;
                writes[i].held_back = e.integer == 2;
                continue;
            }
            if (e.type != REDIS_REPLY_ARRAY || e.elements != 3) {
                throw ReplyError("unexpected reply to commit_games");
            }
            const std::string_view what = str(*e.element[0]);
            if (what == "seat") {
                writes[i].seat_held = Reservation{std::string(str(*e.element[1])),
                                                  writes[i].seat_claim ? writes[i].seat_claim->player : "",
                                                  to_int(str(*e.element[2]), "seat")};
            } else {
                writes[i].refused = wrong_type_refusal(str(*e.element[1]), str(*e.element[2]));
            }
        }
        return out;
    }

    std::vector<IndexedGame> scan(std::string_view index, std::int64_t max_score_exclusive,
                                  const std::optional<IndexCursor>& after,
                                  std::size_t limit) override {
        std::optional<std::int64_t> no_clock;
        return run_scan(index, max_score_exclusive, after, limit, {}, no_clock).entries;
    }

    MergedScan scan_merged(std::string_view index, std::string_view lapsed,
                           std::optional<std::int64_t>& now, const std::optional<IndexCursor>& after,
                           std::size_t limit) override {
        return run_scan(index, std::numeric_limits<std::int64_t>::max(), after, limit, lapsed, now);
    }

    // scan_index.lua: `lapsed` empty for a plain scan. The script may move lapsed entries, which
    // is safe to repeat, so a call is retried once on a fresh connection as reads are.
    MergedScan run_scan(std::string_view index, std::int64_t max_score_exclusive,
                        const std::optional<IndexCursor>& after, std::size_t limit,
                        std::string_view lapsed, std::optional<std::int64_t>& now) {
        MergedScan out;
        if (limit == 0 && lapsed.empty()) return out;
        limit = std::min<std::size_t>(limit, 100'000);
        Args keys = {prefix_ + std::string(index)};
        Args args = {std::to_string(max_score_exclusive), std::to_string(limit), game_prefix_,
                     after ? std::to_string(after->score) : std::string(),
                     after ? after->id : std::string()};
        if (!lapsed.empty()) {
            keys.push_back(prefix_ + std::string(lapsed));
            args.push_back(now ? std::to_string(*now) : std::string());
            args.emplace_back(field::kCreatedAt);  // the field open_score() reads
            args.push_back(std::to_string(kLapsedMovesPerScan));
        }
        ReplyPtr r = read_only([&](Connection& c) { return eval(c, scan_, keys, args); });
        check(*r, "scan_index");
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->elements % 3 != 2 ||
            r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER) {
            throw ReplyError("unexpected reply to scan_index");
        }
        if (!lapsed.empty()) now = r->element[0]->integer;
        out.lapsed_left = r->element[1]->integer != 0;
        out.entries.reserve(r->elements / 3);
        for (std::size_t i = 2; i < r->elements; i += 3) {
            IndexedGame g;
            g.id = str(*r->element[i]);
            g.score = to_int(str(*r->element[i + 1]), "score");
            const redisReply& rec = *r->element[i + 2];
            if (rec.type == REDIS_REPLY_ARRAY && rec.elements > 0) g.stored = decode_record(rec);
            if (rec.type == REDIS_REPLY_STRING) {  // the record key holds another type
                g.stored.refused = "key '" + game_prefix_ + g.id + "' holds another type than the game needs there";
            }
            out.entries.push_back(std::move(g));
        }
        return out;
    }

    std::optional<Reservation> seat(const std::string& player) override {
        ReplyPtr r = read_only([&](Connection& c) { return c.command({"GET", seat_prefix_ + player}); });
        check(*r, "GET seat");
        if (r->type != REDIS_REPLY_STRING) return std::nullopt;
        const std::string_view text = str(*r);
        const auto space = text.rfind(' ');
        if (space == std::string_view::npos) throw ReplyError("corrupt seat of player '" + player + "'");
        return Reservation{std::string(text.substr(0, space)), player,
                           to_int(text.substr(space + 1), "seat")};
    }

    std::vector<std::int64_t> sizes(std::span<const std::string> indexes) override {
        std::vector<Args> commands;
        for (const auto& name : indexes) commands.push_back({"ZCARD", prefix_ + name});
        std::vector<std::int64_t> out;
        for (const auto& r : read_pipeline(commands)) {
            check(*r, "ZCARD");
            if (r->type != REDIS_REPLY_INTEGER) throw ReplyError("unexpected reply to ZCARD");
            out.push_back(r->integer);
        }
        return out;
    }

    bool refreshes_blind() const override { return true; }

    // One script call for the batch (refresh_games.lua): no record is read into C++.
    std::vector<BlindSeen> refresh_blind(std::span<const BlindRefresh> refreshes,
                                         std::optional<std::int64_t> now) override {
        if (refreshes.empty()) return {};
        constexpr GameState kLive[] = {GameState::Created, GameState::CreatorJoined,
                                       GameState::AllPlayersJoined, GameState::InProgress};
        Args keys;
        Args argv = {now ? std::to_string(*now) : std::string(), game_prefix_, tomb_prefix_,
                     std::string(field::kServer), std::string(field::kState), std::string(field::kRev),
                     std::string(field::kLastSeq), std::string(field::kUpdatedAt),
                     std::string(field::kScore), std::to_string(std::size(kLive))};
        argv.reserve(argv.size() + 2 * std::size(kLive) + 3 * refreshes.size());
        for (GameState s : kLive) {
            const std::string set = prefix_ + std::string(to_string(*set_of(s)));
            auto found = std::find(keys.begin(), keys.end(), set);
            if (found == keys.end()) found = keys.insert(keys.end(), set);
            argv.emplace_back(to_string(s));
            argv.push_back(std::to_string(found - keys.begin() + 1));
        }
        for (const BlindRefresh& r : refreshes) {
            argv.emplace_back(r.id);
            argv.emplace_back(r.server_id);
            argv.push_back(r.seq ? std::to_string(*r.seq) : std::string());
        }
        auto conn = pool_->acquire();
        ReplyPtr r = eval(*conn, refresh_, keys, argv);
        check(*r, "refresh_games");
        const auto bad = [] { return ReplyError("unexpected reply to refresh_games"); };
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->elements % 2 != 0 ||
            r->element[1]->type != REDIS_REPLY_STRING) {
            throw bad();
        }
        const std::string_view codes = str(*r->element[1]);
        if (codes.size() != refreshes.size()) throw bad();
        std::vector<BlindSeen> out(refreshes.size());
        for (std::size_t i = 0; i < codes.size(); ++i) {
            const char c = codes[i];
            BlindSeen& seen = out[i];
            if (c >= '1' && c < '1' + static_cast<char>(std::size(kLive))) {
                seen.kind = BlindSeen::Kind::Applied;
                seen.state = kLive[c - '1'];
            } else if (c >= 'A' && c < 'A' + static_cast<char>(std::size(kLive))) {
                seen.kind = BlindSeen::Kind::OtherServer;
                seen.state = kLive[c - 'A'];
            } else if (c == 'n' || c == 't') {
                seen.kind = BlindSeen::Kind::NoRecord;
            } else if (c == 'x') {
                seen.kind = BlindSeen::Kind::Refused;
            } else {
                throw bad();
            }
        }
        for (std::size_t e = 2; e + 1 < r->elements; e += 2) {  // (refresh number, text) pairs
            const redisReply& at = *r->element[e];
            if (at.type != REDIS_REPLY_INTEGER || at.integer < 1 ||
                static_cast<std::size_t>(at.integer) > out.size()) {
                throw bad();
            }
            BlindSeen& seen = out[static_cast<std::size_t>(at.integer - 1)];
            const std::string_view text = str(*r->element[e + 1]);
            if (seen.kind == BlindSeen::Kind::NoRecord) {
                seen.tomb = parse_tomb(text).value_or(Tomb::Ended);
            } else {
                const auto space = text.find(' ');  // '<key> <what it holds>'; keys hold no space
                seen.refused = wrong_type_refusal(
                    text.substr(0, space), space == std::string_view::npos ? "" : text.substr(space + 1));
            }
        }
        return out;
    }

    std::shared_ptr<StreamTransport> streams() override { return streams_; }
    bool writes_differences() const override { return true; }

    // <ns>:{0}:config field filter_keys: the sorted keys, comma-joined (missing or "": none).
    NamespaceConfig namespace_config(const std::optional<std::vector<std::string>>& requested,
                                     bool* declared) override {
        const std::string config = prefix_ + "config";
        if (declared) *declared = false;
        std::string text;
        if (requested && !requested->empty()) {
            auto conn = pool_->acquire();
            ReplyPtr r = eval(*conn, declare_, {config}, {join_players(*requested)});
            check(*r, "declare_filter_keys");
            if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
                throw ReplyError("unexpected reply to declare_filter_keys");
            }
            text = str(*r->element[0]);
            if (declared) *declared = r->element[1]->integer == 1;
        } else {
            ReplyPtr r = read_only([&](Connection& c) { return c.command({"HGET", config, "filter_keys"}); });
            check(*r, "HGET config");
            if (r->type == REDIS_REPLY_STRING) text = str(*r);
        }
        NamespaceConfig stored = parse_filter_keys_config(text, config);
        if (requested && stored.stored && *requested != stored.filter_keys) {
            throw filter_keys_mismatch(*requested, stored.filter_keys);
        }
        return stored;
    }
    std::optional<std::string> eviction_risk() const override { return eviction_risk_; }

    // SCAN MATCH <ns>:*, UNLINK each batch found. A namespace holds only [A-Za-z0-9_.-]
    // (checked at connect): no glob character, and no ':', so no other namespace's keys match.
    std::int64_t remove_namespace(const std::string& ns) override {
        const std::string pattern = ns + ":*";
        std::int64_t removed = 0;
        std::string cursor = "0";
        auto conn = pool_->acquire();
        do {
            ReplyPtr r = conn->command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
            check(*r, "SCAN");
            cursor = std::string(str(*r->element[0]));
            const redisReply& keys = *r->element[1];
            if (keys.elements == 0) continue;
            Args unlink{"UNLINK"};
            for (std::size_t i = 0; i < keys.elements; ++i) unlink.emplace_back(str(*keys.element[i]));
            ReplyPtr u = conn->command(unlink);
            check(*u, "UNLINK");
            removed += u->integer;
        } while (cursor != "0");
        return removed;
    }

private:
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

    void load(Connection& conn, Script& s) {
        ReplyPtr r = conn.command({"SCRIPT", "LOAD", std::string(s.text)});
        check(*r, "SCRIPT LOAD " + std::string(s.name));
        std::lock_guard lock(sha_mutex_);
        s.sha = str(*r);
    }

    // EVALSHA; on NOSCRIPT (restart, SCRIPT FLUSH) the script never ran, so it is sent once
    // more as EVAL with its text, which cannot miss the cache (and caches it again).
    ReplyPtr eval(Connection& conn, Script& s, const Args& keys, const Args& args) {
        bool loaded;
        {
            std::lock_guard lock(sha_mutex_);
            loaded = !s.sha.empty();
        }
        if (!loaded) load(conn, s);
        Args command;
        {
            std::lock_guard lock(sha_mutex_);
            command = evalsha_args(s, keys, args);
        }
        ReplyPtr r = conn.command(command);
        if (redis::error_kind(*r) != redis::ErrorKind::NoScript) return r;
        logger()->info("redis: script {} not loaded on {}, sending its text", s.name,
                       pool_->endpoint().display);
        command[0] = "EVAL";
        command[1] = std::string(s.text);
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

    std::vector<ReplyPtr> read_pipeline(const std::vector<Args>& commands) {
        try {
            auto conn = pool_->acquire();
            return conn->pipeline(commands);
        } catch (const OutcomeUnknown&) {  // reads change nothing: send again on a fresh one
            auto conn = pool_->acquire();
            return conn->pipeline(commands);
        }
    }

    std::shared_ptr<ConnectionPool> pool_;
    std::string prefix_, game_prefix_, tomb_prefix_, seat_prefix_, reaped_;
    std::mutex sha_mutex_;  // guards Script::sha (rewritten with the same value on reload)
    Script scan_, commit_, declare_, refresh_;
    std::shared_ptr<redis::RedisStreams> streams_;
    std::optional<std::string> eviction_risk_;  // checked once, at connect
};

}  // namespace

std::shared_ptr<Backend> make_redis_backend(const Url& url, const ConnectOptions& options) {
    return std::make_shared<RedisBackend>(redis::Endpoint::from(url, options), options);
}

}  // namespace game_data
