#include "game_data/consumer.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <mutex>
#include <random>

#include <spdlog/spdlog.h>

#include "game_data/errors.hpp"
#include "game_data/event_codec.hpp"
#include "game_data/logging.hpp"
#include "game_data/validation.hpp"

namespace game_data {
namespace {

constexpr std::int64_t kMaxSweepIntervalMs = 60'000;

void check_range(const char* what, std::int64_t value, std::int64_t low, std::int64_t high) {
    if (value < low || value > high) {
        throw InvalidArgument(std::string(what) + " must be between " + std::to_string(low) +
                              " and " + std::to_string(high));
    }
}

// The dead-letter stream may be no key the library keeps (README "Redis layout"): not the
// consumer's own stream, nothing under "<ns>:{" (games, sets, indexes, seats, tombstones,
// config, the reaped stream), and under "<ns>:" only a name ending in ":dead" (the namespace's
// other keys there are event streams, "<ns>:events" first). Names outside "<ns>:" are free.
void check_dead_letter_stream(const std::string& ns, const ConsumerOptions& o) {
    const std::string& dead = o.dead_letter_stream;
    if (dead == o.stream) throw InvalidArgument("the dead-letter stream must differ from the stream");
    const std::string prefix = ns + ":";
    if (!dead.starts_with(prefix)) return;
    if (dead.starts_with(prefix + "{")) {
        throw InvalidArgument("dead_letter_stream '" + dead + "' is a key of namespace '" + ns +
                              "': the library keeps its games, sets, indexes and reaped stream "
                              "under '" + prefix + "{'");
    }
    if (!dead.ends_with(":dead")) {
        throw InvalidArgument("dead_letter_stream '" + dead + "' is in namespace '" + ns +
                              "', where a dead-letter stream's name must end in ':dead' (like "
                              "the default '<stream>:dead'): the namespace's other names there "
                              "are event streams, such as '" + prefix + "events'");
    }
}

}  // namespace

std::string unique_consumer_name() {
    std::array<char, 256> buffer{};
    if (gethostname(buffer.data(), buffer.size() - 1) != 0) buffer[0] = '\0';
    std::string host;
    for (const char* c = buffer.data(); *c != '\0' && *c != '.' && host.size() < 64; ++c) {
        const bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                        (*c >= '0' && *c <= '9') || *c == '_' || *c == '-';
        host.push_back(ok ? *c : '-');
    }
    if (host.empty()) host = "host";
    std::random_device device;
    const unsigned random = std::uniform_int_distribution<unsigned>(0, 0xFFFFFF)(device);
    std::array<char, 8> hex{};
    std::snprintf(hex.data(), hex.size(), "%06x", random);
    return host + "-" + std::to_string(getpid()) + "-" + hex.data();
}

struct Consumer::Impl {
    std::shared_ptr<Store> store;
    std::shared_ptr<StreamTransport> transport;
    ConsumerOptions options;
    std::function<std::int64_t()> clock;
    std::shared_ptr<Metrics> metrics;
    std::shared_ptr<ChangeHooks> hooks;  // may be null
    mutable std::mutex stats_mutex;  // stats are read from other threads
    ConsumerStats stats;
    std::atomic<bool> group_ready{false};
    bool draining_own = true;          // start by re-reading our own unacknowledged entries
    bool warned_inexact = false;
    std::string claim_cursor = "0-0";
    std::int64_t next_claim_at = 0;
    std::int64_t next_sweep_at = 0;
    std::int64_t next_trim_at = 0;

    std::int64_t claim_interval() const {
        return std::clamp<std::int64_t>(options.claim_idle_ms / 2, 1, 1'000);
    }

    template <typename Fn>
    void count(Fn&& fn) {
        std::lock_guard lock(stats_mutex);
        fn(stats);
    }

    void ensure_group() {
        if (!group_ready.load()) {
            transport->ensure_group(options.stream, options.group);
            group_ready.store(true);
        }
    }

    void set_gauges(const StreamTransport::GroupInfo& info) {
        if (info.lag >= 0) metrics->set(metric::kConsumerLag, static_cast<double>(info.lag));
        metrics->set(metric::kConsumerPending, static_cast<double>(info.pending));
    }

    // An entry's rejection under its type, or "invalid" when it names no known type.
    void count_unapplied(const Fields& fields) {
        std::string_view type = metric::kInvalidEventTypeLabel;
        const auto field = std::find_if(fields.begin(), fields.end(),
                                        [](const auto& f) { return f.first == "type"; });
        if (field != fields.end() && parse_event_type(field->second)) type = field->second;
        metrics->add(labelled(metric::kEventsTotal,
                              {{"type", type}, {"status", to_string(ApplyStatus::Rejected)}}));
    }

    void count_lost(std::int64_t n) {
        metrics->add(metric::kEventsLostTotal, static_cast<double>(n));
        count([&](ConsumerStats& s) { s.lost += n; });
    }

    // Periodic work whose failure must not stop consuming: logged, and tried again next time.
    // An unavailable backend and a vanished group still fail the poll (retried, recreated).
    template <typename Fn>
    void periodic(const char* what, Fn&& fn) {
        try {
            fn();
        } catch (const ConnectionError&) {
            throw;
        } catch (const GroupMissing&) {
            throw;
        } catch (const GameDataError& e) {
            logger()->error("consumer {}: {} failed: {}", options.name, what, e.what());
        }
    }

    // Entries trimmed from the stream before the group read them: counted once per group (by
    // whichever consumer finds them), logged as an error.
    void take_lost() {
        const auto found = transport->take_lost(options.stream, options.group);
        set_gauges(found.info);
        if (found.lost > 0) {
            count_lost(found.lost);
            logger()->error("stream {}: {} entries were trimmed before group {} read them; they "
                            "are lost (publish without maxlen, or trim only acknowledged "
                            "entries)", options.stream, found.lost, options.group);
        }
        if (!found.exact && !warned_inexact) {
            warned_inexact = true;
            logger()->warn("stream {}: entries trimmed before group {} read them cannot be "
                           "counted now (needs Redis >= 7.0, and no XDEL of unread entries)",
                           options.stream, options.group);
        }
    }

    void remove_idle_consumers() {
        const auto removed = transport->remove_idle_consumers(
            options.stream, options.group, options.remove_idle_consumers_ms, options.name);
        if (removed.empty()) return;
        count([&](ConsumerStats& s) { s.consumers_removed += std::ssize(removed); });
        logger()->info("consumer {}: removed {} idle consumers with nothing pending from group "
                       "{} (first: {})", options.name, removed.size(), options.group,
                       removed.front());
    }

    std::int64_t trim_acknowledged() {
        const std::int64_t n = transport->trim_acknowledged(options.stream);
        count([&](ConsumerStats& s) { s.trimmed_acknowledged += n; });
        if (n > 0) {
            logger()->debug("stream {}: trimmed {} acknowledged entries", options.stream, n);
        }
        return n;
    }

    void periodic_work(std::int64_t now) {
        periodic("counting lost entries", [&] { take_lost(); });
        if (options.remove_idle_consumers_ms > 0 && now >= next_sweep_at) {
            next_sweep_at = now + std::clamp<std::int64_t>(options.remove_idle_consumers_ms / 2, 1,
                                                           kMaxSweepIntervalMs);
            periodic("removing idle consumers", [&] { remove_idle_consumers(); });
        }
        if (options.trim_interval_ms > 0 && now >= next_trim_at) {
            next_trim_at = now + options.trim_interval_ms;
            periodic("trimming acknowledged entries", [&] { trim_acknowledged(); });
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
            periodic_work(now);
            batch = transport->autoclaim(options.stream, options.group, options.name,
                                         options.claim_idle_ms, claim_cursor, count);
            std::int64_t claimed = 0;
            for (const auto& e : batch) claimed += e.deleted ? 0 : 1;
            this->count([&](ConsumerStats& s) { s.claimed += claimed; });
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
        std::int64_t trimmed = 0;
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
                ++trimmed;
                logger()->error("stream {}: entry {} was trimmed while pending, before it was "
                                "applied; it is lost", options.stream, entry.id);
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

        // Entries rejected before the store (undecodable, or delivered too often) are counted
        // in game_data_events_total here, as the store counts the rest.
        for (std::size_t slot : dead_slots) count_unapplied(batch[slot].fields);

        if (!events.empty()) {
            // Without a clock of its own, the backend's decides (README "One clock").
            auto applied = store->apply_many(events, clock ? Store::Now(clock()) : std::nullopt);
            if (hooks && hooks->active()) hooks->fire_applied(events, applied);
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
                dead.push_back(dead_letter_fields(batch[slot].fields, results[slot].reason));
            }
            // Dead letters are written before the ack: a crash in between redelivers, never loses.
            transport->add_many(options.dead_letter_stream, dead);
            metrics->add(metric::kDeadLettersTotal, static_cast<double>(dead.size()));
        }
        if (!ack_ids.empty()) transport->ack(options.stream, options.group, ack_ids);

        if (trimmed > 0) count_lost(trimmed);
        count([&](ConsumerStats& s) {
            for (const auto& r : results) {
                switch (r.status) {
                    case ApplyStatus::Applied: ++s.applied; break;
                    case ApplyStatus::Duplicate: ++s.duplicate; break;
                    case ApplyStatus::Rejected: ++s.rejected; break;
                }
            }
            s.trimmed += trimmed;
            s.dead_lettered += std::ssize(dead_slots);
            ++s.batches;
        });
        return results;
    }

    void report() {
        std::int64_t lag = -1;  // unknown (-1) when the backend cannot be read right now
        std::int64_t pending = -1;
        try {
            const StreamTransport::GroupInfo info = transport->group_info(options.stream, options.group);
            set_gauges(info);
            lag = info.lag;
            pending = info.pending;
        } catch (const GameDataError&) {
            // Unavailable right now: the summary says unknown.
        }
        ConsumerStats s;
        count([&](const ConsumerStats& current) { s = current; });
        logger()->info("consumer {} on {}: applied={} duplicate={} rejected={} dead_lettered={} "
                       "lost={} claimed={} batches={} lag={} pending={}",
                       options.name, options.stream, s.applied, s.duplicate, s.rejected,
                       s.dead_lettered, s.lost, s.claimed, s.batches, lag, pending);
    }
};

Consumer::Consumer(std::shared_ptr<Store> store, std::shared_ptr<StreamTransport> transport,
                   ConsumerOptions options, std::function<std::int64_t()> clock,
                   std::shared_ptr<Metrics> metrics, std::shared_ptr<ChangeHooks> hooks)
    : impl_(std::make_unique<Impl>()) {
    if (options.name.empty()) options.name = unique_consumer_name();
    validate_id("consumer name", options.name);
    validate_id("group", options.group);
    if (options.stream.empty()) throw InvalidArgument("consumer needs a stream");
    if (options.dead_letter_stream.empty()) options.dead_letter_stream = options.stream + ":dead";
    check_dead_letter_stream(store->ns(), options);
    check_range("claim_idle_ms", options.claim_idle_ms, 1, kMaxClaimIdleMs);
    if (options.max_deliveries < 1) throw InvalidArgument("max_deliveries must be positive");
    check_range("trim_interval_ms", options.trim_interval_ms, 0, kMaxIntervalMs);
    check_range("remove_idle_consumers_ms", options.remove_idle_consumers_ms, 0, kMaxIntervalMs);
    impl_->store = std::move(store);
    impl_->hooks = std::move(hooks);
    impl_->metrics = metrics ? std::move(metrics) : std::make_shared<Metrics>();
    // Counters exist from the start (at 0), so a dashboard sees "none lost", not "unknown".
    impl_->metrics->add(metric::kEventsLostTotal, 0);
    impl_->metrics->add(metric::kDeadLettersTotal, 0);
    impl_->transport = std::move(transport);
    impl_->options = std::move(options);
    impl_->clock = std::move(clock);
}

Consumer::Consumer(Consumer&&) noexcept = default;
Consumer& Consumer::operator=(Consumer&&) noexcept = default;
Consumer::~Consumer() = default;

std::vector<ApplyResult> Consumer::poll(std::int64_t count, std::int64_t block_ms) {
    check_range("count", count, 1, kMaxCount);
    check_range("block_ms", block_ms, 0, kMaxBlockMs);
    try {
        std::vector<StreamEntry> batch;
        try {
            batch = impl_->next_batch(count, block_ms);
        } catch (const GroupMissing&) {
            // The stream or group vanished (FLUSHDB, a restart without persistence, XGROUP
            // DESTROY, the stream deleted under a blocked read): create it again at the start
            // of the stream and read once more.
            logger()->warn("consumer {}: group {} on {} is gone; creating it again",
                           impl_->options.name, impl_->options.group, impl_->options.stream);
            impl_->group_ready.store(false);
            batch = impl_->next_batch(count, block_ms);
        }
        if (batch.empty()) return {};
        return impl_->process(batch);
    } catch (const BackendError& e) {
        impl_->metrics->add(labelled(metric::kBackendErrorsTotal, {{"kind", backend_error_kind(e)}}));
        // A failed read may already have delivered entries to us, and a failed batch was not
        // acknowledged: re-read our own pending entries first next time, before newer ones.
        impl_->draining_own = true;
        throw;
    } catch (...) {
        impl_->draining_own = true;
        throw;
    }
}

void Consumer::run(const std::atomic<bool>& stop, std::int64_t count, std::int64_t block_ms) {
    run([&stop] { return stop.load(); }, count, block_ms);
}

void Consumer::run(const std::function<bool()>& stop_requested, std::int64_t count,
                   std::int64_t block_ms, RunLoopOptions loop) {
    // Bad arguments fail now, not on every retry.
    check_range("count", count, 1, kMaxCount);
    check_range("block_ms", block_ms, 0, kMaxBlockMs);
    if (loop.name == RunLoopOptions{}.name) loop.name = "consumer " + impl_->options.name;
    run_loop(stop_requested, [&] { poll(count, block_ms); }, [&] { impl_->report(); }, loop);
}

std::int64_t Consumer::trim_acknowledged() { return impl_->trim_acknowledged(); }

ConsumerStats Consumer::stats() const {
    std::lock_guard lock(impl_->stats_mutex);
    return impl_->stats;
}

const ConsumerOptions& Consumer::options() const noexcept { return impl_->options; }

StreamTransport::GroupInfo Consumer::group_info() {
    impl_->ensure_group();  // a consumer that has not polled yet reports an empty group
    auto info = impl_->transport->group_info(impl_->options.stream, impl_->options.group);
    impl_->set_gauges(info);
    return info;
}

}  // namespace game_data
