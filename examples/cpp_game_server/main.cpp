// A game server that hosts the games a matchmaker created on it and publishes their events.
//
//   cpp_game_server URL SERVER_ID [--namespace NS] GAME_ID...
//
// The games follow a fixed script, by their place on the command line (cycling), so a run
// shows every path of the lifecycle: the 1st is played to the end (ended, removed), the 2nd
// starts and keeps running (active), the 3rd has its creator waiting in the lobby for
// players (open), and the 4th's creator never connects (pending, until the matchmaker reaps
// it). It reads each game's creator and capacity from the matchmaker's record.
#include <game_data/game_data.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace {

enum class Script { PlayToEnd, KeepRunning, WaitInLobby, CreatorNeverComes };

const char* name(Script s) {
    switch (s) {
        case Script::PlayToEnd: return "played to the end";
        case Script::KeepRunning: return "running";
        case Script::WaitInLobby: return "waiting in the lobby";
        case Script::CreatorNeverComes: return "creator never came";
    }
    return "";
}

void play(game_data::EventPublisher& pub, const game_data::Game& game, Script script) {
    if (script == Script::CreatorNeverComes) return;
    pub.creator_joined(game.id, game.creator_id);
    if (script == Script::WaitInLobby) return;
    for (int seat = 1; seat < game.capacity; ++seat) {
        pub.player_joined(game.id, game.id + "-p" + std::to_string(seat));
    }
    pub.all_players_joined(game.id);
    pub.game_started(game.id);
    pub.heartbeat(game.id);
    if (script == Script::PlayToEnd) pub.game_ended(game.id);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s URL SERVER_ID [--namespace NS] GAME_ID...\n", argv[0]);
        return 2;
    }
    const std::string url = argv[1];
    const std::string server_id = argv[2];
    std::string ns = "gd";
    std::vector<std::string> games;
    for (int i = 3; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--namespace" && i + 1 < argc) {
            ns = argv[++i];
        } else {
            games.push_back(arg);
        }
    }
    try {
        game_data::ConnectOptions options;
        options.ns = ns;
        auto records = game_data::connect(url, options);  // to read each game's creator and capacity
        game_data::EventPublisher pub(url, server_id, {}, 0, true, ns);  // writes <ns>:events
        const Script scripts[] = {Script::PlayToEnd, Script::KeepRunning, Script::WaitInLobby,
                                  Script::CreatorNeverComes};
        for (std::size_t i = 0; i < games.size(); ++i) {
            auto game = records.get_game(games[i]);
            if (!game) throw game_data::GameNotFound("no game " + games[i]);
            const Script script = scripts[i % 4];
            play(pub, *game, script);
            std::printf("%s %s\n", game->id.c_str(), name(script));
        }
    } catch (const std::exception& err) {
        std::fprintf(stderr, "cpp_game_server: %s\n", err.what());
        return 1;
    }
    return 0;
}
