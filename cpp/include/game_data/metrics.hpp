// Counters, gauges and histograms of one backend handle, named as Prometheus names (SPEC
// section 8): `name` or `name{label="value",...}`. Thread safe; every Matchmaker made by one
// connect() and every Consumer made from it count into the same Metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace game_data {

// The metric names of SPEC section 8, spelled once.
namespace metric {
inline constexpr std::string_view kEventsTotal = "game_data_events_total";          // {type,status}
inline constexpr std::string_view kGames = "game_data_games";                       // {set} gauge
inline constexpr std::string_view kReapedTotal = "game_data_reaped_total";          // {set}
inline constexpr std::string_view kReservationsTotal = "game_data_reservations_total";  // {outcome}
inline constexpr std::string_view kDeadLettersTotal = "game_data_dead_letters_total";
inline constexpr std::string_view kEventsLostTotal = "game_data_events_lost_total";
inline constexpr std::string_view kConsumerLag = "game_data_consumer_lag";          // gauge
inline constexpr std::string_view kConsumerPending = "game_data_consumer_pending";  // gauge
inline constexpr std::string_view kApplySeconds = "game_data_apply_seconds";        // histogram
inline constexpr std::string_view kBackendErrorsTotal = "game_data_backend_errors_total";  // {kind}
inline constexpr std::string_view kCallbackErrorsTotal = "game_data_callback_errors_total";
inline constexpr std::string_view kCommitConflictsTotal = "game_data_commit_conflicts_total";
inline constexpr std::string_view kReapedDroppedTotal = "game_data_reaped_dropped_total";
inline constexpr std::string_view kOrphansTotal = "game_data_orphan_entries_total";  // {set}
inline constexpr std::string_view kEvictionRisk = "game_data_eviction_risk";        // gauge 0/1
// The `type` label of game_data_events_total for an entry that names no known event type.
inline constexpr std::string_view kInvalidEventTypeLabel = "invalid";
}  // namespace metric

// `name{k1="v1",k2="v2"}`, label values escaped as the Prometheus text format wants.
std::string labelled(std::string_view name,
                     std::initializer_list<std::pair<std::string_view, std::string_view>> labels);

class Metrics {
public:
    enum class Kind { Counter, Gauge, Histogram };
    // A family the library exports: its name, kind and help text (the exposition's HELP).
    struct Family {
        std::string_view name;
        Kind kind;
        std::string_view help;
    };
    // Every family of the metric namespace above, in that order; one table for every exporter.
    static const std::vector<Family>& families();

    // A series' value, updated without a lock; stable for the life of the Metrics.
    class Series {
    public:
        void add(double delta = 1.0) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
        void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
        double value() const noexcept { return value_.load(std::memory_order_relaxed); }

    private:
        std::atomic<double> value_{0.0};
    };

    class Histogram {
    public:
        void observe(double v) noexcept;

    private:
        friend class Metrics;
        std::array<std::atomic<std::uint64_t>, 16> counts_{};  // per bucket; last = +Inf
        std::atomic<double> sum_{0.0};
        std::atomic<std::uint64_t> count_{0};
    };

    // Upper bounds (seconds) of the histogram buckets; +Inf is implied.
    static const std::array<double, 15>& histogram_buckets();

    // Handles for hot paths: look a series up once, then update it without a lock.
    Series& counter(std::string_view name);
    Series& gauge(std::string_view name);
    Histogram& histogram(std::string_view name);

    void add(std::string_view name, double delta = 1.0) { counter(name).add(delta); }
    void set(std::string_view name, double value) { gauge(name).set(value); }
    void observe(std::string_view name, double value) { histogram(name).observe(value); }
    double value(std::string_view name) const;  // 0 when never set

    // Every series: counters and gauges by name; a histogram `h` as `h_bucket{le="..."}`
    // (cumulative), `h_sum` and `h_count`.
    std::map<std::string, double> snapshot() const;
    // Kind of each family (the name before '{'), for the exposition format.
    std::map<std::string, Kind> kinds() const;

private:
    Series& series(std::string_view name, Kind kind);

    mutable std::mutex mutex_;  // guards the maps' structure; values are atomics
    std::map<std::string, std::unique_ptr<Series>, std::less<>> values_;
    std::map<std::string, Kind, std::less<>> kinds_;
    std::map<std::string, std::unique_ptr<Histogram>, std::less<>> histograms_;
};

}  // namespace game_data
