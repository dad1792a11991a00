// Plug-ins (SPEC section 8): loading C ABI plug-ins (plugin.h) into this process, and the
// header-only helpers a C++ plug-in uses to register backends. Loading is thread safe; a
// plug-in stays loaded until the process exits.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "game_data/change.hpp"
#include "game_data/plugin.h"
#include "game_data/store.hpp"
#include "game_data/version.hpp"

#define GAME_DATA_PLUGIN_STRINGIFY_(x) #x
#define GAME_DATA_PLUGIN_STRINGIFY(x) GAME_DATA_PLUGIN_STRINGIFY_(x)
#if defined(_GLIBCXX_USE_CXX11_ABI)
#define GAME_DATA_PLUGIN_STDLIB_ABI "libstdc++ cxx11=" GAME_DATA_PLUGIN_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_ABI_VERSION)
#define GAME_DATA_PLUGIN_STDLIB_ABI "libc++ " GAME_DATA_PLUGIN_STRINGIFY(_LIBCPP_ABI_VERSION)
#else
#define GAME_DATA_PLUGIN_STDLIB_ABI "unknown standard library"
#endif
#if defined(_GLIBCXX_DEBUG)
#define GAME_DATA_PLUGIN_DEBUG_ABI " debug"
#else
#define GAME_DATA_PLUGIN_DEBUG_ABI ""
#endif
// What must match for C++ objects to cross between host and plug-in: the game_data version
// (the layouts of Backend, Url, ConnectOptions...), the compiler's C++ ABI and the standard
// library's. Each side compiles its own; the host compares the plug-in's with its own.
#define GAME_DATA_PLUGIN_CXX_ABI                                                          \
    "game_data " GAME_DATA_VERSION_STRING "; c++ abi " GAME_DATA_PLUGIN_STRINGIFY(        \
        __GXX_ABI_VERSION) "; " GAME_DATA_PLUGIN_STDLIB_ABI GAME_DATA_PLUGIN_DEBUG_ABI

namespace game_data {

// One loaded plug-in: kind "c" (a shared library; source = its absolute path) or "python" (an
// entry point; source = "module:attr", listed by the Python package only).
struct PluginInfo {
    std::string name;
    std::string kind;
    std::string source;
    bool operator==(const PluginInfo&) const = default;
};

// Loads the plug-in at `path` (a file; relative paths are taken from the working directory)
// and calls its entry point. Loading a file loaded before is a no-op that returns the same
// info. Throws PluginError naming the path: no such file, not loadable, a missing symbol,
// another plug-in ABI version, a refusal by the entry point or by the host (a backend built
// against another C++ ABI, a scheme already taken).
PluginInfo load_plugin(const std::string& path);
// Loads each plug-in of GAME_DATA_PLUGINS (paths separated by ':'; empty items skipped), once
// per process: open_store() (so connect()) calls it first. After a failure (PluginError) the
// next call tries again; plug-ins that loaded stay loaded.
void load_plugins_from_env();
// What is loaded, in load order.
std::vector<PluginInfo> loaded_plugins();
// The change callbacks plug-ins added; connect() adds each to every Matchmaker it opens.
std::vector<ChangeCallback> plugin_change_callbacks();

// For C++ plug-ins: the host's services, passing this plug-in's C++ ABI id for the host to
// check (see plugin.h).
namespace plugin {

// Registers `factory` for URLs of `scheme`; false when the host refused it (the reason is
// logged, and the load fails with it if the entry point returns non-zero).
inline bool register_backend(game_data_plugin_host* host, const std::string& scheme,
                             BackendFactory factory) {
    return host->register_backend(host, scheme.c_str(), GAME_DATA_PLUGIN_CXX_ABI, &factory) == 0;
}

// The backend the host opens for `url` (any scheme it knows, built in or registered), for a
// factory that wraps or aliases another backend; nullptr when this plug-in's C++ ABI is not the
// host's. Throws what the host's open throws (InvalidArgument for an unknown scheme, ...).
inline std::shared_ptr<Backend> open_backend(game_data_plugin_host* host, const Url& url,
                                             const ConnectOptions& options) {
    std::shared_ptr<Backend> out;
    if (host->open_backend(host, GAME_DATA_PLUGIN_CXX_ABI, &url, &options, &out) != 0) return nullptr;
    return out;
}

}  // namespace plugin
}  // namespace game_data
