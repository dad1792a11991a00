#include <map>
#include <mutex>

#include "game_data/errors.hpp"
#include "game_data/plugin.hpp"
#include "game_data/store.hpp"

namespace game_data {
namespace {

struct Registry {
    std::mutex mutex;
    std::map<std::string, BackendFactory> factories;

    Registry() {
        factories["memory"] = make_memory_backend;
        factories["redis"] = make_redis_backend;
        factories["rediss"] = make_redis_backend;
        factories["unix"] = make_redis_backend;
    }
};

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace

void register_backend(const std::string& scheme, BackendFactory factory) {
    if (scheme.empty() || !factory) throw InvalidArgument("register_backend needs a scheme and a factory");
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    if (!r.factories.emplace(scheme, std::move(factory)).second) {
        throw InvalidArgument("a backend is already registered for scheme '" + scheme + "'");
    }
}

std::shared_ptr<Backend> open_backend(const Url& url, const ConnectOptions& options) {
    BackendFactory factory;
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
    auto backend = factory(url, options);
    if (!backend) throw BackendError("the backend factory of scheme '" + url.scheme + "' returned none");
    return backend;
}

std::shared_ptr<Store> open_store(const Url& url, const ConnectOptions& options) {
    load_plugins_from_env();
    return std::make_shared<Store>(open_backend(url, options), options);
}

std::shared_ptr<Store> make_memory_store(const Url& url, const ConnectOptions& options) {
    return std::make_shared<Store>(make_memory_backend(url, options), options);
}

std::shared_ptr<Store> make_redis_store(const Url& url, const ConnectOptions& options) {
    return std::make_shared<Store>(make_redis_backend(url, options), options);
}

std::vector<std::string> registered_schemes() {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    std::vector<std::string> out;
    for (const auto& [name, _] : r.factories) out.push_back(name);
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
