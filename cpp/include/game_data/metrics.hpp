// Counters, gauges and histograms of one backend handle, named as Prometheus names (SPEC
// section 8): `name` or `name{label="value",...}`. Thread safe; every Matchmaker made by one
// connect() and every Consumer made from it count into the same Metrics.
#pragma once

#include <cstdint>
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
inline constexpr std::string_view kOrphansTotal = "game_data_orphan_entries_total";  // {set}
inline constexpr std::string_view kEvictionRisk = "game_data_eviction_risk";        // gauge 0/1
}  // namespace metric

// `name{k1="v1",k2="v2"}`, label values escaped as the Prometheus text format wants.
std::string labelled(std::string_view name,
                     std::initializer_list<std::pair<std::string_view, std::string_view>> labels);

class Metrics {
public:
    // Upper bounds (seconds) of the histogram buckets; +Inf is implied.
    static const std::vector<double>& histogram_buckets();

    void add(std::string_view name, double delta = 1.0);      // counter
    void set(std::string_view name, double value);            // gauge
    void observe(std::string_view name, double value);        // histogram sample
    double value(std::string_view name) const;                // 0 when never set

    // Every series: counters and gauges by name; a histogram `h` as `h_bucket{le="..."}`
    // (cumulative), `h_sum` and `h_count`.
    std::map<std::string, double> snapshot() const;
    // Names of the series that are counters / gauges / histograms (for the exposition).
    enum class Kind { Counter, Gauge, Histogram };
    std::map<std::string, Kind> kinds() const;

private:
    struct Histogram {
        std::vector<std::uint64_t> counts;  // per bucket, not cumulative; last = +Inf
        double sum = 0;
        std::uint64_t count = 0;
    };
    mutable std::mutex mutex_;
    std::map<std::string, double, std::less<>> values_;
    std::map<std::string, Kind, std::less<>> kinds_;   // by family name (before '{')
    std::map<std::string, Histogram, std::less<>> histograms_;
};

}  // namespace game_data
