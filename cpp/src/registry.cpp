#include <map>
#include <mutex>

#include "game_data/errors.hpp"
#include "game_data/store.hpp"

namespace game_data {
namespace {

struct Registry {
    std::mutex mutex;
    std::map<std::string, StoreFactory> factories;

    Registry() {
        factories["memory"] = make_memory_store;
        factories["redis"] = make_redis_store;
        factories["rediss"] = make_redis_store;
        factories["unix"] = make_redis_store;
    }
};

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace

void register_store(const std::string& scheme, StoreFactory factory) {
    if (scheme.empty() || !factory) throw InvalidArgument("register_store needs a scheme and a factory");
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    if (!r.factories.emplace(scheme, std::move(factory)).second) {
        throw InvalidArgument("a store is already registered for scheme '" + scheme + "'");
    }
}

std::shared_ptr<Store> open_store(const Url& url, const ConnectOptions& options) {
    StoreFactory factory;
    {
        auto& r = registry();
        std::lock_guard lock(r.mutex);
        auto it = r.factories.find(url.scheme);
        if (it == r.factories.end()) {
            std::string known;
            for (const auto& [name, _] : r.factories) known += (known.empty() ? "" : ", ") + name;
            throw InvalidArgument("unknown URL scheme '" + url.scheme + "' (known: " + known + ")");
        }
        factory = it->second;
    }
    return factory(url, options);
}

std::vector<std::string> registered_schemes() {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    std::vector<std::string> out;
    for (const auto& [name, _] : r.factories) out.push_back(name);
    return out;
}

std::vector<ApplyResult> Store::apply_many(std::span<const Event> events, std::int64_t now_ms) {
    std::vector<ApplyResult> out;
    out.reserve(events.size());
    for (const auto& e : events) out.push_back(apply(e, now_ms));
    return out;
}

std::vector<std::string> StreamTransport::add_many(const std::string& stream,
                                                   const std::vector<Fields>& entries,
                                                   std::int64_t maxlen) {
    std::vector<std::string> ids;
    ids.reserve(entries.size());
    for (const auto& f : entries) ids.push_back(add(stream, f, maxlen));
    return ids;
}

}  // namespace game_data
