#include "memory/memory_stream.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>

#include "game_data/errors.hpp"

namespace game_data::memory {

std::string StreamId::str() const { return std::to_string(ms) + "-" + std::to_string(seq); }

StreamId StreamId::parse(const std::string& text) {
    StreamId id;
    auto dash = text.find('-');
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    const char* mid = dash == std::string::npos ? end : text.data() + dash;
    auto r1 = std::from_chars(begin, mid, id.ms);
    bool ok = r1.ec == std::errc{} && r1.ptr == mid;
    if (ok && dash != std::string::npos) {
        auto r2 = std::from_chars(mid + 1, end, id.seq);
        ok = r2.ec == std::errc{} && r2.ptr == end;
    }
    if (!ok) throw InvalidArgument("invalid stream id '" + text + "'");
    return id;
}

std::string MemoryStreams::add(const std::string& stream, const Fields& fields, std::int64_t maxlen) {
    std::string id;
    {
        std::lock_guard lock(mutex_);
        Stream& s = streams_[stream];
        auto ms = static_cast<std::uint64_t>(now_ms());
        StreamId next = ms > s.last_id.ms ? StreamId{ms, 0} : StreamId{s.last_id.ms, s.last_id.seq + 1};
        s.last_id = next;
        s.entries.emplace(next, fields);
        if (maxlen > 0 && s.entries.size() > static_cast<std::size_t>(maxlen)) {
            remove_front(s, std::next(s.entries.begin(),
                                      static_cast<std::ptrdiff_t>(s.entries.size()) - maxlen));
        }
        id = next.str();
    }
    added_.notify_all();
    return id;
}

void MemoryStreams::remove_front(Stream& s, std::map<StreamId, Fields>::iterator end) {
    for (auto it = s.entries.begin(); it != end; it = s.entries.erase(it)) {
        ++s.removed;
        for (auto& [name, g] : s.groups) {
            if (it->first > g.last_delivered) ++g.lost;
        }
    }
}

void MemoryStreams::ensure_group(const std::string& stream, const std::string& group) {
    std::lock_guard lock(mutex_);
    Stream& s = streams_[stream];
    auto [g, created] = s.groups.try_emplace(group);
    // As on Redis (created with ENTRIESREAD 0): a group starts at the beginning of the stream,
    // so entries trimmed before it existed were never read by it.
    if (created) g->second.lost = s.removed;
}

MemoryStreams::Group& MemoryStreams::group_of(const std::string& stream, const std::string& group) {
    auto s = streams_.find(stream);
    if (s != streams_.end()) {
        auto g = s->second.groups.find(group);
        if (g != s->second.groups.end()) return g->second;
    }
    throw GroupMissing("no consumer group '" + group + "' on stream '" + stream + "'");
}

std::vector<StreamEntry> MemoryStreams::read_group(const std::string& stream, const std::string& group,
                                                   const std::string& consumer,
                                                   const std::string& from_id, std::int64_t count,
                                                   std::int64_t block_ms) {
    if (count <= 0) count = 1;
    check_block_ms(block_ms);
    std::unique_lock lock(mutex_);
    Group& g = group_of(stream, group);
    Stream& s = streams_[stream];
    std::vector<StreamEntry> out;
    g.consumers[consumer] = now_ms();

    if (from_id != ">") {
        StreamId after = StreamId::parse(from_id);
        const std::int64_t now = now_ms();
        for (auto it = g.pel.upper_bound(after); it != g.pel.end() && std::ssize(out) < count; ++it) {
            if (it->second.consumer != consumer) continue;
            it->second.deliveries += 1;
            it->second.delivered_at = now;
            StreamEntry e{it->first.str(), {}, true, it->second.deliveries};
            if (auto found = s.entries.find(it->first); found != s.entries.end()) {
                e.fields = found->second;
                e.deleted = false;
            }
            out.push_back(std::move(e));
        }
        return out;
    }

    auto has_new = [&] {
        return s.entries.upper_bound(g.last_delivered) != s.entries.end();
    };
    if (!has_new() && block_ms > 0) {
        added_.wait_for(lock, std::chrono::milliseconds(block_ms), has_new);
    }
    // `g` and `s` stayed valid across the wait: streams and groups are never removed, and
    // std::map never moves its nodes.
    const std::int64_t now = now_ms();
    for (auto it = s.entries.upper_bound(g.last_delivered);
         it != s.entries.end() && std::ssize(out) < count; ++it) {
        g.last_delivered = it->first;
        g.pel[it->first] = Pending{consumer, now, 1};
        out.push_back(StreamEntry{it->first.str(), it->second, false, 1});
    }
    return out;
}

std::vector<StreamEntry> MemoryStreams::autoclaim(const std::string& stream, const std::string& group,
                                                  const std::string& consumer,
                                                  std::int64_t min_idle_ms, std::string& cursor,
                                                  std::int64_t count) {
    if (count <= 0) count = 1;
    std::lock_guard lock(mutex_);
    Group& g = group_of(stream, group);
    Stream& s = streams_[stream];
    const std::int64_t now = now_ms();
    g.consumers[consumer] = now;
    std::vector<StreamEntry> out;
    auto it = g.pel.lower_bound(StreamId::parse(cursor));
    while (it != g.pel.end() && std::ssize(out) < count) {
        Pending& p = it->second;
        if (now - p.delivered_at < min_idle_ms) {
            ++it;
            continue;
        }
        auto found = s.entries.find(it->first);
        if (found == s.entries.end()) {
            // As Redis 7: a claimed id whose entry was trimmed leaves the PEL.
            out.push_back(StreamEntry{it->first.str(), {}, true, p.deliveries + 1});
            it = g.pel.erase(it);
            continue;
        }
        p.consumer = consumer;
        p.delivered_at = now;
        p.deliveries += 1;
        out.push_back(StreamEntry{it->first.str(), found->second, false, p.deliveries});
        ++it;
    }
    cursor = it == g.pel.end() ? "0-0" : it->first.str();
    return out;
}

std::int64_t MemoryStreams::ack(const std::string& stream, const std::string& group,
                                const std::vector<std::string>& ids) {
    std::lock_guard lock(mutex_);
    auto s = streams_.find(stream);
    if (s == streams_.end()) return 0;
    auto g = s->second.groups.find(group);
    if (g == s->second.groups.end()) return 0;
    std::int64_t removed = 0;
    for (const auto& id : ids) removed += static_cast<std::int64_t>(g->second.pel.erase(StreamId::parse(id)));
    return removed;
}

std::int64_t MemoryStreams::remove(const std::string& stream, const std::vector<std::string>& ids) {
    std::lock_guard lock(mutex_);
    auto s = streams_.find(stream);
    if (s == streams_.end()) return 0;
    std::int64_t removed = 0;
    for (const auto& id : ids) removed += static_cast<std::int64_t>(s->second.entries.erase(StreamId::parse(id)));
    return removed;
}

std::int64_t MemoryStreams::length(const std::string& stream) {
    std::lock_guard lock(mutex_);
    auto s = streams_.find(stream);
    return s == streams_.end() ? 0 : static_cast<std::int64_t>(s->second.entries.size());
}

StreamTransport::GroupInfo MemoryStreams::info_of(const Stream& s, const Group& g) {
    GroupInfo info;
    info.pending = static_cast<std::int64_t>(g.pel.size());
    info.lag = static_cast<std::int64_t>(
        std::distance(s.entries.upper_bound(g.last_delivered), s.entries.end()));
    return info;
}

StreamTransport::GroupInfo MemoryStreams::group_info(const std::string& stream, const std::string& group) {
    std::lock_guard lock(mutex_);
    Group& g = group_of(stream, group);
    return info_of(streams_[stream], g);
}

StreamTransport::LostEntries MemoryStreams::take_lost(const std::string& stream,
                                                      const std::string& group) {
    std::lock_guard lock(mutex_);
    Group& g = group_of(stream, group);
    LostEntries out{std::exchange(g.lost, 0), true, info_of(streams_[stream], g)};
    return out;
}

std::int64_t MemoryStreams::trim_unwatched(const std::string& stream, std::int64_t max_len) {
    std::lock_guard lock(mutex_);
    auto found = streams_.find(stream);
    if (found == streams_.end() || !found->second.groups.empty()) return 0;
    Stream& s = found->second;
    const auto keep = static_cast<std::size_t>(std::max<std::int64_t>(max_len, 0));
    if (s.entries.size() <= keep) return 0;
    const auto removed = s.entries.size() - keep;
    remove_front(s, std::next(s.entries.begin(), static_cast<std::ptrdiff_t>(removed)));
    return static_cast<std::int64_t>(removed);
}

std::int64_t MemoryStreams::trim_acknowledged(const std::string& stream) {
    std::lock_guard lock(mutex_);
    auto found = streams_.find(stream);
    if (found == streams_.end() || found->second.groups.empty()) return 0;
    Stream& s = found->second;
    // Every group still needs its oldest pending entry, or else whatever follows the last
    // entry it read; everything before the oldest of those is acknowledged by all groups.
    StreamId keep_from{UINT64_MAX, UINT64_MAX};
    for (const auto& [name, g] : s.groups) {
        StreamId needed = g.last_delivered.seq == UINT64_MAX
                              ? StreamId{g.last_delivered.ms + 1, 0}
                              : StreamId{g.last_delivered.ms, g.last_delivered.seq + 1};
        if (!g.pel.empty()) needed = std::min(needed, g.pel.begin()->first);
        keep_from = std::min(keep_from, needed);
    }
    const auto end = s.entries.lower_bound(keep_from);
    const auto removed = std::distance(s.entries.begin(), end);
    remove_front(s, end);
    return static_cast<std::int64_t>(removed);
}

std::vector<std::string> MemoryStreams::remove_idle_consumers(const std::string& stream,
                                                              const std::string& group,
                                                              std::int64_t min_idle_ms,
                                                              const std::string& keep) {
    std::lock_guard lock(mutex_);
    Group& g = group_of(stream, group);
    const std::int64_t now = now_ms();
    std::vector<std::string> removed;
    for (auto it = g.consumers.begin(); it != g.consumers.end();) {
        const bool has_pending = std::any_of(g.pel.begin(), g.pel.end(), [&](const auto& p) {
            return p.second.consumer == it->first;
        });
        if (it->first != keep && !has_pending && now - it->second >= min_idle_ms) {
            removed.push_back(it->first);
            it = g.consumers.erase(it);
        } else {
            ++it;
        }
    }
    return removed;
}

std::vector<StreamEntry> MemoryStreams::range(const std::string& stream, std::int64_t count) {
    std::lock_guard lock(mutex_);
    std::vector<StreamEntry> out;
    auto s = streams_.find(stream);
    if (s == streams_.end()) return out;
    for (const auto& [id, fields] : s->second.entries) {
        if (count > 0 && std::ssize(out) >= count) break;
        out.push_back(StreamEntry{id.str(), fields, false, 0});
    }
    return out;
}

}  // namespace game_data::memory
