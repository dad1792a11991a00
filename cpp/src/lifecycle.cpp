#include "game_data/lifecycle.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include "game_data/reasons.hpp"

namespace game_data {
namespace {

constexpr Decision adv(GameState target) { return {Verdict::Advance, target, {}}; }
constexpr Decision dup(std::string_view why) { return {Verdict::Duplicate, GameState::Created, why}; }
constexpr Decision roster() { return {Verdict::Roster, GameState::Created, {}}; }
constexpr Decision refresh() { return {Verdict::Refresh, GameState::Created, {}}; }

using namespace reasons;  // the reason texts: one definition each, in reasons.hpp

// Rows: live states in order (Created .. InProgress), then Ended.
// Columns: creator_joined, player_joined, player_left, all_players_joined, game_started,
//          game_ended, heartbeat.
// A player_joined before the creator's join is a roster change like any other (the creator's
// seat is kept free), so joins reordered ahead of creator_joined still land.
constexpr std::array<std::array<Decision, 7>, 5> kTable = {{
    {adv(GameState::CreatorJoined), roster(), roster(), adv(GameState::AllPlayersJoined),
     adv(GameState::InProgress), adv(GameState::Ended), refresh()},
    {dup(kStateReached), roster(), roster(), adv(GameState::AllPlayersJoined),
     adv(GameState::InProgress), adv(GameState::Ended), refresh()},
    {dup(kStateReached), roster(), roster(), dup(kStateReached), adv(GameState::InProgress),
     adv(GameState::Ended), refresh()},
    {dup(kStateReached), roster(), roster(), dup(kStateReached), dup(kStateReached),
     adv(GameState::Ended), refresh()},
    {dup(kGameEnded), dup(kGameEnded), dup(kGameEnded), dup(kGameEnded), dup(kGameEnded),
     dup(kGameEnded), dup(kGameEnded)},
}};

// One applied-or-not step; the game is changed in place only when it is applied.
struct Step {
    ApplyStatus status;
    std::string_view reason;
    SetChange sets;
};

Step unchanged(const Game& g, ApplyStatus status, std::string_view reason) {
    auto set = set_of(g.state);
    return Step{status, reason, SetChange{set, set, false}};
}

void stamp(Game& g, const Event& event, std::int64_t now_ms) {
    prune_reservations(g, now_ms);
    g.updated_at = now_ms;
    if (event.seq) g.last_seq = std::max(g.last_seq, *event.seq);
}

std::optional<std::int64_t> seq_of(const Game& g, const std::string& player) {
    auto it = g.player_seqs.find(player);
    return it == g.player_seqs.end() ? std::nullopt : std::optional(it->second);
}

auto held_of(Game& g, const std::string& player) {
    return std::find_if(g.held.begin(), g.held.end(),
                        [&](const auto& h) { return h.first == player; });
}

// Sorts stably by `less`: as std::stable_sort, without its buffer for rosters of a usual size.
template <typename Less>
void stable_sort_small(std::vector<std::string>& v, Less less) {
    constexpr std::size_t kInsertionSortMax = 32;
    if (v.size() > kInsertionSortMax) {
        std::stable_sort(v.begin(), v.end(), less);
        return;
    }
    for (std::size_t i = 1; i < v.size(); ++i) {
        for (std::size_t j = i; j > 0 && less(v[j], v[j - 1]); --j) std::swap(v[j], v[j - 1]);
    }
}

// Seats the joined players (seated and held) as the publish order would: the creator first,
// then by the seq of the join that seated them (joins without a seq after those, in arrival
// order), as many as there are seats; the rest are held. A result of the set of latest events
// per player, not of their delivery order: a join seen before the leave that freed its seat
// is held until that leave arrives, and a join that arrived early may be held again when an
// older join arrives late.
void reseat(Game& g, std::int64_t now_ms) {
    // The roster's own storage is reused: one reseat per roster event, no allocation once warm.
    std::vector<std::string> joined = std::move(g.players);
    g.players.clear();
    for (auto& h : g.held) joined.push_back(std::move(h.first));
    g.held.clear();
    auto key = [&](const std::string& p) {
        if (p == g.creator_id) return std::numeric_limits<std::int64_t>::min();
        return seq_of(g, p).value_or(std::numeric_limits<std::int64_t>::max());
    };
    stable_sort_small(joined, [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
    const bool creator_seat_kept =
        !g.creator_seen && std::find(joined.begin(), joined.end(), g.creator_id) == joined.end();
    // Live reservations hold their seats (g.players is empty here, so all of them count).
    const std::size_t seats = static_cast<std::size_t>(
        std::max(0, g.capacity - (creator_seat_kept ? 1 : 0) - g.live_reservations(now_ms)));
    for (std::size_t i = seats; i < joined.size(); ++i) {
        const std::int64_t seq = seq_of(g, joined[i]).value_or(0);
        g.held.emplace_back(std::move(joined[i]), seq);
    }
    joined.resize(std::min(seats, joined.size()));
    g.players = std::move(joined);
}

// Keeps at most kMaxAbsentPlayerSeqs seqs of players who are neither seated nor held: the
// lowest go, and seq_floor remembers the highest forgotten one.
void bound_seqs(Game& g) {
    std::vector<std::pair<std::int64_t, std::string>> absent;
    for (const auto& [player, seq] : g.player_seqs) {
        if (!g.has_player(player) && held_of(g, player) == g.held.end()) absent.emplace_back(seq, player);
    }
    if (absent.size() <= kMaxAbsentPlayerSeqs) return;
    std::sort(absent.begin(), absent.end());
    const std::size_t drop = absent.size() - kMaxAbsentPlayerSeqs;
    for (std::size_t i = 0; i < drop; ++i) {
        g.seq_floor = std::max(g.seq_floor, absent[i].first);
        g.player_seqs.erase(absent[i].second);
    }
}

std::size_t seats_for_joined(const Game& g, bool creator_joined) {
    const bool creator_seat_kept = !g.creator_seen && !creator_joined;
    return static_cast<std::size_t>(std::max(0, g.capacity - (creator_seat_kept ? 1 : 0)));
}

// creator_joined: in Created it advances the state; in any later state (it was overtaken by
// later events) it still seats the creator once, so rosters do not depend on delivery order.
Step creator_joined(Game& g, const Event& event, const Decision& d, std::int64_t now_ms) {
    if (event.player_id != g.creator_id) {
        return unchanged(g, ApplyStatus::Rejected, kNotCreator);
    }
    const auto known = seq_of(g, g.creator_id);
    const bool superseded = event.seq && known && *known >= *event.seq;
    const bool advance = d.verdict == Verdict::Advance;
    // Overtaken by later events: the first creator_joined still marks the creator as seen (so
    // their kept seat is released) even when a newer event of the creator supersedes the seat.
    if (!advance && g.creator_seen) return unchanged(g, ApplyStatus::Duplicate, d.reason);
    Step step{ApplyStatus::Applied, {}, SetChange{set_of(g.state), set_of(g.state), false}};
    if (!superseded && !g.creator_seen && !g.has_player(g.creator_id)) {
        std::erase_if(g.held, [&](const auto& h) { return h.first == g.creator_id; });
        g.players.push_back(g.creator_id);
    }
    g.creator_seen = true;
    if (event.seq && !superseded) g.player_seqs[g.creator_id] = *event.seq;
    g.reservations.erase(g.creator_id);
    reseat(g, now_ms);  // the creator's seat was kept free while they had not joined
    if (advance) {
        g.state = d.target;
        step.sets.to = set_of(d.target);
        step.sets.rescore = step.sets.to != step.sets.from;
    }
    stamp(g, event, now_ms);
    return step;
}

Step roster_event(Game& g, const Event& event, std::int64_t now_ms) {
    const std::string& player = event.player_id.value_or(std::string{});
    const auto known = seq_of(g, player);
    if (event.seq) {
        if (known && *event.seq <= *known) {
            return unchanged(g, ApplyStatus::Duplicate, kSeqApplied);
        }
        if (!known && g.seq_floor > 0 && *event.seq <= g.seq_floor) {
            return unchanged(g, ApplyStatus::Rejected, kSeqTooOld);
        }
    }
    const bool joining = event.type == EventType::PlayerJoined;
    const bool seated = g.has_player(player);
    const bool held = std::any_of(g.held.begin(), g.held.end(),
                                  [&](const auto& h) { return h.first == player; });
    // With a seq the event is the newest word on this player: it is applied (and its seq kept)
    // even when the roster already agrees. Without one, a no-op is a duplicate.
    if (!event.seq && joining && (seated || held)) {
        return unchanged(g, ApplyStatus::Duplicate,
                         seated ? kAlreadyInGame : kAlreadyHeld);
    }
    if (!event.seq && !joining && !seated && !held) {
        return unchanged(g, ApplyStatus::Duplicate, kNotInGame);
    }
    auto reserved = g.reservations.find(player);
    const bool has_reservation = reserved != g.reservations.end() && reserved->second > now_ms;
    if (joining && !seated && !held) {
        const std::size_t joined = g.players.size() + g.held.size() + 1;
        const bool creator_in = player == g.creator_id || g.has_player(g.creator_id) ||
                                std::any_of(g.held.begin(), g.held.end(),
                                            [&](const auto& h) { return h.first == g.creator_id; });
        const std::size_t seats = seats_for_joined(g, creator_in);
        const auto reserved_seats = static_cast<std::size_t>(g.live_reservations(now_ms));
        // Seats held by other players' reservations are not free: an unreserved join that only
        // they keep out is refused (SPEC section 7), not held.
        if (!has_reservation && joined <= seats && joined + reserved_seats > seats) {
            return unchanged(g, ApplyStatus::Rejected, kGameFull);
        }
        if (joined > seats + kMaxHeldJoins) {
            return unchanged(g, ApplyStatus::Rejected, kGameFull);
        }
    }
    if (reserved != g.reservations.end()) g.reservations.erase(reserved);  // consumed (or expired)
    if (event.seq) g.player_seqs[player] = *event.seq;
    if (seated) std::erase(g.players, player);
    if (held) std::erase_if(g.held, [&](const auto& h) { return h.first == player; });
    if (joining) g.held.emplace_back(player, event.seq.value_or(0));  // placed by reseat
    reseat(g, now_ms);
    const bool now_held = joining && !g.has_player(player);
    bound_seqs(g);
    stamp(g, event, now_ms);
    auto set = set_of(g.state);
    return Step{ApplyStatus::Applied, now_held ? kHeld : std::string_view{}, SetChange{set, set, false}};
}

// The whole rule for a live game, in place.
Step apply_in_place(Game& g, const Event& event, std::int64_t now_ms) {
    if (event.server_id != g.server_id) return unchanged(g, ApplyStatus::Rejected, kWrongServer);
    const Decision d = decide(g.state, event.type);
    if (event.type == EventType::CreatorJoined && g.state != GameState::Ended) {
        return creator_joined(g, event, d, now_ms);
    }
    switch (d.verdict) {
        case Verdict::Reject: return unchanged(g, ApplyStatus::Rejected, d.reason);
        case Verdict::Duplicate: return unchanged(g, ApplyStatus::Duplicate, d.reason);
        case Verdict::Roster: return roster_event(g, event, now_ms);
        case Verdict::Advance:
        case Verdict::Refresh: break;
    }
    Step step{ApplyStatus::Applied, {}, SetChange{set_of(g.state), set_of(g.state), false}};
    if (d.verdict == Verdict::Advance) {
        g.state = d.target;
        step.sets.to = set_of(d.target);
        step.sets.rescore = step.sets.to != step.sets.from;
    } else {
        step.sets.rescore = true;  // heartbeat
    }
    stamp(g, event, now_ms);
    return step;
}

}  // namespace

// The blind path's premise, checked where the table is: a heartbeat refreshes every live game.
constexpr bool heartbeat_refreshes_every_live_state() {
    for (std::size_t s = 0; s + 1 < kTable.size(); ++s) {
        if (kTable[s][static_cast<std::size_t>(EventType::Heartbeat)].verdict != Verdict::Refresh) return false;
    }
    return true;
}
static_assert(heartbeat_refreshes_every_live_state(), "applies_blind(Heartbeat) needs it");

bool applies_blind(EventType type) noexcept { return type == EventType::Heartbeat; }

ApplyResult blind_result(const Event& event, const BlindSeen& seen) {
    if (seen.kind == BlindSeen::Kind::NoRecord) {
        GameSlot slot;
        slot.tomb = seen.tomb;
        return apply_to_slot(slot, event, 0);  // no live game: the time plays no part
    }
    ApplyResult result;
    result.game_id = event.game_id;
    switch (seen.kind) {
        case BlindSeen::Kind::Applied:
            result.status = ApplyStatus::Applied;
            result.state = seen.state;
            break;
        case BlindSeen::Kind::OtherServer:
            result.status = ApplyStatus::Rejected;
            result.reason = kWrongServer;
            result.state = seen.state;
            break;
        case BlindSeen::Kind::Refused:
        case BlindSeen::Kind::NoRecord:
            result.status = ApplyStatus::Rejected;
            result.reason = std::string(kStorageRefused) + ": " + seen.refused;
            break;
    }
    return result;
}

Decision decide(GameState current, EventType type) noexcept {
    return kTable[static_cast<std::size_t>(current)][static_cast<std::size_t>(type)];
}

Outcome apply_event(const Game& before, const Event& event, std::int64_t now_ms) {
    Game after = before;
    const Step step = apply_in_place(after, event, now_ms);
    return Outcome{step.status, step.reason, std::move(after), step.sets};
}

std::string_view to_string(Tomb t) noexcept {
    switch (t) {
        case Tomb::Ended: return "ended";
        case Tomb::Reaped: return "reaped";
        case Tomb::None: break;
    }
    return "";
}

std::optional<Tomb> parse_tomb(std::string_view s) noexcept {
    if (s == "ended") return Tomb::Ended;
    if (s == "reaped") return Tomb::Reaped;
    return std::nullopt;
}

ApplyResult apply_to_slot(GameSlot& slot, const Event& event, std::int64_t now_ms) {
    ApplyResult result;
    result.game_id = event.game_id;
    if (!slot.game) {
        switch (slot.tomb) {
            case Tomb::None:
                result.status = ApplyStatus::Rejected;
                result.reason = kUnknownGame;
                break;
            case Tomb::Ended:
                result.status = ApplyStatus::Duplicate;
                result.reason = kGameEnded;
                break;
            case Tomb::Reaped:
                // The game's servers were told to drop it; only its end is news we expected.
                result.status = event.type == EventType::GameEnded ? ApplyStatus::Duplicate
                                                                   : ApplyStatus::Rejected;
                result.reason = kGameReaped;
                break;
        }
        return result;
    }
    const Step step = apply_in_place(*slot.game, event, now_ms);
    result.status = step.status;
    result.reason = std::string(step.reason);
    if (step.status == ApplyStatus::Applied && !step.sets.to) {
        slot.game.reset();
        slot.score = 0;
        slot.tomb = Tomb::Ended;
        result.state = GameState::Ended;
        return result;
    }
    if (step.sets.rescore) slot.score = now_ms;
    result.state = slot.game->state;
    return result;
}

std::optional<std::string> filter_value(const Metadata& metadata, std::string_view key) {
    if (auto value = metadata.get(key)) return value->json();
    return std::nullopt;
}

std::string filter_index(std::string_view key, std::string_view encoded_value) {
    std::string out(kOpenIndex);
    out += ':';
    out += key;
    out += '=';
    out += encoded_value;
    return out;
}

std::string reserved_twin(std::string_view open_index) {
    std::string out(kReservedIndex);
    out += open_index.substr(std::min(open_index.size(), kOpenIndex.size()));
    return out;
}

std::optional<std::string> open_index_of_twin(std::string_view index) {
    if (!index.starts_with(kReservedIndex)) return std::nullopt;
    const std::string_view rest = index.substr(kReservedIndex.size());
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    std::string out(kOpenIndex);
    out += rest;
    return out;
}

bool lists_as_open(const Game& game) {
    return game.state == GameState::CreatorJoined && game.roster_free_seats() > 0;
}

std::optional<std::int64_t> reopens_at(const Game& game) {
    if (!lists_as_open(game)) return std::nullopt;
    const auto free = static_cast<std::size_t>(game.roster_free_seats());
    if (game.reservations.size() < free) return std::nullopt;  // cheap common case
    std::vector<std::int64_t> expiries;
    for (const auto& [player, expires_at] : game.reservations) {
        if (!game.has_player(player)) expiries.push_back(expires_at);
    }
    if (expiries.size() < free) return std::nullopt;
    // Fewer than `free` reservations are live from the (n - free)-th expiry on (0-based).
    auto nth = expiries.begin() + static_cast<std::ptrdiff_t>(expiries.size() - free);
    std::nth_element(expiries.begin(), nth, expiries.end());
    return *nth;
}

std::int64_t open_score(const Game& game) noexcept { return game.created_at; }

IndexEntries index_entries(const Game& game, std::int64_t score,
                           std::span<const std::string> filter_keys) {
    IndexEntries out;
    index_entries(game, score, filter_keys, out);
    return out;
}

void index_entries(const Game& game, std::int64_t score, std::span<const std::string> filter_keys,
                   IndexEntries& out) {
    out.clear();
    if (auto set = set_of(game.state)) out.emplace_back(std::string(to_string(*set)), score);
    if (lists_as_open(game)) {
        const std::optional<std::int64_t> reopens = reopens_at(game);
        auto list = [&](std::string open_index) {
            if (reopens) out.emplace_back(reserved_twin(open_index), *reopens);
            else out.emplace_back(std::move(open_index), open_score(game));
        };
        list(std::string(kOpenIndex));
        for (const auto& key : filter_keys) {
            if (auto value = filter_value(game.metadata, key)) list(filter_index(key, *value));
        }
    }
}

void prune_reservations(Game& g, std::int64_t now_ms) {
    std::erase_if(g.reservations, [&](const auto& r) { return r.second <= now_ms || g.has_player(r.first); });
}

SeatRefusal reserve_seat(Game& g, const std::string& player, std::int64_t now_ms,
                         std::int64_t expires_at) {
    if (g.state != GameState::CreatorJoined) return SeatRefusal::NotOpen;
    if (g.has_player(player)) return SeatRefusal::AlreadyJoined;
    auto it = g.reservations.find(player);
    const bool live = it != g.reservations.end() && it->second > now_ms;
    if (!live && g.free_seats_at(now_ms) < 1) return SeatRefusal::Full;
    prune_reservations(g, now_ms);
    g.reservations[player] = expires_at;  // a refresh takes no second seat
    return SeatRefusal::None;
}

std::vector<std::string> seats_let_go(const std::map<std::string, std::int64_t>& before,
                                      const Game* after, std::int64_t now_ms) {
    std::vector<std::string> out;
    for (const auto& [player, expires_at] : before) {
        // A lapsed one too: its seat may still be live by a later reader's clock (the seat is
        // let go only where it names this game, so releasing it is never wrong).
        if (after != nullptr) {
            auto it = after->reservations.find(player);
            if (it != after->reservations.end() && it->second > now_ms) continue;
        }
        out.push_back(player);
    }
    return out;
}

bool cancel_reservation(Game& g, const std::string& player, std::int64_t now_ms) {
    auto it = g.reservations.find(player);
    if (it == g.reservations.end() || it->second <= now_ms) return false;
    g.reservations.erase(it);
    prune_reservations(g, now_ms);
    return true;
}

std::string_view to_string(SeatRefusal r) noexcept {
    switch (r) {
        case SeatRefusal::NotOpen: return "not open";
        case SeatRefusal::Full: return "full";
        case SeatRefusal::AlreadyJoined: return "already joined";
        case SeatRefusal::ReservedElsewhere: return "reserved elsewhere";
        case SeatRefusal::None: break;
    }
    return "";
}

}  // namespace game_data
