// The plug-in host: loads C ABI plug-ins (plugin.h) with dlopen, hands each a
// game_data_plugin_host, and keeps what the entry point registered only when it accepts.
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "game_data/errors.hpp"
#include "game_data/logging.hpp"
#include "game_data/plugin.hpp"

namespace game_data {
namespace {

constexpr const char* kHostCxxAbi = GAME_DATA_PLUGIN_CXX_ABI;

// What one entry point call registered: committed only if it returns 0.
struct PendingLoad {
    std::vector<std::pair<std::string, BackendFactory>> backends;
    std::vector<ChangeCallback> callbacks;
    std::string refusal;  // why the host refused a registration (for the PluginError)
};

// Behind game_data_plugin_host::context; lives as long as the plug-in.
struct HostState {
    std::string name;
    std::string path;
    PendingLoad* pending = nullptr;  // set during the entry point call only
};

struct LoadedPlugin {
    PluginInfo info;
    std::filesystem::path file;  // canonical
    void* handle = nullptr;
    std::unique_ptr<HostState> state;
    std::unique_ptr<game_data_plugin_host> host;
};

struct Plugins {
    // One load at a time; recursive so that an entry point may load another plug-in or connect.
    std::recursive_mutex mutex;
    std::vector<std::unique_ptr<LoadedPlugin>> loaded;  // never unloaded
    std::vector<std::filesystem::path> in_progress;
    std::vector<ChangeCallback> callbacks;
    std::atomic<bool> env_loaded{false};
    bool env_loading = false;
};

Plugins& plugins() {
    static Plugins* p = new Plugins();  // never destroyed: plug-in code may run until exit
    return *p;
}

HostState& state_of(game_data_plugin_host* host) { return *static_cast<HostState*>(host->context); }

// "libmemalias_plugin.so" -> "memalias_plugin".
std::string plugin_name(const std::filesystem::path& file) {
    std::string name = file.filename().string();
    if (const auto dot = name.find('.'); dot != std::string::npos && dot > 0) name.resize(dot);
    if (name.size() > 3 && name.starts_with("lib")) name.erase(0, 3);
    return name;
}

// A C++ object may cross only between builds whose ids are equal.
bool same_cxx_abi(HostState& s, const char* cxx_abi, const char* what) {
    if (cxx_abi != nullptr && std::string_view(cxx_abi) == kHostCxxAbi) return true;
    const std::string reason =
        std::string(what) + " needs a plug-in built against this game_data and C++ ABI (\"" +
        kHostCxxAbi + "\"); this one was built for \"" + (cxx_abi ? cxx_abi : "(none)") +
        "\": rebuild it against this version";
    logger()->error("plug-in {}: {}", s.name, reason);
    if (s.pending) s.pending->refusal = reason;
    return false;
}

void host_log(game_data_plugin_host* host, int level, const char* message) {
    if (host == nullptr || message == nullptr) return;
    try {
        const int clamped = level < GAME_DATA_LOG_TRACE      ? GAME_DATA_LOG_TRACE
                            : level > GAME_DATA_LOG_CRITICAL ? GAME_DATA_LOG_CRITICAL
                                                             : level;
        logger()->log(static_cast<spdlog::level::level_enum>(clamped), "plug-in {}: {}",
                      state_of(host).name, message);
    } catch (...) {
        // Logging never fails the plug-in.
    }
}

// The C view of a change; the strings it points to live in `self` for the call.
struct CChange {
    std::string kind, state, event_type;
    game_data_change view{};

    explicit CChange(const Change& c) : kind(to_string(c.kind)) {
        view.kind = kind.c_str();
        view.game_id = c.game_id.c_str();
        if (c.state) {
            state = to_string(*c.state);
            view.state = state.c_str();
        }
        if (c.event) {
            event_type = to_string(c.event->type);
            view.event_type = event_type.c_str();
            view.server_id = c.event->server_id.c_str();
            view.player_id = c.event->player_id ? c.event->player_id->c_str() : nullptr;
        }
    }
};

int host_add_change_callback(game_data_plugin_host* host, game_data_change_callback fn,
                             void* user_data) {
    if (host == nullptr) return -1;
    HostState& s = state_of(host);
    if (s.pending == nullptr || fn == nullptr) {
        logger()->error("plug-in {}: add_change_callback refused: {}", s.name,
                        fn ? "only during game_data_plugin_v1" : "no function given");
        return -1;
    }
    try {
        s.pending->callbacks.push_back([fn, user_data](const Change& change) {
            const CChange c(change);
            fn(&c.view, user_data);
        });
        return 0;
    } catch (...) {
        return -1;
    }
}

int host_register_backend(game_data_plugin_host* host, const char* scheme, const char* cxx_abi,
                          const void* factory) {
    if (host == nullptr) return -1;
    HostState& s = state_of(host);
    try {
        if (!same_cxx_abi(s, cxx_abi, "registering a backend")) return -1;
        auto refuse = [&](const std::string& reason) {
            logger()->error("plug-in {}: {}", s.name, reason);
            if (s.pending) s.pending->refusal = reason;
            return -1;
        };
        if (s.pending == nullptr) return refuse("register_backend: only during game_data_plugin_v1");
        if (scheme == nullptr || factory == nullptr) return refuse("register_backend needs a scheme and a factory");
        const std::string name(scheme);
        bool valid = false;
        try {
            valid = Url::parse(name + "://").scheme == name;  // the URL parser's own scheme rule
        } catch (const InvalidArgument&) {
        }
        if (!valid) return refuse("register_backend: '" + name + "' is not a URL scheme");
        const auto taken = registered_schemes();
        bool pending_taken = false;
        for (const auto& [other, _] : s.pending->backends) pending_taken = pending_taken || other == name;
        if (pending_taken || std::find(taken.begin(), taken.end(), name) != taken.end()) {
            return refuse("register_backend: a backend is already registered for scheme '" + name + "'");
        }
        s.pending->backends.emplace_back(name, *static_cast<const BackendFactory*>(factory));
        return 0;
    } catch (...) {
        return -1;
    }
}

int host_open_backend(game_data_plugin_host* host, const char* cxx_abi, const void* url,
                      const void* options, void* out) {
    if (host == nullptr || url == nullptr || options == nullptr || out == nullptr) return -1;
    if (!same_cxx_abi(state_of(host), cxx_abi, "open_backend")) return -1;
    // Same C++ ABI: the objects are ours, and so may be the exceptions that pass through.
    *static_cast<std::shared_ptr<Backend>*>(out) =
        open_backend(*static_cast<const Url*>(url), *static_cast<const ConnectOptions*>(options));
    return 0;
}

struct LibraryCloser {
    void operator()(void* handle) const noexcept { dlclose(handle); }
};

template <typename Fn>
Fn symbol(void* handle, const char* name) {
    return reinterpret_cast<Fn>(dlsym(handle, name));
}

// dlopen, check, call the entry point, commit into p.loaded. Under the plug-ins mutex.
const PluginInfo& load_new(Plugins& p, const std::string& path, const std::filesystem::path& file) {
    auto fail = [&](const std::string& why) { return PluginError(path, "plug-in " + path + ": " + why); };
    dlerror();
    std::unique_ptr<void, LibraryCloser> handle(dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL));
    if (!handle) {
        const char* err = dlerror();
        throw fail(std::string("cannot be loaded: ") + (err ? err : "dlopen failed"));
    }
    const auto abi = symbol<std::uint32_t (*)()>(handle.get(), "game_data_plugin_abi_version");
    if (abi == nullptr) {
        throw fail("does not export game_data_plugin_abi_version (define it with "
                   "GAME_DATA_PLUGIN_DECLARE_ABI() of game_data/plugin.h): not a game_data plug-in");
    }
    if (const std::uint32_t version = abi(); version != GAME_DATA_PLUGIN_ABI_VERSION) {
        throw fail("built for plug-in ABI version " + std::to_string(version) + ", but game_data " +
                   GAME_DATA_VERSION_STRING + " loads ABI version " +
                   std::to_string(GAME_DATA_PLUGIN_ABI_VERSION) + " only: rebuild it against this version");
    }
    const auto entry = symbol<int (*)(game_data_plugin_host*)>(handle.get(), "game_data_plugin_v1");
    if (entry == nullptr) throw fail("does not export game_data_plugin_v1");

    auto loaded = std::make_unique<LoadedPlugin>();
    loaded->file = file;
    loaded->info = PluginInfo{plugin_name(file), "c", file.string()};
    loaded->state = std::make_unique<HostState>();
    loaded->state->name = loaded->info.name;
    loaded->state->path = path;
    loaded->host = std::make_unique<game_data_plugin_host>();
    game_data_plugin_host& host = *loaded->host;
    host.abi_version = GAME_DATA_PLUGIN_ABI_VERSION;
    host.size = sizeof(game_data_plugin_host);
    host.version = GAME_DATA_VERSION_STRING;
    host.cxx_abi = kHostCxxAbi;
    host.plugin_path = loaded->state->path.c_str();
    host.context = loaded->state.get();
    host.log = host_log;
    host.add_change_callback = host_add_change_callback;
    host.register_backend = host_register_backend;
    host.open_backend = host_open_backend;

    PendingLoad pending;
    loaded->state->pending = &pending;
    int rc = 0;
    try {
        rc = entry(&host);
    } catch (const std::exception& e) {
        loaded->state->pending = nullptr;
        throw fail(std::string("game_data_plugin_v1 threw: ") + e.what());
    } catch (...) {
        loaded->state->pending = nullptr;
        throw fail("game_data_plugin_v1 threw");
    }
    loaded->state->pending = nullptr;
    if (rc != 0) {
        throw fail("refused to load (game_data_plugin_v1 returned " + std::to_string(rc) + ")" +
                   (pending.refusal.empty() ? "" : ": " + pending.refusal));
    }
    // From here on the library is never closed, and its host state never freed: its code is
    // registered.
    loaded->handle = handle.release();
    p.loaded.push_back(std::move(loaded));
    const LoadedPlugin& l = *p.loaded.back();
    for (auto& callback : pending.callbacks) p.callbacks.push_back(std::move(callback));
    std::string lost;
    for (auto& [scheme, factory] : pending.backends) {
        try {
            register_backend(scheme, std::move(factory));
        } catch (const InvalidArgument& e) {  // registered directly since the check: a race
            lost += (lost.empty() ? "" : "; ") + std::string(e.what());
        }
    }
    if (!lost.empty()) throw fail("loaded, but " + lost);
    logger()->debug("loaded plug-in {} from {} ({} backends, {} change callbacks)", l.info.name,
                    l.info.source, pending.backends.size(), pending.callbacks.size());
    return l.info;
}

}  // namespace

PluginInfo load_plugin(const std::string& path) {
    if (path.empty()) throw PluginError(path, "load_plugin needs the path of a plug-in");
    std::error_code ec;
    const std::filesystem::path file = std::filesystem::canonical(path, ec);
    if (ec || !std::filesystem::is_regular_file(file, ec)) {
        throw PluginError(path, "plug-in " + path + ": no such file");
    }
    Plugins& p = plugins();
    std::lock_guard lock(p.mutex);
    for (const auto& l : p.loaded) {
        if (l->file == file) return l->info;
    }
    if (std::find(p.in_progress.begin(), p.in_progress.end(), file) != p.in_progress.end()) {
        throw PluginError(path, "plug-in " + path + " is being loaded already (its entry point loads it again)");
    }
    p.in_progress.push_back(file);
    try {
        PluginInfo info = load_new(p, path, file);
        p.in_progress.pop_back();
        return info;
    } catch (...) {
        p.in_progress.pop_back();
        throw;
    }
}

void load_plugins_from_env() {
    Plugins& p = plugins();
    if (p.env_loaded.load(std::memory_order_acquire)) return;
    std::lock_guard lock(p.mutex);
    if (p.env_loaded.load() || p.env_loading) return;  // env_loading: a plug-in's own connect
    p.env_loading = true;
    try {
        if (const char* env = std::getenv("GAME_DATA_PLUGINS")) {
            std::string_view rest(env);
            while (!rest.empty()) {
                const auto colon = rest.find(':');
                const std::string item(rest.substr(0, colon));
                rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
                if (!item.empty()) load_plugin(item);
            }
        }
    } catch (...) {
        p.env_loading = false;
        throw;
    }
    p.env_loading = false;
    p.env_loaded.store(true, std::memory_order_release);
}

std::vector<PluginInfo> loaded_plugins() {
    Plugins& p = plugins();
    std::lock_guard lock(p.mutex);
    std::vector<PluginInfo> out;
    out.reserve(p.loaded.size());
    for (const auto& l : p.loaded) out.push_back(l->info);
    return out;
}

std::vector<ChangeCallback> plugin_change_callbacks() {
    Plugins& p = plugins();
    std::lock_guard lock(p.mutex);
    return p.callbacks;
}

}  // namespace game_data
