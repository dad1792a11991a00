// A minimal game server + matchmaker on the embedded backend, through the installed package;
// given the path of the example memalias plug-in, it loads it and opens memalias://.
#include <game_data/game_data.hpp>
#include <game_data/version.hpp>

#if !defined(GAME_DATA_VERSION_MAJOR) || !defined(GAME_DATA_VERSION_MINOR) || \
    !defined(GAME_DATA_VERSION_PATCH) || GAME_DATA_VERSION < 100  // 0.1.0 is 100
#error "game_data/version.hpp lacks the GAME_DATA_VERSION_* macros"
#endif

// The installed public headers stay lean: no JSON library, no Redis client, no logger.
#if defined(NLOHMANN_JSON_VERSION_MAJOR) || defined(HIREDIS_MAJOR) || defined(SPDLOG_VERSION)
#error "game_data/game_data.hpp pulls in nlohmann/json, hiredis or spdlog"
#endif

#include <string_view>

int main(int argc, char** argv) {
    if (argc > 1) game_data::load_plugin(argv[1]);
    auto mm = game_data::connect(argc > 1 ? "memalias://consumer" : "memory://");
    auto game = mm.create_game("alice", 4, "gs-1", {{"mode", "duel"}});
    auto pub = mm.publisher("gs-1");
    pub.creator_joined(game.id, "alice");
    game_data::ConsumerOptions options;
    options.name = "mm-1";
    auto consumer = mm.consumer(options);
    auto results = consumer.poll(100, 0);
    const bool ok = std::string_view(GAME_DATA_VERSION_STRING) == GAME_DATA_PACKAGE_VERSION &&
                    results.size() == 1 && results[0].status == game_data::ApplyStatus::Applied &&
                    mm.get_open_games(50).size() == 1;
    return ok ? 0 : 1;
}
