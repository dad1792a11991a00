#include "game_data/lifecycle.hpp"

#include <algorithm>
#include <array>

namespace game_data {
namespace {

constexpr Decision adv(GameState target) { return {Verdict::Advance, target, {}}; }
constexpr Decision dup(std::string_view why) { return {Verdict::Duplicate, GameState::Created, why}; }
constexpr Decision rej(std::string_view why) { return {Verdict::Reject, GameState::Created, why}; }
constexpr Decision roster() { return {Verdict::Roster, GameState::Created, {}}; }
constexpr Decision refresh() { return {Verdict::Refresh, GameState::Created, {}}; }

constexpr std::string_view kNotAfter = "state already reached";
constexpr std::string_view kEnded = "game has ended";

// Rows: live states in order (Created .. InProgress), then Ended.
// Columns: creator_joined, player_joined, player_left, all_players_joined, game_started,
//          game_ended, heartbeat.
constexpr std::array<std::array<Decision, 7>, 5> kTable = {{
    {adv(GameState::CreatorJoined), rej("creator has not joined"), roster(),
     adv(GameState::AllPlayersJoined), adv(GameState::InProgress), adv(GameState::Ended), refresh()},
    {dup(kNotAfter), roster(), roster(), adv(GameState::AllPlayersJoined),
     adv(GameState::InProgress), adv(GameState::Ended), refresh()},
    {dup(kNotAfter), roster(), roster(), dup(kNotAfter), adv(GameState::InProgress),
     adv(GameState::Ended), refresh()},
    {dup(kNotAfter), roster(), roster(), dup(kNotAfter), dup(kNotAfter), adv(GameState::Ended),
     refresh()},
    {dup(kEnded), dup(kEnded), dup(kEnded), dup(kEnded), dup(kEnded), dup(kEnded), dup(kEnded)},
}};

Outcome unchanged(const Game& before, ApplyStatus status, std::string_view reason) {
    auto set = set_of(before.state);
    return Outcome{status, reason, before, SetChange{set, set, false}};
}

}  // namespace

Decision decide(GameState current, EventType type) noexcept {
    return kTable[static_cast<std::size_t>(current)][static_cast<std::size_t>(type)];
}

Outcome apply_event(const Game& before, const Event& event, std::int64_t now_ms) {
    if (event.server_id != before.server_id) {
        return unchanged(before, ApplyStatus::Rejected, "wrong server");
    }
    if (event.seq && *event.seq <= before.last_seq) {
        return unchanged(before, ApplyStatus::Duplicate, "seq already applied");
    }
    const Decision d = decide(before.state, event.type);
    Game after = before;
    SetChange sets{set_of(before.state), set_of(before.state), false};

    switch (d.verdict) {
        case Verdict::Reject: return unchanged(before, ApplyStatus::Rejected, d.reason);
        case Verdict::Duplicate: return unchanged(before, ApplyStatus::Duplicate, d.reason);
        case Verdict::Advance:
            if (event.type == EventType::CreatorJoined) {
                if (event.player_id != before.creator_id) {
                    return unchanged(before, ApplyStatus::Rejected, "player is not the creator");
                }
                if (!after.has_player(before.creator_id)) after.players.push_back(before.creator_id);
            }
            after.state = d.target;
            sets.to = set_of(d.target);
            sets.rescore = sets.to != sets.from;
            break;
        case Verdict::Roster: {
            const std::string& player = event.player_id.value_or(std::string{});
            if (event.type == EventType::PlayerJoined) {
                if (after.has_player(player)) {
                    return unchanged(before, ApplyStatus::Duplicate, "player already in game");
                }
                if (after.free_seats() == 0) {
                    return unchanged(before, ApplyStatus::Rejected, "game is full");
                }
                after.players.push_back(player);
            } else {
                auto it = std::find(after.players.begin(), after.players.end(), player);
                if (it == after.players.end()) {
                    return unchanged(before, ApplyStatus::Duplicate, "player not in game");
                }
                after.players.erase(it);
            }
            break;
        }
        case Verdict::Refresh: sets.rescore = true; break;
    }
    after.updated_at = now_ms;
    if (event.seq) after.last_seq = std::max(after.last_seq, *event.seq);
    return Outcome{ApplyStatus::Applied, {}, std::move(after), sets};
}

}  // namespace game_data
