// The durable record of reaped games (SPEC section 7): a consumer group over the reaped stream
// that reap() appends to in the same atomic step that removes a game. A matchmaker that crashed
// after a reap learns here which games to delete on their game servers. Delivery is at least
// once: poll() returns this reader's unacknowledged items first, so an item is delivered again
// until ack() is called for it. Retention: entries every group of the stream has acknowledged
// are trimmed (by ack(), every trim_interval_ms); nothing a group still needs is ever removed.
// A group exists from its first ReapedFeed on (or its first poll, if the backend was down).
// One ReapedFeed is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "game_data/types.hpp"

namespace game_data {

class StreamTransport;

struct Reaped {
    Game game;                 // the record as it was when reaped
    GameSet set = GameSet::Pending;  // the set it was reaped from
    std::int64_t score = 0;    // its score in that set (ms)
    std::int64_t reaped_at = 0;  // the `now` of the reap (ms)
    std::string entry_id;      // the reaped stream entry, for ack()
};

struct ReapedFeedOptions {
    std::string group = "deleter";
    std::string name;  // "" = unique_consumer_name() (consumer.hpp), made by the ReapedFeed
    std::int64_t claim_idle_ms = 30'000;  // take over items another reader left this long
    // ack() trims the entries every group has acknowledged at most this often; 0: never (call
    // trim_acknowledged()).
    std::int64_t trim_interval_ms = 1'000;
    // Readers of the group (other than this one) with nothing pending and idle this long are
    // removed from it, as ConsumerOptions::remove_idle_consumers_ms: poll() sweeps when its own
    // items are drained, at most every min(this / 2, 60 s). 0: never. 0..a week.
    std::int64_t remove_idle_consumers_ms = 3'600'000;
};

class ReapedFeed {
public:
    ReapedFeed(std::shared_ptr<StreamTransport> transport, std::string stream,
               ReapedFeedOptions options);

    // This reader's unacknowledged items, then items other readers left idle for claim_idle_ms,
    // then new ones; up to `count`, blocking up to block_ms for new ones.
    std::vector<Reaped> poll(std::int64_t count = 100, std::int64_t block_ms = 0);
    // Acknowledges items (by entry id); returns how many were pending. Then, when
    // trim_interval_ms has passed since the last trim, trims as trim_acknowledged() does.
    std::int64_t ack(const std::vector<std::string>& entry_ids);
    // Removes the entries of the reaped stream that every consumer group of it has read and
    // acknowledged (StreamTransport::trim_acknowledged); returns how many.
    std::int64_t trim_acknowledged();
    const std::string& stream() const noexcept { return stream_; }
    const ReapedFeedOptions& options() const noexcept { return options_; }

private:
    std::shared_ptr<StreamTransport> transport_;
    std::string stream_;
    ReapedFeedOptions options_;
    bool group_ready_ = false;
    std::string claim_cursor_ = "0-0";
    std::chrono::steady_clock::time_point next_trim_{};
    std::chrono::steady_clock::time_point next_sweep_{};

    void remove_idle_readers();
};

}  // namespace game_data
