// The matchmaker's side of the stream: reads events through a consumer group, applies them
// as a batch, dead-letters bad ones, and acknowledges the batch with one XACK.
// At-least-once delivery; exactly-once in effect through state monotonicity and seq.
// One Consumer is polled by one thread at a time (make one per thread); stats(),
// group_info() and options() may be called from any thread meanwhile.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "game_data/change.hpp"
#include "game_data/dead_letters.hpp"
#include "game_data/metrics.hpp"
#include "game_data/run_loop.hpp"
#include "game_data/store.hpp"
#include "game_data/types.hpp"

namespace game_data {

class Matchmaker;

// "<host>-<pid>-<6 hex digits, random>": a consumer name no other process (nor another
// consumer of this one) uses, so replicas never share a pending list. <host> is the short host
// name with characters other than [A-Za-z0-9_.-] as '-', at most 64 bytes. The default of
// ConsumerOptions::name and ReapedFeedOptions::name, made once per Consumer / ReapedFeed.
std::string unique_consumer_name();

struct ConsumerOptions {
    std::string stream;               // "" = "<ns>:events"
    std::string group = "matchmaker";
    std::string name;                 // "" = unique_consumer_name(), made by the Consumer
    std::int64_t claim_idle_ms = 30'000;  // 1..kMaxClaimIdleMs
    std::int64_t max_deliveries = 5;  // more deliveries than this: dead-lettered
    std::string dead_letter_stream;   // "" = "<stream>:dead"
    // > 0: remove the entries every group has acknowledged (trim_acknowledged()) at most this
    // often. 0 (default): never; the library never trims on its own. 0..kMaxIntervalMs.
    std::int64_t trim_interval_ms = 0;
    // Consumers of the group (other than this one) with nothing pending and idle this long are
    // removed from the group, so restarts under new names do not pile up. 0: never.
    // 0..kMaxIntervalMs.
    std::int64_t remove_idle_consumers_ms = 3'600'000;
};

struct ConsumerStats {
    std::int64_t applied = 0;
    std::int64_t duplicate = 0;
    std::int64_t rejected = 0;      // includes malformed entries
    std::int64_t dead_lettered = 0;
    std::int64_t lost = 0;          // entries removed from the stream before they were applied:
                                    // `trimmed` plus those trimmed before the group read them
    std::int64_t trimmed = 0;       // of those, pending ids whose entries were trimmed away
    std::int64_t claimed = 0;       // entries taken over from other consumers
    std::int64_t batches = 0;
    std::int64_t trimmed_acknowledged = 0;  // acknowledged entries removed by trim_acknowledged
    std::int64_t consumers_removed = 0;     // idle consumers removed from the group
};

class Consumer {
public:
    static constexpr std::int64_t kMaxCount = 10'000;                      // poll count
    static constexpr std::int64_t kMaxBlockMs = StreamTransport::kMaxBlockMs;  // one hour
    static constexpr std::int64_t kMaxClaimIdleMs = 7LL * 24 * 3'600'000;  // a week
    static constexpr std::int64_t kMaxIntervalMs = 7LL * 24 * 3'600'000;   // a week

    // Throws InvalidArgument for options out of their documented ranges. Each applied event
    // of a batch is announced to `hooks` (those of the Matchmaker it was made from) right after
    // the batch is committed, before the dead letters and the ack.
    Consumer(std::shared_ptr<Store> store, std::shared_ptr<StreamTransport> transport,
             ConsumerOptions options, std::function<std::int64_t()> clock,
             std::shared_ptr<Metrics> metrics = nullptr,
             std::shared_ptr<ChangeHooks> hooks = nullptr);
    Consumer(Consumer&&) noexcept;
    Consumer& operator=(Consumer&&) noexcept;
    ~Consumer();

    // One round: first this consumer's own pending entries (until drained), then the periodic
    // work (claims of idle entries of others, counting entries lost to trimming, removing idle
    // consumers, trimming acknowledged entries when enabled), then new entries. Applies,
    // dead-letters and acks the batch. count 1..kMaxCount, block_ms 0..kMaxBlockMs, else
    // InvalidArgument. Backend failures are counted in game_data_backend_errors_total{kind}.
    std::vector<ApplyResult> poll(std::int64_t count = 100, std::int64_t block_ms = 100);
    // Polls until stop is set (run_loop): the current batch is always finished and acked, an
    // unavailable backend (ConnectionError, OutOfMemory, ...) is retried with backoff, and a
    // one-line summary is logged every few seconds and at the end.
    void run(const std::atomic<bool>& stop, std::int64_t count = 100, std::int64_t block_ms = 100);
    void run(const std::function<bool()>& stop_requested, std::int64_t count,
             std::int64_t block_ms, RunLoopOptions loop = {});

    // Removes the stream's entries that every consumer group has acknowledged (see
    // StreamTransport::trim_acknowledged); returns how many.
    std::int64_t trim_acknowledged();

    ConsumerStats stats() const;
    const ConsumerOptions& options() const noexcept;
    // Also sets the game_data_consumer_lag / _pending gauges.
    StreamTransport::GroupInfo group_info();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace game_data
