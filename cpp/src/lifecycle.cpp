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
    const Decision d = decide(before.state, event.type);
    Game after = before;
    SetChange sets{set_of(before.state), set_of(before.state), false};

    // seq orders events about one subject. Lifecycle events are ordered by the state itself
    // and heartbeats are idempotent, so only roster events are compared, per player: a game-wide
    // high-water mark would drop a player's event that merely arrived after another player's
    // newer one (several consumers, or a claim after a crash).
    auto seq_of = [&](const std::string& player) -> std::optional<std::int64_t> {
        auto it = before.player_seqs.find(player);
        return it == before.player_seqs.end() ? std::nullopt : std::optional(it->second);
    };

    switch (d.verdict) {
        case Verdict::Reject: return unchanged(before, ApplyStatus::Rejected, d.reason);
        case Verdict::Duplicate: return unchanged(before, ApplyStatus::Duplicate, d.reason);
        case Verdict::Advance:
            if (event.type == EventType::CreatorJoined) {
                if (event.player_id != before.creator_id) {
                    return unchanged(before, ApplyStatus::Rejected, "player is not the creator");
                }
                const auto known = seq_of(before.creator_id);
                const bool superseded = event.seq && known && *known >= *event.seq;
                if (!superseded && !after.has_player(before.creator_id)) {
                    after.players.push_back(before.creator_id);
                }
                if (event.seq && !superseded) after.player_seqs[before.creator_id] = *event.seq;
            }
            after.state = d.target;
            sets.to = set_of(d.target);
            sets.rescore = sets.to != sets.from;
            break;
        case Verdict::Roster: {
            const std::string& player = event.player_id.value_or(std::string{});
            if (event.seq) {
                if (auto known = seq_of(player); known && *event.seq <= *known) {
                    return unchanged(before, ApplyStatus::Duplicate, "seq already applied");
                }
            }
            // With a seq the event is the newest word on this player: it is applied (and its
            // seq kept) even when the roster already agrees. Without one, a no-op is a duplicate.
            const bool joining = event.type == EventType::PlayerJoined;
            if (joining && !after.has_player(player)) {
                if (after.free_seats() == 0) {
                    return unchanged(before, ApplyStatus::Rejected, "game is full");
                }
                after.players.push_back(player);
            } else if (!joining && after.has_player(player)) {
                after.players.erase(std::find(after.players.begin(), after.players.end(), player));
            } else if (!event.seq) {
                return unchanged(before, ApplyStatus::Duplicate,
                                 joining ? "player already in game" : "player not in game");
            }
            if (event.seq) after.player_seqs[player] = *event.seq;
            break;
        }
        case Verdict::Refresh: sets.rescore = true; break;
    }
    after.updated_at = now_ms;
    if (event.seq) after.last_seq = std::max(after.last_seq, *event.seq);
    return Outcome{ApplyStatus::Applied, {}, std::move(after), sets};
}

}  // namespace game_data
