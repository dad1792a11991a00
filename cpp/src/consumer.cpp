#include "game_data/consumer.hpp"

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "game_data/errors.hpp"
#include "game_data/event_codec.hpp"
#include "game_data/logging.hpp"
#include "game_data/validation.hpp"

namespace game_data {

struct Consumer::Impl {
    std::shared_ptr<Store> store;
    std::shared_ptr<StreamTransport> transport;
    ConsumerOptions options;
    std::function<std::int64_t()> clock;
    ConsumerStats stats;
    std::shared_ptr<Metrics> metrics;
    bool group_ready = false;
    bool draining_own = true;          // start by re-reading our own unacknowledged entries
    std::string claim_cursor = "0-0";
    std::int64_t next_claim_at = 0;

    std::int64_t claim_interval() const {
        return std::clamp<std::int64_t>(options.claim_idle_ms / 2, 1, 1'000);
    }

    void ensure_group() {
        if (!group_ready) {
            transport->ensure_group(options.stream, options.group);
            group_ready = true;
        }
    }

    std::vector<StreamEntry> next_batch(std::int64_t count, std::int64_t block_ms) {
        ensure_group();
        std::vector<StreamEntry> batch;
        if (draining_own) {
            batch = transport->read_group(options.stream, options.group, options.name, "0", count, 0);
            if (!batch.empty()) return batch;
            draining_own = false;
        }
        const std::int64_t now = now_ms();
        if (now >= next_claim_at) {
            next_claim_at = now + claim_interval();
            batch = transport->autoclaim(options.stream, options.group, options.name,
                                         options.claim_idle_ms, claim_cursor, count);
            for (const auto& e : batch) stats.claimed += e.deleted ? 0 : 1;
            if (!batch.empty()) {
                logger()->info("consumer {} claimed {} idle entries", options.name, batch.size());
                return batch;
            }
        }
        return transport->read_group(options.stream, options.group, options.name, ">", count,
                                     block_ms);
    }

    std::vector<ApplyResult> process(const std::vector<StreamEntry>& batch) {
        std::vector<ApplyResult> results(batch.size());
        std::vector<Event> events;
        std::vector<std::size_t> event_slots;
        std::vector<std::size_t> dead_slots;
        std::vector<std::string> ack_ids;
        events.reserve(batch.size());
        ack_ids.reserve(batch.size());

        for (std::size_t i = 0; i < batch.size(); ++i) {
            const StreamEntry& entry = batch[i];
            ApplyResult& r = results[i];
            r.entry_id = entry.id;
            ack_ids.push_back(entry.id);
            for (const auto& [k, v] : entry.fields) {
                if (k == "game_id" && is_valid_id(v)) r.game_id = v;
            }
            if (entry.deleted) {
                r.status = ApplyStatus::Rejected;
                r.reason = "entry was trimmed before it was applied";
                ++stats.trimmed;
                logger()->warn("stream {}: entry {} was trimmed while pending; acknowledged",
                               options.stream, entry.id);
                continue;
            }
            if (entry.deliveries > options.max_deliveries) {
                r.status = ApplyStatus::Rejected;
                r.reason = "delivered " + std::to_string(entry.deliveries) + " times";
                dead_slots.push_back(i);
                continue;
            }
            try {
                events.push_back(decode_event(entry.fields));
                event_slots.push_back(i);
            } catch (const InvalidArgument& e) {
                r.status = ApplyStatus::Rejected;
                r.reason = e.what();
                dead_slots.push_back(i);
            }
        }

        if (!events.empty()) {
            auto applied = store->apply_many(events, clock());
            for (std::size_t k = 0; k < applied.size(); ++k) {
                const std::size_t slot = event_slots[k];
                applied[k].entry_id = batch[slot].id;
                if (applied[k].status == ApplyStatus::Rejected) dead_slots.push_back(slot);
                results[slot] = std::move(applied[k]);
            }
        }

        if (!dead_slots.empty()) {
            std::sort(dead_slots.begin(), dead_slots.end());
            std::vector<Fields> dead;
            dead.reserve(dead_slots.size());
            for (std::size_t slot : dead_slots) {
                Fields f = batch[slot].fields;
                f.emplace_back("error", results[slot].reason);
                dead.push_back(std::move(f));
            }
            // Dead letters are written before the ack: a crash in between redelivers, never loses.
            transport->add_many(options.dead_letter_stream, dead);
            stats.dead_lettered += static_cast<std::int64_t>(dead.size());
        }
        if (!ack_ids.empty()) transport->ack(options.stream, options.group, ack_ids);

        for (const auto& r : results) {
            switch (r.status) {
                case ApplyStatus::Applied: ++stats.applied; break;
                case ApplyStatus::Duplicate: ++stats.duplicate; break;
                case ApplyStatus::Rejected: ++stats.rejected; break;
            }
        }
        ++stats.batches;
        return results;
    }
};

Consumer::Consumer(std::shared_ptr<Store> store, std::shared_ptr<StreamTransport> transport,
                   ConsumerOptions options, std::function<std::int64_t()> clock,
                   std::shared_ptr<Metrics> metrics)
    : impl_(std::make_unique<Impl>()) {
    validate_id("consumer name", options.name);
    validate_id("group", options.group);
    if (options.stream.empty()) throw InvalidArgument("consumer needs a stream");
    if (options.dead_letter_stream.empty()) options.dead_letter_stream = options.stream + ":dead";
    if (options.dead_letter_stream == options.stream) {
        throw InvalidArgument("the dead-letter stream must differ from the stream");
    }
    if (options.claim_idle_ms < 1) throw InvalidArgument("claim_idle_ms must be positive");
    if (options.max_deliveries < 1) throw InvalidArgument("max_deliveries must be positive");
    impl_->store = std::move(store);
    impl_->metrics = metrics ? std::move(metrics) : std::make_shared<Metrics>();
    impl_->transport = std::move(transport);
    impl_->options = std::move(options);
    impl_->clock = clock ? std::move(clock) : std::function<std::int64_t()>(now_ms);
}

Consumer::Consumer(Consumer&&) noexcept = default;
Consumer& Consumer::operator=(Consumer&&) noexcept = default;
Consumer::~Consumer() = default;

std::vector<ApplyResult> Consumer::poll(std::int64_t count, std::int64_t block_ms) {
    if (count < 1 || count > 10'000) throw InvalidArgument("count must be 1..10000");
    if (block_ms < 0) throw InvalidArgument("block_ms must not be negative");
    try {
        std::vector<StreamEntry> batch;
        try {
            batch = impl_->next_batch(count, block_ms);
        } catch (const ReplyError& e) {
            // The stream or group vanished (FLUSHDB, a restart without persistence, XGROUP
            // DESTROY): create it again at the start of the stream and read once more.
            const std::string_view what(e.what());
            const bool vanished = what.find("NOGROUP") != std::string_view::npos ||
                                  what.find("UNBLOCKED") != std::string_view::npos;  // deleted mid-read
            if (!vanished) throw;
            logger()->warn("consumer {}: group {} on {} is gone; creating it again",
                           impl_->options.name, impl_->options.group, impl_->options.stream);
            impl_->group_ready = false;
            batch = impl_->next_batch(count, block_ms);
        }
        if (batch.empty()) return {};
        return impl_->process(batch);
    } catch (...) {
        // A failed read may already have delivered entries to us, and a failed batch was not
        // acknowledged: re-read our own pending entries first next time, before newer ones.
        impl_->draining_own = true;
        throw;
    }
}

void Consumer::run(const std::atomic<bool>& stop, std::int64_t count, std::int64_t block_ms) {
    std::int64_t next_report = now_ms() + 5'000;
    std::int64_t backoff_ms = 0;
    while (!stop.load()) {
        try {
            poll(count, block_ms);
            backoff_ms = 0;
        } catch (const ConnectionError& e) {
            // Ride out a lost backend: nothing was acknowledged, the entries are read again.
            backoff_ms = std::clamp<std::int64_t>(backoff_ms * 2, 50, 2'000);
            logger()->warn("consumer {}: {}; retrying in {} ms", impl_->options.name, e.what(),
                           backoff_ms);
            for (std::int64_t waited = 0; waited < backoff_ms && !stop.load(); waited += 50) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a retry delay
            }
            continue;
        }
        if (now_ms() >= next_report) {
            next_report = now_ms() + 5'000;
            const auto& s = impl_->stats;
            auto info = group_info();
            logger()->info("consumer {}: applied={} duplicate={} rejected={} lag={} pending={}",
                           impl_->options.name, s.applied, s.duplicate, s.rejected, info.lag,
                           info.pending);
        }
    }
}

const ConsumerStats& Consumer::stats() const noexcept { return impl_->stats; }
const ConsumerOptions& Consumer::options() const noexcept { return impl_->options; }
StreamTransport::GroupInfo Consumer::group_info() {
    impl_->ensure_group();  // a consumer that has not polled yet reports an empty group
    return impl_->transport->group_info(impl_->options.stream, impl_->options.group);
}

}  // namespace game_data
