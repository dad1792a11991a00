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

const std::vector<double>& Metrics::histogram_buckets() {
    static const std::vector<double> kBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                 0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                                 0.5,     1.0,    2.5};
    return kBuckets;
}

void Metrics::add(std::string_view name, double delta) {
    std::lock_guard lock(mutex_);
    kinds_.try_emplace(std::string(family_of(name)), Kind::Counter);
    auto it = values_.find(name);
    if (it == values_.end()) it = values_.emplace(std::string(name), 0.0).first;
    it->second += delta;
}

void Metrics::set(std::string_view name, double value) {
    std::lock_guard lock(mutex_);
    kinds_.try_emplace(std::string(family_of(name)), Kind::Gauge);
    auto it = values_.find(name);
    if (it == values_.end()) it = values_.emplace(std::string(name), 0.0).first;
    it->second = value;
}

void Metrics::observe(std::string_view name, double value) {
    const auto& bounds = histogram_buckets();
    std::lock_guard lock(mutex_);
    kinds_.try_emplace(std::string(family_of(name)), Kind::Histogram);
    auto it = histograms_.find(name);
    if (it == histograms_.end()) {
        it = histograms_.emplace(std::string(name), Histogram{}).first;
        it->second.counts.assign(bounds.size() + 1, 0);
    }
    std::size_t i = 0;
    while (i < bounds.size() && value > bounds[i]) ++i;
    ++it->second.counts[i];
    it->second.sum += value;
    ++it->second.count;
}

double Metrics::value(std::string_view name) const {
    std::lock_guard lock(mutex_);
    auto it = values_.find(name);
    return it == values_.end() ? 0.0 : it->second;
}

std::map<std::string, double> Metrics::snapshot() const {
    const auto& bounds = histogram_buckets();
    std::lock_guard lock(mutex_);
    std::map<std::string, double> out(values_.begin(), values_.end());
    for (const auto& [name, h] : histograms_) {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < h.counts.size(); ++i) {
            cumulative += h.counts[i];
            const std::string le = i < bounds.size() ? format_bound(bounds[i]) : "+Inf";
            out[bucket_name(name, le)] = static_cast<double>(cumulative);
        }
        out[suffixed(name, "_sum")] = h.sum;
        out[suffixed(name, "_count")] = static_cast<double>(h.count);
    }
    return out;
}

std::map<std::string, Metrics::Kind> Metrics::kinds() const {
    std::lock_guard lock(mutex_);
    return {kinds_.begin(), kinds_.end()};
}

}  // namespace game_data
