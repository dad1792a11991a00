// The matchmaker's side of the stream: reads events through a consumer group, applies them
// as a batch, dead-letters bad ones, and acknowledges the batch with one XACK.
// At-least-once delivery; exactly-once in effect through state monotonicity and seq.
// One Consumer is used by one thread at a time (make one per thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "game_data/metrics.hpp"
#include "game_data/store.hpp"
#include "game_data/types.hpp"

namespace game_data {

class Matchmaker;

struct ConsumerOptions {
    std::string stream;               // "" = "<ns>:events"
    std::string group = "matchmaker";
    std::string name = "mm-1";
    std::int64_t claim_idle_ms = 30'000;
    std::int64_t max_deliveries = 5;  // more deliveries than this: dead-lettered
    std::string dead_letter_stream;   // "" = "<stream>:dead"
};

struct ConsumerStats {
    std::int64_t applied = 0;
    std::int64_t duplicate = 0;
    std::int64_t rejected = 0;      // includes malformed entries
    std::int64_t dead_lettered = 0;
    std::int64_t trimmed = 0;       // pending ids whose entries were trimmed away
    std::int64_t claimed = 0;       // entries taken over from other consumers
    std::int64_t batches = 0;
};

class Consumer {
public:
    Consumer(std::shared_ptr<Store> store, std::shared_ptr<StreamTransport> transport,
             ConsumerOptions options, std::function<std::int64_t()> clock,
             std::shared_ptr<Metrics> metrics = nullptr);
    Consumer(Consumer&&) noexcept;
    Consumer& operator=(Consumer&&) noexcept;
    ~Consumer();

    // One round: first this consumer's own pending entries (until drained), then claims of
    // idle entries of others, then new entries. Applies, dead-letters and acks the batch.
    std::vector<ApplyResult> poll(std::int64_t count = 100, std::int64_t block_ms = 100);
    // Loops poll() until stop is set; the current batch is always finished and acked.
    void run(const std::atomic<bool>& stop, std::int64_t count = 100, std::int64_t block_ms = 100);

    const ConsumerStats& stats() const noexcept;
    const ConsumerOptions& options() const noexcept;
    StreamTransport::GroupInfo group_info();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace game_data
