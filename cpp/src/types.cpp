#include "game_data/types.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>

#include "game_data/errors.hpp"
#include "game_data/json.hpp"
#include "game_data/validation.hpp"

namespace game_data {
namespace {

constexpr std::array<std::string_view, 5> kStateNames = {"created", "creator_joined",
                                                         "all_players_joined", "in_progress",
                                                         "ended"};
constexpr std::array<std::string_view, 7> kEventNames = {
    "creator_joined", "player_joined", "player_left", "all_players_joined",
    "game_started",   "game_ended",    "heartbeat"};
constexpr std::array<std::string_view, 3> kStatusNames = {"applied", "duplicate", "rejected"};
constexpr std::array<std::string_view, 3> kSetNames = {"pending", "lobby", "active"};

template <typename Enum, std::size_t N>
std::optional<Enum> parse_name(const std::array<std::string_view, N>& names,
                               std::string_view s) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
        if (names[i] == s) return static_cast<Enum>(i);
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(GameState s) noexcept { return kStateNames[static_cast<std::size_t>(s)]; }
std::string_view to_string(EventType t) noexcept { return kEventNames[static_cast<std::size_t>(t)]; }
std::string_view to_string(ApplyStatus s) noexcept {
    return kStatusNames[static_cast<std::size_t>(s)];
}
std::string_view to_string(GameSet s) noexcept { return kSetNames[static_cast<std::size_t>(s)]; }

std::optional<GameState> parse_game_state(std::string_view s) noexcept {
    return parse_name<GameState>(kStateNames, s);
}
std::optional<EventType> parse_event_type(std::string_view s) noexcept {
    return parse_name<EventType>(kEventNames, s);
}
std::optional<ApplyStatus> parse_apply_status(std::string_view s) noexcept {
    return parse_name<ApplyStatus>(kStatusNames, s);
}

std::optional<GameSet> set_of(GameState s) noexcept {
    switch (s) {
        case GameState::Created: return GameSet::Pending;
        case GameState::CreatorJoined:
        case GameState::AllPlayersJoined: return GameSet::Lobby;
        case GameState::InProgress: return GameSet::Active;
        case GameState::Ended: break;
    }
    return std::nullopt;
}

std::int64_t now_ms() noexcept {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int32_t Game::roster_free_seats() const noexcept {
    auto taken = static_cast<std::int64_t>(players.size());
    if (!creator_seen && !has_player(creator_id)) ++taken;  // the creator's seat is kept
    return taken >= capacity ? 0 : static_cast<std::int32_t>(capacity - taken);
}

std::int32_t Game::live_reservations(std::int64_t now_ms) const noexcept {
    std::int32_t n = 0;
    for (const auto& [player, expires_at] : reservations) {
        if (expires_at > now_ms && !has_player(player)) ++n;
    }
    return n;
}

std::int32_t Game::free_seats_at(std::int64_t now_ms) const noexcept {
    return std::max(0, roster_free_seats() - live_reservations(now_ms));
}

std::int32_t Game::free_seats() const noexcept {
    return free_seats_at(std::numeric_limits<std::int64_t>::min());
}

bool Game::is_open() const noexcept {
    return state == GameState::CreatorJoined && free_seats() > 0;
}

bool Game::has_player(std::string_view player_id) const noexcept {
    return std::find(players.begin(), players.end(), player_id) != players.end();
}

std::int64_t MaxAges::of(GameSet s) const noexcept {
    switch (s) {
        case GameSet::Pending: return pending;
        case GameSet::Lobby: return lobby;
        case GameSet::Active: return active;
    }
    return pending;
}

void to_json(nlohmann::json& j, const Game& g) {
    j = nlohmann::json{{"id", g.id},
                       {"state", to_string(g.state)},
                       {"creator_id", g.creator_id},
                       {"capacity", g.capacity},
                       {"server_id", g.server_id},
                       {"players", g.players},
                       {"metadata", g.metadata},
                       {"created_at", g.created_at},
                       {"updated_at", g.updated_at},
                       {"last_seq", g.last_seq}};
    if (!g.player_seqs.empty()) j["player_seqs"] = g.player_seqs;
    if (!g.held.empty()) j["held"] = g.held;
    if (g.seq_floor != 0) j["seq_floor"] = g.seq_floor;
    if (g.creator_seen) j["creator_seen"] = true;
    if (!g.reservations.empty()) j["reservations"] = g.reservations;
}

void from_json(const nlohmann::json& j, Game& g) {
    try {
        Game out;
        out.id = j.at("id").get<std::string>();
        auto state = parse_game_state(j.at("state").get<std::string>());
        if (!state) throw InvalidArgument("game document: unknown state");
        out.state = *state;
        out.creator_id = j.at("creator_id").get<std::string>();
        out.capacity = j.at("capacity").get<std::int32_t>();
        out.server_id = j.at("server_id").get<std::string>();
        out.players = j.value("players", std::vector<std::string>{});
        out.metadata = to_metadata(j.value("metadata", nlohmann::json::object()));
        out.created_at = j.value("created_at", std::int64_t{0});
        out.updated_at = j.value("updated_at", std::int64_t{0});
        out.last_seq = j.value("last_seq", std::int64_t{0});
        out.player_seqs = j.value("player_seqs", std::map<std::string, std::int64_t>{});
        out.held = j.value("held", std::vector<std::pair<std::string, std::int64_t>>{});
        out.seq_floor = j.value("seq_floor", std::int64_t{0});
        out.creator_seen = j.value("creator_seen", false);
        out.reservations = j.value("reservations", std::map<std::string, std::int64_t>{});
        validate_id("id", out.id);
        validate_id("creator_id", out.creator_id);
        validate_id("server_id", out.server_id);
        validate_capacity(out.capacity);
        validate_metadata(out.metadata);
        g = std::move(out);
    } catch (const nlohmann::json::exception& e) {
        throw InvalidArgument(std::string("game document: ") + e.what());
    }
}

void to_json(nlohmann::json& j, const Event& e) {
    j = nlohmann::json{{"type", to_string(e.type)}, {"game_id", e.game_id}, {"server_id", e.server_id}};
    if (e.player_id) j["player_id"] = *e.player_id;
    if (e.ts) j["ts"] = *e.ts;
    if (e.seq) j["seq"] = *e.seq;
}

}  // namespace game_data
