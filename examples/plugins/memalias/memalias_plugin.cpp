// An example game_data plug-in, in C++: registers the URL scheme memalias://NAME, which opens
// the host's named in-process backend memory://NAME (so both URLs reach the same games), and a
// change callback that counts every change by kind, read back with memalias_change_count().
//
// It uses game_data's headers only: what it needs at run time (opening memory://NAME) comes
// through the plug-in host, so the plug-in links no copy of the library. Registering a backend
// passes C++ objects, so it must be built against the host's game_data version (checked at
// load: see game_data/plugin.hpp).
#include <atomic>
#include <cstdint>
#include <cstring>

#include <game_data/plugin.hpp>

namespace {

constexpr const char* kKinds[] = {"created", "applied", "reserved", "reservation_cancelled", "reaped"};
constexpr std::size_t kKindCount = sizeof(kKinds) / sizeof(kKinds[0]);

struct Counters {
    std::atomic<std::int64_t> total{0};
    std::atomic<std::int64_t> by_kind[kKindCount] = {};
};

Counters counters;

// A C callback (plugin.h): it sees the C view of each change.
void count_change(const game_data_change* change, void* user_data) {
    auto* c = static_cast<Counters*>(user_data);
    c->total.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < kKindCount; ++i) {
        if (std::strcmp(change->kind, kKinds[i]) == 0) c->by_kind[i].fetch_add(1, std::memory_order_relaxed);
    }
}

}  // namespace

extern "C" {

GAME_DATA_PLUGIN_DECLARE_ABI()

GAME_DATA_PLUGIN_EXPORT int game_data_plugin_v1(game_data_plugin_host* host) {
    const bool registered = game_data::plugin::register_backend(
        host, "memalias", [host](const game_data::Url& url, const game_data::ConnectOptions& options) {
            game_data::Url target = url;  // memalias://NAME?opts -> memory://NAME?opts
            target.scheme = "memory";
            return game_data::plugin::open_backend(host, target, options);
        });
    if (!registered) return 1;  // the host logged why; the load fails with that reason
    if (host->add_change_callback(host, count_change, &counters) != 0) return 2;
    host->log(host, GAME_DATA_LOG_INFO, "memalias:// opens memory://; counting changes");
    return 0;
}

// Changes seen since the plug-in was loaded: of one kind ("created", ...), or all (NULL).
GAME_DATA_PLUGIN_EXPORT std::int64_t memalias_change_count(const char* kind) {
    if (kind == nullptr) return counters.total.load();
    for (std::size_t i = 0; i < kKindCount; ++i) {
        if (std::strcmp(kind, kKinds[i]) == 0) return counters.by_kind[i].load();
    }
    return -1;
}

}  // extern "C"
