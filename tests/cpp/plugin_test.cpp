// C ABI plug-ins (plugin.h, plugin.hpp) loaded with game_data::load_plugin: the example
// memalias plug-in (a URL scheme and a change callback) and the test plug-ins of
// tests/cpp/plugins/test_plugin.c, built into GD_TEST_PLUGIN_DIR. Plug-ins stay loaded for the
// rest of the process, so every test here holds whether or not another loaded them first.
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/plugin.hpp"

namespace game_data {
namespace {

std::string plugin_path(const std::string& name) {
    return std::string(GD_TEST_PLUGIN_DIR) + "/lib" + name + ".so";
}

std::string unique_name(const std::string& prefix) {
    static std::atomic<int> counter{0};
    return prefix + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

// A function a loaded plug-in exports (plug-ins are loaded RTLD_LOCAL: look it up by handle).
template <typename Fn>
Fn plugin_function(const std::string& path, const char* name) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (handle == nullptr) return nullptr;
    auto fn = reinterpret_cast<Fn>(dlsym(handle, name));
    dlclose(handle);  // drops only the reference RTLD_NOLOAD took
    return fn;
}

// The PluginError load_plugin(path) throws (fails the test if it throws none).
PluginError load_error(const std::string& path) {
    try {
        load_plugin(path);
    } catch (const PluginError& e) {
        return e;
    }
    ADD_FAILURE() << "load_plugin(" << path << ") did not throw";
    return PluginError(path, "");
}

bool listed(const std::string& path) {
    const auto all = loaded_plugins();
    const std::string file = std::filesystem::canonical(path).string();
    return std::any_of(all.begin(), all.end(), [&](const PluginInfo& p) { return p.source == file; });
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Plugins, MemaliasRegistersASchemeThatConnectOpens) {
    load_plugin(plugin_path("memalias_plugin"));
    const std::string name = unique_name("alias");
    Matchmaker aliased = connect("memalias://" + name);
    const Game g = aliased.create_game("alice", 2, "gs-1");
    // memalias://NAME is the host's memory://NAME: the same games.
    Matchmaker direct = connect("memory://" + name);
    ASSERT_TRUE(direct.get_game(g.id));
    EXPECT_EQ(direct.get_game(g.id)->creator_id, "alice");
    const auto schemes = registered_schemes();
    EXPECT_NE(std::find(schemes.begin(), schemes.end(), "memalias"), schemes.end());
}

TEST(Plugins, MemaliasCountsTheChangesOfMatchmakersConnectedAfterwards) {
    const std::string path = plugin_path("memalias_plugin");
    load_plugin(path);
    const auto count = plugin_function<std::int64_t (*)(const char*)>(path, "memalias_change_count");
    ASSERT_NE(count, nullptr);
    Matchmaker mm = connect("memory://");
    const std::int64_t created = count("created"), applied = count("applied"), total = count(nullptr);
    const Game g = mm.create_game("alice", 2, "gs-1");
    Event e;
    e.type = EventType::CreatorJoined;
    e.game_id = g.id;
    e.server_id = "gs-1";
    e.player_id = "alice";
    mm.apply(e);
    mm.apply(e);  // a duplicate: no change
    EXPECT_EQ(count("created") - created, 1);
    EXPECT_EQ(count("applied") - applied, 1);
    EXPECT_EQ(count(nullptr) - total, 2);
}

TEST(Plugins, LoadingTheSameFileAgainIsANoOp) {
    const std::string path = plugin_path("gd_test_plugin_ok");
    const PluginInfo first = load_plugin(path);
    const auto callbacks = plugin_change_callbacks().size();
    // The same file by another path: still the same plug-in, its entry point not called again.
    const std::string other = std::string(GD_TEST_PLUGIN_DIR) + "/./lib" + "gd_test_plugin_ok.so";
    EXPECT_EQ(load_plugin(other), first);
    EXPECT_EQ(load_plugin(path), first);
    EXPECT_EQ(plugin_change_callbacks().size(), callbacks);
    EXPECT_EQ(first.name, "gd_test_plugin_ok");
    EXPECT_EQ(first.kind, "c");
    EXPECT_EQ(first.source, std::filesystem::canonical(path).string());
    EXPECT_TRUE(listed(path));

    const auto changes = plugin_function<long long (*)()>(path, "test_plugin_changes");
    ASSERT_NE(changes, nullptr);
    Matchmaker mm = connect("memory://");
    const long long before = changes();
    mm.create_game("alice", 2, "gs-1");
    EXPECT_EQ(changes() - before, 1);  // one callback, not one per load
}

TEST(Plugins, AChangeCallbackSeesTheCViewOfEachChange) {
    const std::string path = plugin_path("gd_test_plugin_ok");
    load_plugin(path);
    const auto last = plugin_function<const char* (*)()>(path, "test_plugin_last_change");
    ASSERT_NE(last, nullptr);
    Matchmaker mm = connect("memory://");
    mm.create_game(CreateGameRequest{"alice", 2, "gs-1", Metadata{}, "c-view"});
    EXPECT_STREQ(last(), "created c-view created (null) (null) (null)");
    Event e;
    e.type = EventType::CreatorJoined;
    e.game_id = "c-view";
    e.server_id = "gs-1";
    e.player_id = "alice";
    mm.apply(e);
    EXPECT_STREQ(last(), "applied c-view creator_joined creator_joined gs-1 alice");
    mm.reserve_seat("c-view", "bob");
    EXPECT_STREQ(last(), "reserved c-view (null) (null) (null) (null)");
}

TEST(Plugins, AnotherPluginAbiVersionIsRefusedNamingThePathAndBothVersions) {
    const std::string path = plugin_path("gd_test_plugin_wrong_abi");
    const PluginError e = load_error(path);
    EXPECT_EQ(e.path(), path);
    EXPECT_TRUE(contains(e.what(), path)) << e.what();
    EXPECT_TRUE(contains(e.what(), "plug-in ABI version " + std::to_string(GAME_DATA_PLUGIN_ABI_VERSION + 1)))
        << e.what();
    EXPECT_TRUE(contains(e.what(), "loads ABI version " + std::to_string(GAME_DATA_PLUGIN_ABI_VERSION)))
        << e.what();
    EXPECT_FALSE(listed(path));
}

TEST(Plugins, ALibraryWithoutTheAbiSymbolIsNotAPlugin) {
    const std::string path = plugin_path("gd_test_plugin_no_abi");
    const PluginError e = load_error(path);
    EXPECT_TRUE(contains(e.what(), path)) << e.what();
    EXPECT_TRUE(contains(e.what(), "game_data_plugin_abi_version")) << e.what();
    EXPECT_FALSE(listed(path));
}

TEST(Plugins, ALibraryWithoutTheEntryPointIsRefused) {
    const std::string path = plugin_path("gd_test_plugin_no_entry");
    const PluginError e = load_error(path);
    EXPECT_TRUE(contains(e.what(), path)) << e.what();
    EXPECT_TRUE(contains(e.what(), "game_data_plugin_v1")) << e.what();
}

TEST(Plugins, AMissingFileIsAPluginErrorNamingThePath) {
    const std::string path = std::string(GD_TEST_PLUGIN_DIR) + "/libno_such_plugin.so";
    const PluginError e = load_error(path);
    EXPECT_EQ(e.path(), path);
    EXPECT_TRUE(contains(e.what(), path + ": no such file")) << e.what();
    EXPECT_THROW(load_plugin(""), PluginError);
    EXPECT_THROW(load_plugin(GD_TEST_PLUGIN_DIR), PluginError);  // a directory
    // A GameDataError like every error of the library.
    EXPECT_THROW(load_plugin(path), GameDataError);
}

TEST(Plugins, AnEntryPointThatRefusesKeepsNothingItRegistered) {
    const std::string path = plugin_path("gd_test_plugin_refuse");
    const auto callbacks = plugin_change_callbacks().size();
    const PluginError e = load_error(path);
    EXPECT_TRUE(contains(e.what(), "refused to load (game_data_plugin_v1 returned 7)")) << e.what();
    EXPECT_EQ(plugin_change_callbacks().size(), callbacks);
    EXPECT_FALSE(listed(path));
    EXPECT_THROW(load_plugin(path), PluginError);  // refused again: a failed load is not recorded
}

TEST(Plugins, ABackendFromAnotherCxxAbiIsRefusedWithTheReason) {
    const std::string path = plugin_path("gd_test_plugin_cxx_mismatch");
    const PluginError e = load_error(path);
    EXPECT_TRUE(contains(e.what(), "another C++ ABI")) << e.what();
    EXPECT_TRUE(contains(e.what(), GAME_DATA_PLUGIN_CXX_ABI)) << e.what();
    const auto schemes = registered_schemes();
    EXPECT_EQ(std::find(schemes.begin(), schemes.end(), "wrongabi"), schemes.end());
    EXPECT_THROW(connect("wrongabi://x"), InvalidArgument);
}

}  // namespace
}  // namespace game_data
