/* Test plug-ins: one plain C source (so plugin.h is proven to be C) built several ways by
   tests/cpp/CMakeLists.txt, one per GD_TEST_PLUGIN_* variant:
     OK              adds a change callback that records the C view of the last change
     WRONG_ABI       reports another plug-in ABI version
     NO_ABI          exports no game_data_plugin_abi_version
     NO_ENTRY        exports no game_data_plugin_v1
     REFUSE          adds a change callback, then refuses (returns 7)
     CXX_MISMATCH    registers a backend with another C++ ABI id, and returns the host's answer */
#include <stdatomic.h>
#include <stdio.h>

#include <game_data/plugin.h>

#if defined(GD_TEST_PLUGIN_WRONG_ABI)
GAME_DATA_PLUGIN_EXPORT uint32_t game_data_plugin_abi_version(void) {
    return GAME_DATA_PLUGIN_ABI_VERSION + 1;
}
#elif !defined(GD_TEST_PLUGIN_NO_ABI)
GAME_DATA_PLUGIN_DECLARE_ABI()
#endif

/* Other tests' matchmakers call this from many threads once the plug-in is loaded. */
static atomic_llong changes;
static char last_change[512];

/* Changes this plug-in's callback saw, and the last one as "kind game_id state event_type
   server_id player_id" ("(null)" for each field absent). */
GAME_DATA_PLUGIN_EXPORT long long test_plugin_changes(void) { return atomic_load(&changes); }
GAME_DATA_PLUGIN_EXPORT const char* test_plugin_last_change(void) { return last_change; }

#if !defined(GD_TEST_PLUGIN_NO_ENTRY)
static atomic_flag last_change_lock = ATOMIC_FLAG_INIT;

static const char* or_null(const char* s) { return s ? s : "(null)"; }

static void record_change(const game_data_change* c, void* user_data) {
    atomic_fetch_add((atomic_llong*)user_data, 1);
    while (atomic_flag_test_and_set(&last_change_lock)) {
    }
    snprintf(last_change, sizeof last_change, "%s %s %s %s %s %s", c->kind, c->game_id,
             or_null(c->state), or_null(c->event_type), or_null(c->server_id), or_null(c->player_id));
    atomic_flag_clear(&last_change_lock);
}

GAME_DATA_PLUGIN_EXPORT int game_data_plugin_v1(game_data_plugin_host* host) {
    if (host->abi_version != GAME_DATA_PLUGIN_ABI_VERSION || host->size < sizeof *host) return 1;
    if (host->add_change_callback(host, record_change, &changes) != 0) return 2;
#if defined(GD_TEST_PLUGIN_REFUSE)
    return 7;
#elif defined(GD_TEST_PLUGIN_CXX_MISMATCH)
    return host->register_backend(host, "wrongabi", "game_data 0.0.0; another C++ ABI", &changes);
#else
    host->log(host, GAME_DATA_LOG_DEBUG, "test plug-in loaded");
    return 0;
#endif
}
#endif
