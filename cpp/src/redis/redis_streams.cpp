#include "redis/redis_streams.hpp"

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "game_data/errors.hpp"
#include "game_data/stream_lua_scripts.hpp"

namespace game_data::redis {
namespace {

void check(const redisReply& r, const std::string& what) { throw_if_error(r, what); }

std::string text(const redisReply& r) { return std::string(reply_text(r)); }

std::int64_t integer(const redisReply& r, const std::string& what) {
    check(r, what);
    if (r.type != REDIS_REPLY_INTEGER) throw ReplyError("unexpected reply to " + what);
    return r.integer;
}

Fields decode_fields(const redisReply& r) {
    Fields out;
    out.reserve(r.elements / 2);
    for (size_t i = 0; i + 1 < r.elements; i += 2) {
        out.emplace_back(text(*r.element[i]), text(*r.element[i + 1]));
    }
    return out;
}

// [[id, [field, value, ...] or nil], ...]; a nil body is an entry trimmed while pending.
// Redis 6.2's XAUTOCLAIM sends a trimmed entry as a bare nil (no id): counted in *bare_nils
// when the caller passes it, an error otherwise.
std::vector<StreamEntry> decode_entries(const redisReply& r, const std::string& what,
                                        std::size_t* bare_nils = nullptr) {
    check(r, what);
    std::vector<StreamEntry> out;
    if (r.type == REDIS_REPLY_NIL) return out;
    if (r.type != REDIS_REPLY_ARRAY) throw ReplyError("unexpected reply to " + what);
    out.reserve(r.elements);
    for (size_t i = 0; i < r.elements; ++i) {
        const redisReply& e = *r.element[i];
        if (e.type == REDIS_REPLY_NIL && bare_nils) {
            ++*bare_nils;
            continue;
        }
        if (e.type != REDIS_REPLY_ARRAY || e.elements != 2) throw ReplyError("unexpected entry in " + what);
        StreamEntry entry;
        entry.id = text(*e.element[0]);
        if (e.element[1]->type == REDIS_REPLY_ARRAY) {
            entry.fields = decode_fields(*e.element[1]);
        } else {
            entry.deleted = true;
        }
        out.push_back(std::move(entry));
    }
    return out;
}

// XREADGROUP's reply for one stream: [[stream, entries]] or nil.
std::vector<StreamEntry> decode_read(const redisReply& r) {
    check(r, "XREADGROUP");
    if (r.type == REDIS_REPLY_NIL || (r.type == REDIS_REPLY_ARRAY && r.elements == 0)) return {};
    if (r.type != REDIS_REPLY_ARRAY || r.element[0]->type != REDIS_REPLY_ARRAY ||
        r.element[0]->elements != 2) {
        throw ReplyError("unexpected reply to XREADGROUP");
    }
    return decode_entries(*r.element[0]->element[1], "XREADGROUP");
}

// Fills deliveries from an XPENDING extended reply: [[id, consumer, idle, deliveries], ...].
void apply_deliveries(const redisReply& r, std::vector<StreamEntry>& entries) {
    check(r, "XPENDING");
    if (r.type != REDIS_REPLY_ARRAY) return;
    std::unordered_map<std::string, std::int64_t> counts;
    for (size_t i = 0; i < r.elements; ++i) {
        const redisReply& p = *r.element[i];
        if (p.type == REDIS_REPLY_ARRAY && p.elements == 4 && p.element[3]->type == REDIS_REPLY_INTEGER) {
            counts[text(*p.element[0])] = p.element[3]->integer;
        }
    }
    for (auto& e : entries) {
        if (auto it = counts.find(e.id); it != counts.end()) e.deliveries = it->second;
    }
}

Args xadd_args(const std::string& stream, const Fields& fields, std::int64_t maxlen) {
    if (fields.empty()) throw InvalidArgument("a stream entry needs at least one field");
    Args a{"XADD", stream};
    if (maxlen > 0) {
        a.insert(a.end(), {"MAXLEN", "~", std::to_string(maxlen)});
    }
    a.push_back("*");
    for (const auto& [k, v] : fields) {
        a.push_back(k);
        a.push_back(v);
    }
    return a;
}

std::string id_of(const redisReply& r) {
    check(r, "XADD");
    if (r.type != REDIS_REPLY_STRING) throw ReplyError("unexpected reply to XADD");
    return text(r);
}

[[noreturn]] void no_group(const std::string& stream, const std::string& group) {
    throw GroupMissing("no consumer group '" + group + "' on stream '" + stream + "'");
}

// The value of `key` in a flat [key, value, ...] reply, or null.
const redisReply* field(const redisReply& r, std::string_view key) {
    if (r.type != REDIS_REPLY_ARRAY) return nullptr;
    for (size_t k = 0; k + 1 < r.elements; k += 2) {
        if (reply_text(*r.element[k]) == key) return r.element[k + 1];
    }
    return nullptr;
}

// The entry of `group` in an XINFO GROUPS reply, or null.
const redisReply* find_group(const redisReply& groups, const std::string& group) {
    if (groups.type != REDIS_REPLY_ARRAY) throw ReplyError("unexpected reply to XINFO GROUPS");
    for (size_t i = 0; i < groups.elements; ++i) {
        const redisReply* name = field(*groups.element[i], "name");
        if (name && reply_text(*name) == group) return groups.element[i];
    }
    return nullptr;
}

std::int64_t integer_or(const redisReply* r, std::int64_t fallback) {
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : fallback;
}

// How long to wait for a read that may block for block_ms: the command timeout on top, so
// the server may stay silent for all of block_ms. Saturates instead of overflowing.
std::chrono::milliseconds blocking_read_timeout(std::chrono::milliseconds command_timeout,
                                                std::int64_t block_ms) {
    const std::int64_t room = std::numeric_limits<std::int64_t>::max() - command_timeout.count();
    return command_timeout + std::chrono::milliseconds(std::clamp<std::int64_t>(block_ms, 0, room));
}

// Runs one of the stream scripts with EVAL, stream_helpers.lua in front of it: they run about
// once a second, so caching them (SCRIPT LOAD, EVALSHA, NOSCRIPT) would buy nothing.
// Two commands in one MULTI/EXEC round trip, every reply checked (errors named `what`). Returns
// the four replies (so they stay alive); EXEC's, the last, holds the two commands' replies.
std::vector<ReplyPtr> transaction(Connection& conn, Args first, Args second, const char* what) {
    std::vector<ReplyPtr> replies =
        conn.pipeline({{"MULTI"}, std::move(first), std::move(second), {"EXEC"}});
    for (const auto& r : replies) check(*r, what);
    const redisReply& exec = *replies[3];
    if (exec.type != REDIS_REPLY_ARRAY || exec.elements != 2) {
        throw ReplyError(std::string("unexpected reply to ") + what + " transaction");
    }
    return replies;
}

Args eval_args(std::string_view script, const Args& keys, const Args& args) {
    std::string text;
    text.reserve(stream_lua::stream_helpers.size() + 1 + script.size());
    text.append(stream_lua::stream_helpers).append("\n").append(script);
    Args command{"EVAL", std::move(text), std::to_string(keys.size())};
    command.insert(command.end(), keys.begin(), keys.end());
    command.insert(command.end(), args.begin(), args.end());
    return command;
}

ReplyPtr eval(Connection& conn, std::string_view script, const Args& keys, const Args& args) {
    return conn.command(eval_args(script, keys, args));
}

}  // namespace

std::string RedisStreams::add(const std::string& stream, const Fields& fields, std::int64_t maxlen) {
    Args args = xadd_args(stream, fields, maxlen);
    auto conn = pool_->acquire();
    return id_of(*conn->command(args));
}

std::vector<std::string> RedisStreams::add_many(const std::string& stream,
                                                const std::vector<Fields>& entries,
                                                std::int64_t maxlen) {
    if (entries.empty()) return {};
    std::vector<Args> commands;
    commands.reserve(entries.size());
    for (const auto& f : entries) commands.push_back(xadd_args(stream, f, maxlen));
    auto conn = pool_->acquire();
    std::vector<ReplyPtr> replies = conn->pipeline(commands);
    std::vector<std::string> ids;
    ids.reserve(replies.size());
    for (const auto& r : replies) ids.push_back(id_of(*r));
    return ids;
}

RedisStreams::RedisStreams(std::shared_ptr<ConnectionPool> pool) : pool_(std::move(pool)) {
    Endpoint blocking = pool_->endpoint();
    blocking.pool_size = kBlockingReaders;
    blocking_pool_ = std::make_shared<ConnectionPool>(std::move(blocking));
}

void RedisStreams::ensure_group(const std::string& stream, const std::string& group) {
    auto conn = pool_->acquire();
    // Look before creating: an existing group needs no write, so a consumer starts (and
    // restarts) even while Redis refuses writes (OOM).
    ReplyPtr groups = conn->command({"XINFO", "GROUPS", stream});
    if (error_kind(*groups) != ErrorKind::NoSuchKey) {
        check(*groups, "XINFO GROUPS");
        if (find_group(*groups, group)) return;
    }
    // At the start of the stream, with its read counter at 0 (Redis >= 7), so entries trimmed
    // before the group's first read are counted as lost rather than silently skipped.
    ReplyPtr r = conn->command(
        {"XGROUP", "CREATE", stream, group, "0", "MKSTREAM", "ENTRIESREAD", "0"});
    if (error_kind(*r) == ErrorKind::Other) {  // Redis < 7: no ENTRIESREAD
        r = conn->command({"XGROUP", "CREATE", stream, group, "0", "MKSTREAM"});
    }
    if (error_kind(*r) == ErrorKind::BusyGroup) return;  // created meanwhile: keep its position
    check(*r, "XGROUP CREATE");
}

std::vector<StreamEntry> RedisStreams::read_group(const std::string& stream, const std::string& group,
                                                  const std::string& consumer,
                                                  const std::string& from_id, std::int64_t count,
                                                  std::int64_t block_ms) {
    if (count <= 0) count = 1;
    check_block_ms(block_ms);
    const std::string n = std::to_string(count);
    auto conn = (from_id == ">" && block_ms > 0) ? blocking_pool_->acquire() : pool_->acquire();
    if (from_id != ">") {
        // Own pending entries: read and their delivery counts in one atomic round trip.
        const std::vector<ReplyPtr> replies = transaction(
            *conn, {"XREADGROUP", "GROUP", group, consumer, "COUNT", n, "STREAMS", stream, from_id},
            {"XPENDING", stream, group, "(" + from_id, "+", n, consumer}, "XREADGROUP");
        const redisReply& exec = *replies[3];
        std::vector<StreamEntry> entries = decode_read(*exec.element[0]);
        apply_deliveries(*exec.element[1], entries);
        return entries;
    }
    {
        // New entries, with the entries trimmed before the group read them counted first, in
        // one transaction: Redis 8 moves the group's read counter past them at this read, after
        // which nothing tells they were lost. (Not one script: passing a batch of entries
        // through Lua cost ~2.7 us of Redis CPU per entry; MULTI passes XREADGROUP's reply as is.)
        const std::vector<ReplyPtr> replies = transaction(
            *conn, eval_args(stream_lua::take_lost_entries, {stream}, {group}),
            {"XREADGROUP", "GROUP", group, consumer, "COUNT", n, "STREAMS", stream, ">"},
            "XREADGROUP");
        const redisReply& exec = *replies[3];
        const redisReply& found = *exec.element[0];
        check(found, "XREADGROUP");  // NOGROUP: the stream or the group is missing
        if (found.type == REDIS_REPLY_ARRAY && found.elements == 4) {
            if (const std::int64_t lost = integer_or(found.element[0], 0); lost > 0) {
                const std::lock_guard lock(lost_mu_);
                lost_found_[{stream, group}] += lost;
            }
        }
        std::vector<StreamEntry> entries = decode_read(*exec.element[1]);
        // Nothing new: wait for it below. An entry added meanwhile is read by that XREADGROUP;
        // a trim can drop only entries older than it, which the group has read by then.
        if (!entries.empty() || block_ms <= 0) return entries;  // fresh entries: deliveries = 1
    }
    Args args{"XREADGROUP", "GROUP", group, consumer, "COUNT", n};
    if (block_ms > 0) {
        args.insert(args.end(), {"BLOCK", std::to_string(block_ms)});
        // The server may legitimately stay silent for block_ms: wait that much longer.
        conn->set_timeout(blocking_read_timeout(pool_->endpoint().command_timeout, block_ms));
    }
    args.insert(args.end(), {"STREAMS", stream, ">"});
    ReplyPtr r = conn->command(args);
    if (block_ms > 0) conn->restore_timeout();
    return decode_read(*r);  // fresh entries: deliveries = 1
}

std::vector<StreamEntry> RedisStreams::autoclaim(const std::string& stream, const std::string& group,
                                                 const std::string& consumer,
                                                 std::int64_t min_idle_ms, std::string& cursor,
                                                 std::int64_t count) {
    if (count <= 0) count = 1;
    auto conn = pool_->acquire();
    ReplyPtr r = conn->command({"XAUTOCLAIM", stream, group, consumer,
                                std::to_string(std::max<std::int64_t>(min_idle_ms, 0)), cursor,
                                "COUNT", std::to_string(count)});
    check(*r, "XAUTOCLAIM");
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) throw ReplyError("unexpected reply to XAUTOCLAIM");
    std::size_t bare_nils = 0;
    std::vector<StreamEntry> entries = decode_entries(*r->element[1], "XAUTOCLAIM", &bare_nils);
    // Redis 7: ids whose entries were trimmed come back separately (and left the PEL).
    if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->element[2]->elements; ++i) {
            entries.push_back(StreamEntry{text(*r->element[2]->element[i]), {}, true, 1});
        }
    }
    const std::string next = text(*r->element[0]);
    if (bare_nils > 0) {
        // Redis 6.2: trimmed entries were claimed to us but came back without their ids.
        // Find them among our pending ids in the claimed window: those XRANGE cannot find.
        std::unordered_set<std::string> seen;
        for (const auto& e : entries) seen.insert(e.id);
        const std::string end = next == "0-0" ? "+" : "(" + next;
        ReplyPtr p = conn->command({"XPENDING", stream, group, cursor, end,
                                    std::to_string(count * 4 + 64), consumer});
        check(*p, "XPENDING");
        for (size_t i = 0; p->type == REDIS_REPLY_ARRAY && i < p->elements; ++i) {
            const redisReply& row = *p->element[i];
            if (row.type != REDIS_REPLY_ARRAY || row.elements < 1) continue;
            std::string id = text(*row.element[0]);
            if (seen.contains(id)) continue;
            ReplyPtr x = conn->command({"XRANGE", stream, id, id});
            check(*x, "XRANGE");
            if (x->type == REDIS_REPLY_ARRAY && x->elements == 0) {
                entries.push_back(StreamEntry{std::move(id), {}, true, 1});
            }
        }
    }
    std::string first, last;
    std::int64_t claimed = 0;
    for (const auto& e : entries) {
        if (e.deleted) continue;
        if (first.empty()) first = e.id;
        last = e.id;
        ++claimed;
    }
    if (claimed > 0) {
        // Room for our other pending ids in the same range, so every claimed id gets its count.
        ReplyPtr p = conn->command({"XPENDING", stream, group, first, last,
                                    std::to_string(claimed * 4 + 64), consumer});
        apply_deliveries(*p, entries);
    }
    cursor = next;
    return entries;
}

std::int64_t RedisStreams::ack(const std::string& stream, const std::string& group,
                               const std::vector<std::string>& ids) {
    if (ids.empty()) return 0;
    Args args{"XACK", stream, group};
    args.insert(args.end(), ids.begin(), ids.end());
    auto conn = pool_->acquire();
    return integer(*conn->command(args), "XACK");
}

std::int64_t RedisStreams::remove(const std::string& stream, const std::vector<std::string>& ids) {
    if (ids.empty()) return 0;
    Args args{"XDEL", stream};
    args.insert(args.end(), ids.begin(), ids.end());
    auto conn = pool_->acquire();
    return integer(*conn->command(args), "XDEL");
}

std::int64_t RedisStreams::length(const std::string& stream) {
    auto conn = pool_->acquire();
    return integer(*conn->command({"XLEN", stream}), "XLEN");
}

StreamTransport::GroupInfo RedisStreams::group_info(const std::string& stream, const std::string& group) {
    auto conn = pool_->acquire();
    ReplyPtr r = conn->command({"XINFO", "GROUPS", stream});
    if (error_kind(*r) == ErrorKind::NoSuchKey) no_group(stream, group);
    check(*r, "XINFO GROUPS");
    const redisReply* g = find_group(*r, group);
    if (!g) no_group(stream, group);
    // A nil lag: Redis cannot tell (e.g. after deletions).
    return GroupInfo{integer_or(field(*g, "pending"), 0), integer_or(field(*g, "lag"), -1)};
}

StreamTransport::LostEntries RedisStreams::take_lost(const std::string& stream,
                                                     const std::string& group) {
    auto conn = pool_->acquire();
    ReplyPtr r = eval(*conn, stream_lua::take_lost_entries, {stream}, {group});
    check(*r, "take_lost_entries");
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        throw ReplyError("unexpected reply to take_lost_entries");
    }
    LostEntries out;
    out.lost = integer_or(r->element[0], 0);
    {
        // What reads of new entries found since the last call, reported here once.
        const std::lock_guard lock(lost_mu_);
        if (auto it = lost_found_.find({stream, group}); it != lost_found_.end()) {
            out.lost += it->second;
            lost_found_.erase(it);
        }
    }
    out.exact = integer_or(r->element[1], 0) == 1;
    out.info = GroupInfo{integer_or(r->element[2], 0), integer_or(r->element[3], -1)};
    return out;
}

std::int64_t RedisStreams::trim_acknowledged(const std::string& stream) {
    auto conn = pool_->acquire();
    ReplyPtr r = eval(*conn, stream_lua::trim_acknowledged, {stream}, {});
    return integer(*r, "trim_acknowledged");
}

std::int64_t RedisStreams::trim_unwatched(const std::string& stream, std::int64_t max_len) {
    auto conn = pool_->acquire();
    ReplyPtr r = eval(*conn, stream_lua::trim_unwatched, {stream},
                      {std::to_string(std::max<std::int64_t>(max_len, 0))});
    return integer(*r, "trim_unwatched");
}

std::vector<std::string> RedisStreams::remove_idle_consumers(const std::string& stream,
                                                             const std::string& group,
                                                             std::int64_t min_idle_ms,
                                                             const std::string& keep) {
    auto conn = pool_->acquire();
    ReplyPtr r = eval(*conn, stream_lua::remove_idle_consumers, {stream},
                      {group, std::to_string(std::max<std::int64_t>(min_idle_ms, 0)), keep});
    check(*r, "remove_idle_consumers");
    if (r->type != REDIS_REPLY_ARRAY) throw ReplyError("unexpected reply to remove_idle_consumers");
    std::vector<std::string> names;
    names.reserve(r->elements);
    for (size_t i = 0; i < r->elements; ++i) names.push_back(text(*r->element[i]));
    return names;
}

std::vector<StreamEntry> RedisStreams::range(const std::string& stream, std::int64_t count) {
    Args args{"XRANGE", stream, "-", "+"};
    if (count > 0) args.insert(args.end(), {"COUNT", std::to_string(count)});
    auto conn = pool_->acquire();
    std::vector<StreamEntry> out = decode_entries(*conn->command(args), "XRANGE");
    for (auto& e : out) e.deliveries = 0;
    return out;
}

}  // namespace game_data::redis
