#include "game_data/reaped_feed.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "game_data/consumer.hpp"
#include "game_data/errors.hpp"
#include "game_data/json.hpp"
#include "game_data/logging.hpp"
#include "game_data/store.hpp"
#include "game_data/validation.hpp"

namespace game_data {
namespace {

constexpr std::int64_t kMaxCount = 10'000;
constexpr std::int64_t kMaxBlockMs = 24LL * 3600 * 1000;
constexpr std::int64_t kMaxSweepIntervalMs = 60'000;

std::optional<Reaped> decode(const StreamEntry& entry) {
    Reaped out;
    out.entry_id = entry.id;
    std::optional<std::string> doc, set;
    for (const auto& [k, v] : entry.fields) {
        if (k == "game") doc = v;
        else if (k == "set") set = v;
        else if (k == "score") out.score = std::stoll(v);
        else if (k == "reaped_at") out.reaped_at = std::stoll(v);
    }
    if (!doc || !set) return std::nullopt;
    from_json(nlohmann::json::parse(*doc), out.game);
    bool known = false;
    for (GameSet s : kAllSets) {
        if (to_string(s) == *set) {
            out.set = s;
            known = true;
        }
    }
    if (!known) return std::nullopt;
    return out;
}

}  // namespace

ReapedFeed::ReapedFeed(std::shared_ptr<StreamTransport> transport, std::string stream,
                       ReapedFeedOptions options)
    : transport_(std::move(transport)), stream_(std::move(stream)), options_(std::move(options)) {
    if (options_.name.empty()) options_.name = unique_consumer_name();
    validate_id("group", options_.group);
    validate_id("name", options_.name);
    if (options_.claim_idle_ms < 1 || options_.claim_idle_ms > kMaxBlockMs) {
        throw InvalidArgument("claim_idle_ms must be 1.." + std::to_string(kMaxBlockMs));
    }
    if (options_.trim_interval_ms < 0 || options_.trim_interval_ms > kMaxBlockMs) {
        throw InvalidArgument("trim_interval_ms must be 0.." + std::to_string(kMaxBlockMs));
    }
    if (options_.remove_idle_consumers_ms < 0 ||
        options_.remove_idle_consumers_ms > Consumer::kMaxIntervalMs) {
        throw InvalidArgument("remove_idle_consumers_ms must be 0.." +
                              std::to_string(Consumer::kMaxIntervalMs));
    }
    // The group exists from now on, so other groups' trimming keeps what it has not read.
    try {
        transport_->ensure_group(stream_, options_.group);
        group_ready_ = true;
    } catch (const ConnectionError& e) {  // unavailable: created by the first poll or ack
        logger()->debug("reaped feed {}: group {} not created yet: {}", stream_, options_.group, e.what());
    }
}

std::vector<Reaped> ReapedFeed::poll(std::int64_t count, std::int64_t block_ms) {
    if (count < 1 || count > kMaxCount) throw InvalidArgument("count must be 1..10000");
    if (block_ms < 0 || block_ms > kMaxBlockMs) {
        throw InvalidArgument("block_ms must be 0.." + std::to_string(kMaxBlockMs));
    }
    if (!group_ready_) {
        transport_->ensure_group(stream_, options_.group);
        group_ready_ = true;
    }
    std::vector<StreamEntry> entries =
        transport_->read_group(stream_, options_.group, options_.name, "0", count, 0);
    if (entries.empty()) {
        remove_idle_readers();
        entries = transport_->autoclaim(stream_, options_.group, options_.name,
                                        options_.claim_idle_ms, claim_cursor_, count);
    }
    if (entries.empty()) {
        entries = transport_->read_group(stream_, options_.group, options_.name, ">", count, block_ms);
    }
    std::vector<Reaped> out;
    std::vector<std::string> unreadable;
    for (const auto& e : entries) {
        std::optional<Reaped> item;
        try {
            if (!e.deleted) item = decode(e);
        } catch (const std::exception&) {
            item.reset();
        }
        if (item) {
            out.push_back(std::move(*item));
        } else {
            // Not written by reap() (or trimmed away): nothing a deleter can act on.
            logger()->error("reaped feed {}: entry {} is not a reaped game; acknowledged", stream_, e.id);
            unreadable.push_back(e.id);
        }
    }
    if (!unreadable.empty()) transport_->ack(stream_, options_.group, unreadable);
    return out;
}

// Readers left behind (a process that died under its unique default name) go once idle with
// nothing pending; what one left pending is claimed first (claim_idle_ms), then it goes too.
void ReapedFeed::remove_idle_readers() {
    const std::int64_t idle_ms = options_.remove_idle_consumers_ms;
    const auto now = std::chrono::steady_clock::now();
    if (idle_ms == 0 || now < next_sweep_) return;
    next_sweep_ = now + std::chrono::milliseconds(std::clamp<std::int64_t>(idle_ms / 2, 1, kMaxSweepIntervalMs));
    try {
        const auto removed = transport_->remove_idle_consumers(stream_, options_.group, idle_ms, options_.name);
        if (!removed.empty()) {
            logger()->info("reaped feed {}: removed {} idle readers with nothing pending from group {} "
                           "(first: {})", stream_, removed.size(), options_.group, removed.front());
        }
    } catch (const ConnectionError&) {
        throw;
    } catch (const GroupMissing&) {
        throw;
    } catch (const GameDataError& e) {  // never fails the poll: tried again at the next sweep
        logger()->warn("reaped feed {}: removing idle readers failed: {}", stream_, e.what());
    }
}

std::int64_t ReapedFeed::ack(const std::vector<std::string>& entry_ids) {
    if (entry_ids.empty()) return 0;
    if (!group_ready_) {
        transport_->ensure_group(stream_, options_.group);
        group_ready_ = true;
    }
    const std::int64_t acked = transport_->ack(stream_, options_.group, entry_ids);
    const auto now = std::chrono::steady_clock::now();
    if (options_.trim_interval_ms > 0 && now >= next_trim_) {
        next_trim_ = now + std::chrono::milliseconds(options_.trim_interval_ms);
        try {  // the items are acknowledged either way; the next ack trims what is left
            trim_acknowledged();
        } catch (const GameDataError& e) {
            logger()->warn("reaped feed {}: trimming acknowledged entries failed: {}", stream_, e.what());
        }
    }
    return acked;
}

std::int64_t ReapedFeed::trim_acknowledged() {
    const std::int64_t n = transport_->trim_acknowledged(stream_);
    if (n > 0) logger()->debug("reaped feed {}: trimmed {} acknowledged entries", stream_, n);
    return n;
}

}  // namespace game_data
