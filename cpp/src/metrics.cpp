#include "game_data/metrics.hpp"

namespace game_data {
namespace {

std::string_view family_of(std::string_view name) {
    const auto brace = name.find('{');
    return brace == std::string_view::npos ? name : name.substr(0, brace);
}

std::string format_bound(double b) {
    std::string s = std::to_string(b);
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

// Inserts label `le` into a possibly labelled histogram name: h{a="b"} -> h_bucket{a="b",le="x"}.
std::string bucket_name(std::string_view name, std::string_view le) {
    const auto brace = name.find('{');
    std::string out(family_of(name));
    out += "_bucket{";
    if (brace != std::string_view::npos) {
        out += name.substr(brace + 1, name.size() - brace - 2);
        out += ',';
    }
    out += "le=\"";
    out += le;
    out += "\"}";
    return out;
}

std::string suffixed(std::string_view name, std::string_view suffix) {
    const auto brace = name.find('{');
    std::string out(family_of(name));
    out += suffix;
    if (brace != std::string_view::npos) out += name.substr(brace);
    return out;
}

}  // namespace

std::string labelled(std::string_view name,
                     std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
    std::string out(name);
    if (labels.size() == 0) return out;
    out += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
        if (!first) out += ',';
        first = false;
        out += k;
        out += "=\"";
        for (char c : v) {
            if (c == '\\' || c == '"') out += '\\';
            if (c == '\n') {
                out += "\\n";
                continue;
            }
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

const std::vector<Metrics::Family>& Metrics::families() {
    using K = Kind;
    static const std::vector<Family> kFamilies = {
        {metric::kEventsTotal, K::Counter,
         "Events by type and outcome (applied, duplicate, rejected); entries the consumer could "
         "not decode count as type \"invalid\""},
        {metric::kGames, K::Gauge, "Live games in each set (pending, lobby, active)"},
        {metric::kReapedTotal, K::Counter, "Games removed by reap, by the set they were reaped from"},
        {metric::kReservationsTotal, K::Counter,
         "Seat requests by outcome: reserved, quick_join, cancelled, no_game, or the refusal reason"},
        {metric::kDeadLettersTotal, K::Counter, "Stream entries copied to the dead-letter stream"},
        {metric::kEventsLostTotal, K::Counter, "Stream entries trimmed away before they were applied"},
        {metric::kConsumerLag, K::Gauge, "Entries of the event stream not yet delivered to the consumer group"},
        {metric::kConsumerPending, K::Gauge,
         "Entries delivered to the consumer group and not yet acknowledged"},
        {metric::kApplySeconds, K::Histogram, "Seconds per apply call (one event or one consumer batch)"},
        {metric::kBackendErrorsTotal, K::Counter, "Backend failures met by consumers, by kind"},
        {metric::kCallbackErrorsTotal, K::Counter, "Change callbacks that failed"},
        {metric::kCommitConflictsTotal, K::Counter,
         "Guarded writes retried because another client changed the game in between"},
        {metric::kReapedDroppedTotal, K::Counter,
         "Oldest reaped-stream entries dropped by reaped_retention while no reaped feed read the stream"},
        {metric::kOrphansTotal, K::Counter, "Set entries without a game record, removed by reap, by set"},
        {metric::kEvictionRisk, K::Gauge, "1 when the backend's eviction policy can evict game records"},
    };
    return kFamilies;
}

const std::array<double, 15>& Metrics::histogram_buckets() {
    static const std::array<double, 15> kBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                                    0.0025,  0.005,  0.01,    0.025,  0.05,
                                                    0.1,     0.25,   0.5,     1.0,    2.5};
    return kBuckets;
}

void Metrics::Histogram::observe(double v) noexcept {
    const auto& bounds = histogram_buckets();
    std::size_t i = 0;
    while (i < bounds.size() && v > bounds[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
}

Metrics::Series& Metrics::series(std::string_view name, Kind kind) {
    std::lock_guard lock(mutex_);
    kinds_.try_emplace(std::string(family_of(name)), kind);
    auto it = values_.find(name);
    if (it == values_.end()) it = values_.emplace(std::string(name), std::make_unique<Series>()).first;
    return *it->second;
}

Metrics::Series& Metrics::counter(std::string_view name) { return series(name, Kind::Counter); }
Metrics::Series& Metrics::gauge(std::string_view name) { return series(name, Kind::Gauge); }

Metrics::Histogram& Metrics::histogram(std::string_view name) {
    std::lock_guard lock(mutex_);
    kinds_.try_emplace(std::string(family_of(name)), Kind::Histogram);
    auto it = histograms_.find(name);
    if (it == histograms_.end()) {
        it = histograms_.emplace(std::string(name), std::make_unique<Histogram>()).first;
    }
    return *it->second;
}

double Metrics::value(std::string_view name) const {
    std::lock_guard lock(mutex_);
    auto it = values_.find(name);
    return it == values_.end() ? 0.0 : it->second->value();
}

std::map<std::string, double> Metrics::snapshot() const {
    const auto& bounds = histogram_buckets();
    std::lock_guard lock(mutex_);
    std::map<std::string, double> out;
    for (const auto& [name, v] : values_) out[name] = v->value();
    for (const auto& [name, h] : histograms_) {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < h->counts_.size(); ++i) {
            cumulative += h->counts_[i].load(std::memory_order_relaxed);
            const std::string le = i < bounds.size() ? format_bound(bounds[i]) : "+Inf";
            out[bucket_name(name, le)] = static_cast<double>(cumulative);
        }
        out[suffixed(name, "_sum")] = h->sum_.load(std::memory_order_relaxed);
        out[suffixed(name, "_count")] = static_cast<double>(h->count_.load(std::memory_order_relaxed));
    }
    return out;
}

std::map<std::string, Metrics::Kind> Metrics::kinds() const {
    std::lock_guard lock(mutex_);
    return {kinds_.begin(), kinds_.end()};
}

}  // namespace game_data
