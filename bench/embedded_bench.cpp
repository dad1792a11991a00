// Embedded (memory://) benchmarks, printed as tables. Each row is compared in the same run
// against a baseline: apply() against the bare pure rule (apply_event on a hash map, no sets,
// no locking), and get_open_games against a lobby scan that skips full games.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <game_data/game_data.hpp>

using namespace game_data;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Appends rather than operator+: GCC 12 -O3 warns falsely (-Wrestrict) on "c" + to_string(i).
std::string numbered(char prefix, int i) {
    std::string out(1, prefix);
    out.append(std::to_string(i));
    return out;
}

std::vector<Event> lifecycle_events(const std::vector<Game>& games) {
    std::vector<Event> out;
    for (const auto& g : games) {
        out.push_back({EventType::CreatorJoined, g.id, g.server_id, g.creator_id, {}, {}});
        out.push_back({EventType::PlayerJoined, g.id, g.server_id, "p1", {}, {}});
        out.push_back({EventType::Heartbeat, g.id, g.server_id, {}, {}, {}});
        out.push_back({EventType::AllPlayersJoined, g.id, g.server_id, {}, {}, {}});
        out.push_back({EventType::GameStarted, g.id, g.server_id, {}, {}, {}});
        out.push_back({EventType::GameEnded, g.id, g.server_id, {}, {}, {}});
    }
    return out;
}

std::vector<Game> make_games(Matchmaker& mm, int n) {
    std::vector<Game> games;
    games.reserve(n);
    for (int i = 0; i < n; ++i) games.push_back(mm.create_game(numbered('c', i), 2, "gs-1"));
    return games;
}

void bench_apply(int n_games) {
    std::printf("\n## apply on memory:// (%d games x 6 events)\n\n", n_games);
    std::printf("| variant | events | seconds | events/s | vs baseline |\n|---|---|---|---|---|\n");

    // Baseline: the pure rule on a plain map, no sets, no index, no lock.
    auto mm0 = connect("memory://");
    auto games0 = make_games(mm0, n_games);
    std::unordered_map<std::string, Game> plain;
    for (const auto& g : games0) plain.emplace(g.id, g);
    auto events0 = lifecycle_events(games0);
    auto t0 = Clock::now();
    std::size_t applied = 0;
    for (const auto& e : events0) {
        auto it = plain.find(e.game_id);
        auto o = apply_event(it->second, e, 1);
        if (o.status == ApplyStatus::Applied) {
            it->second = std::move(o.after);
            ++applied;
        }
    }
    double base = static_cast<double>(events0.size()) / seconds_since(t0);
    std::printf("| baseline: apply_event on a map | %zu | %.3f | %.0f | 1.00x |\n", events0.size(),
                static_cast<double>(events0.size()) / base, base);

    // Each variant: a fresh matchmaker per round, best of three rounds, earlier rounds freed.
    auto best_of_three = [&](auto&& run) {
        double best = 0;
        for (int round = 0; round < 3; ++round) {
            auto mm = connect("memory://");
            auto events = lifecycle_events(make_games(mm, n_games));
            auto start = Clock::now();
            run(mm, events);
            best = std::max(best, static_cast<double>(events.size()) / seconds_since(start));
        }
        return best;
    };
    const double n_events = static_cast<double>(events0.size());
    const double r1 = best_of_three([](Matchmaker& mm, const std::vector<Event>& events) {
        for (const auto& e : events) mm.apply(e);
    });
    std::printf("| Matchmaker::apply | %.0f | %.3f | %.0f | %.2fx |\n", n_events, n_events / r1, r1,
                r1 / base);
    const double r2 = best_of_three([](Matchmaker& mm, const std::vector<Event>& events) {
        for (std::size_t i = 0; i < events.size(); i += 1000) {
            auto end = std::min(events.size(), i + 1000);
            mm.apply_many(std::span<const Event>(events.data() + i, end - i));
        }
    });
    std::printf("| Matchmaker::apply_many (1000) | %.0f | %.3f | %.0f | %.2fx |\n", n_events,
                n_events / r2, r2, r2 / base);
    if (applied == 0) std::printf("(baseline applied nothing)\n");
}

void bench_open_games(int n_lobby) {
    std::printf("\n## get_open_games(50) with %d lobby games, 90%% full\n\n", n_lobby);
    auto mm = connect("memory://");
    std::vector<Game> lobby;
    for (int i = 0; i < n_lobby; ++i) {
        auto g = mm.create_game(numbered('c', i), 2, "gs-1");
        mm.apply({EventType::CreatorJoined, g.id, "gs-1", g.creator_id, {}, {}});
        if (i % 10 != 9) mm.apply({EventType::PlayerJoined, g.id, "gs-1", numbered('p', i), {}, {}});
        lobby.push_back(*mm.get_game(g.id));
    }
    // Baseline: what a hand-written tracker without an open index does: scan the lobby in
    // score order and skip full games.
    std::multimap<std::int64_t, const Game*> by_score;
    for (const auto& g : lobby) by_score.emplace(g.updated_at, &g);
    const int reps = 2000;
    std::vector<double> base_us, ours_us;
    for (int r = 0; r < reps; ++r) {
        auto t0 = Clock::now();
        std::vector<Game> out;
        for (const auto& [score, g] : by_score) {
            if (g->is_open()) out.push_back(*g);
            if (out.size() == 50) break;
        }
        base_us.push_back(seconds_since(t0) * 1e6);
        t0 = Clock::now();
        auto open = mm.get_open_games(50);
        ours_us.push_back(seconds_since(t0) * 1e6);
        if (open.size() != out.size()) std::printf("(mismatch: %zu vs %zu)\n", open.size(), out.size());
    }
    auto pct = [](std::vector<double> v, double p) {
        std::sort(v.begin(), v.end());
        return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
    };
    std::printf("| variant | p50 us | p99 us |\n|---|---|---|\n");
    std::printf("| baseline: scan lobby skipping full | %.1f | %.1f |\n", pct(base_us, 0.5), pct(base_us, 0.99));
    std::printf("| get_open_games (open index) | %.1f | %.1f |\n", pct(ours_us, 0.5), pct(ours_us, 0.99));
}

}  // namespace

int main() {
    bench_apply(50'000);
    bench_open_games(100'000);
    return 0;
}
