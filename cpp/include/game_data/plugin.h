/* game_data's plug-in ABI, plain C (SPEC section 8).

   A plug-in is a shared library that exports two functions:

       GAME_DATA_PLUGIN_DECLARE_ABI()        the ABI it was built for (defines
                                             game_data_plugin_abi_version)
       int game_data_plugin_v1(game_data_plugin_host* host)
                                             called once when it is loaded; 0 accepts, anything
                                             else refuses the load (nothing it registered is kept)

   It is loaded by game_data::load_plugin(path) (C++), game_data.load_plugin(path) (Python), or
   from GAME_DATA_PLUGINS (paths separated by ':') at the first connect. The host refuses a
   plug-in whose game_data_plugin_abi_version() is not its GAME_DATA_PLUGIN_ABI_VERSION, and a
   library without these symbols, with game_data::PluginError (Python game_data.PluginError).
   Plug-ins stay loaded until the process exits.

   Change callbacks and logging need only this header, from C or any language with a C FFI.
   Registering a backend hands the host a C++ object (game_data::Backend), so backend plug-ins
   are C++ built against the same game_data version and C++ ABI as the host: use the helpers of
   game_data/plugin.hpp, which pass the plug-in's C++ ABI id for the host to check. */
#ifndef GAME_DATA_PLUGIN_H
#define GAME_DATA_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this ABI; raised whenever the host structure or a signature below changes
   in a way old plug-ins cannot follow (fields are only ever appended within one version). */
#define GAME_DATA_PLUGIN_ABI_VERSION 1

#if defined(_WIN32)
#define GAME_DATA_PLUGIN_EXPORT __declspec(dllexport)
#else
#define GAME_DATA_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* Levels of game_data_plugin_host.log (spdlog's). */
enum {
    GAME_DATA_LOG_TRACE = 0,
    GAME_DATA_LOG_DEBUG = 1,
    GAME_DATA_LOG_INFO = 2,
    GAME_DATA_LOG_WARN = 3,
    GAME_DATA_LOG_ERROR = 4,
    GAME_DATA_LOG_CRITICAL = 5
};

/* A committed change, as a change callback sees it. Strings are NUL-terminated and valid only
   during the call; NULL where absent. */
typedef struct game_data_change {
    const char* kind;       /* "created", "applied", "reserved", "reservation_cancelled", "reaped" */
    const char* game_id;
    const char* state;      /* wire name of the game's state after the change ("in_progress"), or NULL */
    const char* event_type; /* applied: the event's wire name ("game_started"); else NULL */
    const char* server_id;  /* applied: the event's server; else NULL */
    const char* player_id;  /* applied: the event's player, if it names one; else NULL */
} game_data_change;

/* Runs in the thread that made the change, after it was committed; must not unwind. */
typedef void (*game_data_change_callback)(const game_data_change* change, void* user_data);

typedef struct game_data_plugin_host game_data_plugin_host;

/* What the host hands the entry point. The pointer stays valid for the life of the process. */
struct game_data_plugin_host {
    uint32_t abi_version;    /* the host's GAME_DATA_PLUGIN_ABI_VERSION */
    uint32_t size;           /* sizeof(game_data_plugin_host) in the host */
    const char* version;     /* the host's game_data version, e.g. "0.1.0" */
    const char* cxx_abi;     /* the host's C++ ABI id (GAME_DATA_PLUGIN_CXX_ABI of plugin.hpp) */
    const char* plugin_path; /* the file this plug-in was loaded from */
    void* context;           /* the host's own; do not touch */

    /* Logs `message` through game_data's logger as "plug-in <name>: <message>". Any thread,
       any time. */
    void (*log)(game_data_plugin_host* host, int level, const char* message);

    /* Adds fn(change, user_data) to every Matchmaker that connect() opens from now on. Only
       during game_data_plugin_v1; 0 on success. */
    int (*add_change_callback)(game_data_plugin_host* host, game_data_change_callback fn,
                               void* user_data);

    /* C++ plug-ins only, through game_data::plugin::register_backend (plugin.hpp): registers
       `factory` (a const game_data::BackendFactory*, copied) for URLs of `scheme`. Non-zero
       (the reason logged, and given by the load's PluginError) when cxx_abi is not the host's,
       or the scheme is malformed or taken. Only during game_data_plugin_v1. */
    int (*register_backend)(game_data_plugin_host* host, const char* scheme, const char* cxx_abi,
                            const void* factory);

    /* C++ plug-ins only, through game_data::plugin::open_backend (plugin.hpp): opens the
       backend the host serves for `url` (const game_data::Url*) with `options` (const
       game_data::ConnectOptions*) into `out` (std::shared_ptr<game_data::Backend>*). Non-zero,
       touching nothing, when cxx_abi is not the host's; otherwise 0, or the host's
       game_data exception passes through. Any time. */
    int (*open_backend)(game_data_plugin_host* host, const char* cxx_abi, const void* url,
                        const void* options, void* out);
};

/* The entry point every plug-in exports. */
GAME_DATA_PLUGIN_EXPORT int game_data_plugin_v1(game_data_plugin_host* host);
/* The plug-in ABI the plug-in was built for: define it with GAME_DATA_PLUGIN_DECLARE_ABI(). */
GAME_DATA_PLUGIN_EXPORT uint32_t game_data_plugin_abi_version(void);

#define GAME_DATA_PLUGIN_DECLARE_ABI()                                   \
    GAME_DATA_PLUGIN_EXPORT uint32_t game_data_plugin_abi_version(void) { \
        return GAME_DATA_PLUGIN_ABI_VERSION;                             \
    }

#ifdef __cplusplus
}
#endif

#endif /* GAME_DATA_PLUGIN_H */
