// Store: the rulebook run above any Backend. Every operation reads what it needs, decides with
// lifecycle.hpp, and commits one guarded write per game; a guard that fails (another client
// wrote the game in between) re-reads and decides again. See README "How a change is made".
#include "game_data/store.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "game_data/errors.hpp"
#include "game_data/json.hpp"
#include "game_data/event_codec.hpp"
#include "game_data/logging.hpp"
#include "game_data/validation.hpp"

namespace game_data {
namespace {

constexpr int kMaxAttempts = 64;

// Outcomes of game_data_reservations_total besides the refusal reasons (SeatRefusal).
constexpr std::string_view kReserved = "reserved";
constexpr std::string_view kQuickJoined = "quick_join";
constexpr std::string_view kCancelled = "cancelled";
constexpr std::string_view kNoGame = "no_game";

using Entries = IndexEntries;

// The index moves from entries `was` to entries `now` (moved from): sets left, and sets entered
// or rescored. A reader may have moved a lapsed twin entry of `was` to its open index
// (Backend::scan_merged) without a write, so the game is in one of the two: it leaves both
// unless `now` names them, and a twin entry of `now` is written even when `was` has it.
void diff_entries(const Entries& was, Entries& now, std::vector<std::string>& remove, Entries& add) {
    auto in_now = [&](std::string_view name) {
        return std::any_of(now.begin(), now.end(), [&](const auto& e) { return e.first == name; });
    };
    bool twin_read = false;
    for (const auto& [name, score] : was) {
        if (!in_now(name)) remove.push_back(name);
        if (auto open = open_index_of_twin(name)) {
            twin_read = true;
            if (!in_now(*open)) remove.push_back(std::move(*open));
        }
    }
    for (auto& entry : now) {
        if (std::find(was.begin(), was.end(), entry) == was.end() ||
            (twin_read && open_index_of_twin(entry.first))) {
            add.push_back(std::move(entry));
        }
    }
}

// The guarded write that turns what was read (`before`, whose index entries are `was`) into
// `after`.
GameWrite plan_write(const std::string& id, const StoredGame& before, const Entries& was,
                     GameSlot after, std::int64_t tomb_ttl_ms,
                     std::span<const std::string> filter_keys = {}) {
    GameWrite w;
    w.id = id;
    w.expect_revision = before.revision;
    w.before = before.slot.game ? &*before.slot.game : nullptr;
    Entries now;
    if (after.game) {
        now = index_entries(*after.game, after.score, filter_keys);
        w.after = std::move(after.game);
        w.revision = before.revision + 1;
        w.score = after.score;
    } else {
        w.tomb = after.tomb;
        w.tomb_ttl_ms = tomb_ttl_ms;
    }
    diff_entries(was, now, w.index_remove, w.index_add);
    return w;
}

void entries_of(const GameSlot& slot, std::span<const std::string> filter_keys, Entries& out) {
    if (slot.game) {
        index_entries(*slot.game, slot.score, filter_keys, out);
    } else {
        out.clear();
    }
}

Entries entries_of(const GameSlot& slot, std::span<const std::string> filter_keys) {
    Entries out;
    entries_of(slot, filter_keys, out);
    return out;
}

constexpr std::int64_t kMaxReservationTtlMs = 10 * 60 * 1000;
constexpr std::size_t kMaxOpenLimit = 10'000;

void validate_limit(std::size_t limit) {
    if (limit > kMaxOpenLimit) {
        throw InvalidArgument("limit must be at most " + std::to_string(kMaxOpenLimit));
    }
}

void validate_ttl(std::int64_t ttl_ms) {
    if (ttl_ms < 1 || ttl_ms > kMaxReservationTtlMs) {
        throw InvalidArgument("ttl_ms must be 1.." + std::to_string(kMaxReservationTtlMs));
    }
}
constexpr std::string_view kCursorPrefix = "c1-";

std::string encode_cursor(const IndexCursor& c) {
    return std::string(kCursorPrefix) + std::to_string(c.score) + "-" + c.id;
}

IndexCursor decode_cursor(const std::string& text) {
    const auto bad = [] { return InvalidArgument("cursor is not a next_cursor of open_games_page"); };
    if (!text.starts_with(kCursorPrefix)) throw bad();
    const std::string_view rest = std::string_view(text).substr(kCursorPrefix.size());
    const auto dash = rest.find('-', 1);  // a score may be negative
    if (dash == std::string_view::npos) throw bad();
    IndexCursor c;
    const std::string_view score = rest.substr(0, dash);
    auto [p, ec] = std::from_chars(score.data(), score.data() + score.size(), c.score);
    if (ec != std::errc{} || p != score.data() + score.size()) throw bad();
    c.id = rest.substr(dash + 1);
    if (!is_valid_id(c.id)) throw bad();
    return c;
}

bool matches(const Game& g, const Filters& filters) {
    for (const auto& [key, value] : filters) {
        if (g.metadata.get(key) != value) return false;
    }
    return true;
}

// The game as handed to callers: only the reservations live at now.
void as_of_in_place(Game& g, std::int64_t now) { prune_reservations(g, now); }
Game as_of(Game g, std::int64_t now) {
    as_of_in_place(g, now);
    return g;
}

// The record of a reaped game as its reaped-stream entry (SPEC section 7).
Fields reaped_fields(const Game& g, GameSet set, std::int64_t score, std::int64_t reaped_at) {
    nlohmann::json doc = g;
    return {{"game_id", g.id},
            {"server_id", g.server_id},
            {"state", std::string(to_string(g.state))},
            {"set", std::string(to_string(set))},
            {"score", std::to_string(score)},
            {"reaped_at", std::to_string(reaped_at)},
            {"game", doc.dump()}};
}

void pause_before_retry(int attempt) {
    // Optimistic retries back off a little once contention persists, so writers interleave.
    if (attempt >= 4) std::this_thread::sleep_for(std::chrono::microseconds(50 << std::min(attempt - 4, 6)));
}

}  // namespace

std::string key_prefix(std::string_view ns, int shard) {
    return std::string(ns) + ":{" + std::to_string(shard) + "}:";
}

InvalidArgument filter_keys_mismatch(const std::vector<std::string>& requested,
                                     const std::vector<std::string>& stored) {
    auto list = [](const std::vector<std::string>& keys) {
        std::string out = "(";
        for (const auto& k : keys) out += (out.size() > 1 ? ", " : "") + k;
        return out + ")";
    };
    return InvalidArgument("this namespace indexes open games by filter_keys " + list(stored) +
                           "; connect with the same keys, or without filter_keys to adopt them (got " +
                           list(requested) + ")");
}

const std::vector<std::string>& Store::filter_keys() {
    std::call_once(filter_keys_settled_, [&] {
        filter_keys_ = backend_->namespace_filter_keys(requested_filter_keys_);
    });
    return filter_keys_;
}

Store::Store(std::shared_ptr<Backend> backend, const ConnectOptions& options)
    : backend_(std::move(backend)),
      ns_(options.ns),
      tombstone_ttl_ms_(options.tombstone_ttl_ms),
      metrics_(std::make_shared<Metrics>()),
      requested_filter_keys_(options.filter_keys) {
    if (requested_filter_keys_) {
        for (const auto& key : *requested_filter_keys_) validate_id("filter key", key);
        std::sort(requested_filter_keys_->begin(), requested_filter_keys_->end());
        requested_filter_keys_->erase(
            std::unique(requested_filter_keys_->begin(), requested_filter_keys_->end()),
            requested_filter_keys_->end());
    }
    if (!backend_) throw InvalidArgument("Store needs a backend");
    for (EventType type : kAllEventTypes) {
        for (ApplyStatus status : {ApplyStatus::Applied, ApplyStatus::Duplicate, ApplyStatus::Rejected}) {
            event_series_[static_cast<std::size_t>(type) * 3 + static_cast<std::size_t>(status)] =
                &metrics_->counter(labelled(metric::kEventsTotal,
                                            {{"type", to_string(type)}, {"status", to_string(status)}}));
        }
    }
    apply_seconds_ = &metrics_->histogram(metric::kApplySeconds);
    // The counters of SPEC section 8 exist from the start, at 0, so a dashboard reads "none
    // yet", not "no data". (The consumer gauges appear once a consumer reports.)
    for (GameSet set : kAllSets) metrics_->add(labelled(metric::kReapedTotal, {{"set", to_string(set)}}), 0);
    for (std::string_view outcome : {kReserved, kQuickJoined, kCancelled, kNoGame}) {
        metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", outcome}}), 0);
    }
    for (SeatRefusal refusal : {SeatRefusal::NotOpen, SeatRefusal::Full, SeatRefusal::AlreadyJoined}) {
        metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", to_string(refusal)}}), 0);
    }
    metrics_->add(labelled(metric::kEventsTotal, {{"type", metric::kInvalidEventTypeLabel},
                                                  {"status", to_string(ApplyStatus::Rejected)}}), 0);
    metrics_->add(metric::kDeadLettersTotal, 0);
    metrics_->add(metric::kEventsLostTotal, 0);
    for (const char* kind : kBackendErrorKinds) {
        metrics_->add(labelled(metric::kBackendErrorsTotal, {{"kind", kind}}), 0);
    }
    conflicts_ = &metrics_->counter(metric::kCommitConflictsTotal);
    metrics_->set(metric::kEvictionRisk, backend_->eviction_risk() ? 1.0 : 0.0);
}

std::string Store::reaped_stream() const { return key_prefix(ns_, 0) + "reaped"; }

std::shared_ptr<StreamTransport> Store::streams() { return backend_->streams(); }

void Store::create_game(const Game& game, std::int64_t now) {
    validate_id("game_id", game.id);
    for (const auto& p : game.players) validate_id("player_id", p);
    StoredGame none;
    GameSlot slot;
    slot.game = game;
    slot.game->state = GameState::Created;
    slot.score = now;
    GameWrite w = plan_write(game.id, none, {}, std::move(slot), tombstone_ttl_ms_, filter_keys());
    w.expect_revision = 0;  // no record and no tombstone: ids are never reused
    if (!backend_->commit(std::span(&w, 1)).at(0)) {
        throw GameExists("game id '" + game.id + "' is already taken");
    }
}

std::optional<Game> Store::get_game(std::string_view id, std::int64_t now) {
    const std::string key(id);
    auto stored = backend_->read(std::span(&key, 1));
    auto& game = stored.at(0).slot.game;
    if (!game) return std::nullopt;
    return as_of(std::move(*game), now);
}

std::optional<std::pair<GameSet, std::int64_t>> Store::set_entry(std::string_view id) {
    const std::string key(id);
    auto stored = backend_->read(std::span(&key, 1));
    const GameSlot& slot = stored.at(0).slot;
    if (!slot.game) return std::nullopt;
    return std::make_pair(*set_of(slot.game->state), slot.score);
}

std::vector<SetMember> Store::set_members(GameSet set, std::size_t limit, std::int64_t now) {
    validate_limit(limit);
    const std::string index(to_string(set));
    std::vector<SetMember> out;
    std::optional<IndexCursor> after;
    while (out.size() < limit) {
        const std::size_t want = limit - out.size();
        auto entries = backend_->scan(index, std::numeric_limits<std::int64_t>::max(), after, want);
        for (auto& e : entries) {
            // An entry without a record is damage for audit to report, not a member to list.
            if (e.stored.slot.game) out.push_back({as_of(std::move(*e.stored.slot.game), now), e.score});
        }
        if (entries.size() < want) break;
        after = IndexCursor{entries.back().score, entries.back().id};
    }
    return out;
}

std::vector<Game> Store::get_open_games(std::size_t limit) {
    return open_games_page(limit, {}, 1, std::nullopt, now_ms()).games;
}

std::string Store::open_index_for(const Filters& filters) {
    const auto& keys = filter_keys();
    for (const auto& [key, value] : filters) {
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
            throw InvalidArgument("cannot filter on '" + key +
                                  "': declare it in connect(filter_keys=...) so it is indexed");
        }
    }
    if (filters.empty()) return std::string(kOpenIndex);
    std::vector<std::string> names;
    for (const auto& [key, value] : filters) names.push_back(filter_index(key, value.json()));
    if (names.size() == 1) return names[0];
    const auto sizes = backend_->sizes(names);  // scan the smallest; check the rest per game
    return names[std::min_element(sizes.begin(), sizes.end()) - sizes.begin()];
}

std::vector<IndexedGame> Store::scan_open(const std::string& index, std::optional<std::int64_t>& now,
                                          const std::optional<IndexCursor>& after,
                                          std::size_t limit) {
    // Games whose free seats were all reserved sit in the index's reserved twin until their
    // reservations lapse; those that lapsed by now go back to their old place as this passes,
    // a bounded number per call (so no call blocks the backend), each once.
    const std::string twin = reserved_twin(index);
    while (true) {
        Backend::MergedScan scanned = backend_->scan_merged(index, twin, now, after, limit);
        if (!scanned.lapsed_left) return std::move(scanned.entries);
    }
}

OpenGamesPage Store::open_games_page(std::size_t limit, const Filters& filters,
                                     std::int32_t min_free_seats,
                                     const std::optional<std::string>& cursor, std::int64_t now) {
    validate_limit(limit);
    if (min_free_seats < 1 || min_free_seats > kMaxCapacity) {
        throw InvalidArgument("min_free_seats must be 1.." + std::to_string(kMaxCapacity));
    }
    std::optional<IndexCursor> after;
    if (cursor) after = decode_cursor(*cursor);
    const std::string index = open_index_for(filters);
    OpenGamesPage page;
    if (limit == 0) return page;
    // One more match than asked tells whether another page exists. Games the index lists but
    // the query skips (another filter, min_free_seats, reservations not yet written back) make
    // the next read twice as long, so skipping costs O(log skipped) round trips.
    bool more = false;
    std::size_t skipped = 0;
    std::optional<std::int64_t> clock{now};  // the time the scans decide with, set by the first
    while (!more) {
        const std::size_t want =
            std::max(limit - page.games.size() + 1, std::min(2 * skipped, kMaxOpenLimit));
        auto entries = scan_open(index, clock, after, want);
        page.games.reserve(std::min(limit, page.games.size() + entries.size()));
        for (auto& e : entries) {
            const auto& game = e.stored.slot.game;
            if (!game || !lists_as_open(*game) || !matches(*game, filters) ||
                game->free_seats_at(*clock) < min_free_seats) {
                ++skipped;
                continue;
            }
            if (page.games.size() == limit) {
                more = true;
                break;
            }
            // One move per game (as_of by value moved each twice more).
            as_of_in_place(page.games.emplace_back(std::move(*e.stored.slot.game)), *clock);
            after = IndexCursor{e.score, e.id};
        }
        if (entries.size() < want) break;
        if (!more) after = IndexCursor{entries.back().score, entries.back().id};
    }
    if (more) page.next_cursor = encode_cursor(*after);
    return page;
}

template <typename Decide>
void Store::change_one(const std::string& id, Decide&& decide) {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
        pause_before_retry(attempt);
        std::vector<StoredGame> stored = backend_->read(std::span(&id, 1));
        GameSlot slot = stored[0].slot;
        if (!decide(slot)) return;
        GameWrite w = plan_write(id, stored[0], entries_of(stored[0].slot, filter_keys()),
                                 std::move(slot), tombstone_ttl_ms_, filter_keys());
        if (backend_->commit(std::span(&w, 1)).at(0)) return;
        conflicts_->add();
    }
    throw BackendError("game '" + id + "' kept changing under " + std::to_string(kMaxAttempts) +
                       " attempts");
}

Reservation Store::reserve_seat(const std::string& game_id, const std::string& player_id,
                                std::int64_t ttl_ms, std::int64_t now) {
    validate_id("game_id", game_id);
    validate_id("player_id", player_id);
    validate_ttl(ttl_ms);
    const std::int64_t expires_at = now + ttl_ms;
    change_one(game_id, [&](GameSlot& slot) {
        if (!slot.game) throw GameNotFound("no live game '" + game_id + "'");
        const SeatRefusal refusal = game_data::reserve_seat(*slot.game, player_id, now, expires_at);
        if (refusal != SeatRefusal::None) {
            metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", to_string(refusal)}}));
            throw SeatUnavailable(std::string(to_string(refusal)),
                                  "no seat for '" + player_id + "' in game '" + game_id +
                                      "': " + std::string(to_string(refusal)));
        }
        return true;
    });
    metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", kReserved}}));
    return Reservation{game_id, player_id, expires_at};
}

bool Store::cancel_reservation(const std::string& game_id, const std::string& player_id,
                               std::int64_t now) {
    validate_id("game_id", game_id);
    validate_id("player_id", player_id);
    bool cancelled = false;
    change_one(game_id, [&](GameSlot& slot) {
        cancelled = slot.game && game_data::cancel_reservation(*slot.game, player_id, now);
        return cancelled;
    });
    if (cancelled) metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", kCancelled}}));
    return cancelled;
}

std::optional<Reservation> Store::quick_join(const std::string& player_id, const Filters& filters,
                                             std::int64_t ttl_ms, std::int64_t now) {
    validate_id("player_id", player_id);
    validate_ttl(ttl_ms);
    const std::string index = open_index_for(filters);
    // Most calls take the first game read: a small first window, doubled while every game in
    // it is refused. The game read is the one the guarded write starts from, so a seat costs
    // two round trips (read, commit); a failed guard reads again from the same place.
    constexpr std::size_t kFirstWindow = 4, kMaxWindow = 256;
    std::size_t window = kFirstWindow;
    std::optional<IndexCursor> after;  // every game up to here was refused
    std::optional<std::int64_t> clock{now};  // the time the scans decide with, set by the first
    int conflicts = 0;
    while (true) {
        auto entries = scan_open(index, clock, after, window);
        const std::int64_t at = *clock;
        bool conflict = false;
        for (auto& e : entries) {
            const GameSlot& read = e.stored.slot;
            GameSlot slot = read;
            if (!slot.game || !lists_as_open(*slot.game) || !matches(*slot.game, filters) ||
                slot.game->free_seats_at(at) < 1 ||
                game_data::reserve_seat(*slot.game, player_id, at, at + ttl_ms) != SeatRefusal::None) {
                after = IndexCursor{e.score, e.id};
                continue;
            }
            GameWrite w = plan_write(e.id, e.stored, entries_of(read, filter_keys()), std::move(slot),
                                     tombstone_ttl_ms_, filter_keys());
            if (backend_->commit(std::span(&w, 1)).at(0)) {
                metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", kQuickJoined}}));
                return Reservation{e.id, player_id, at + ttl_ms};
            }
            // Another client wrote the game in between: it may still have a seat.
            conflicts_->add();
            if (++conflicts == kMaxAttempts) {
                throw BackendError("quick_join: games kept changing under " +
                                   std::to_string(kMaxAttempts) + " attempts");
            }
            pause_before_retry(conflicts);
            conflict = true;
            break;
        }
        if (conflict) continue;
        if (entries.size() < window) break;
        window = std::min(2 * window, kMaxWindow);
    }
    metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", kNoGame}}));
    return std::nullopt;
}

ApplyResult Store::apply(const Event& event, std::int64_t now) {
    const auto started = std::chrono::steady_clock::now();
    validate_event(event);
    const std::span<const Event> one(&event, 1);
    ApplyResult result;
    if (apply_in_place(one, now, std::span(&result, 1))) {
        count_applied(one, std::span(&result, 1), started);
        return result;
    }
    return std::move(apply_many(one, now).front());
}

bool Store::apply_in_place(std::span<const Event> events, std::int64_t now,
                           std::span<ApplyResult> results) {
    // Settled before the backend's lock is taken: settling may need the backend itself.
    const std::vector<std::string>& keys = filter_keys();
    // The index entries before and after each event, in storage each thread keeps: no
    // allocation once warm. Nothing run under the backend's lock comes back here.
    struct Scratch {
        Entries was, now;
    };
    thread_local Scratch scratch;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const Event& event = events[i];
        ApplyResult& result = results[i];
        auto change = [&](GameSlot& slot, Backend::InPlaceChange& moves) {
            entries_of(slot, keys, scratch.was);
            result = apply_to_slot(slot, event, now);
            if (result.status != ApplyStatus::Applied) return false;
            moves.tomb_ttl_ms = tombstone_ttl_ms_;
            entries_of(slot, keys, scratch.now);
            diff_entries(scratch.was, scratch.now, moves.index_remove, moves.index_add);
            return true;
        };
        if (!backend_->change_in_place(event.game_id, change)) return false;
    }
    return true;
}

std::vector<ApplyResult> Store::apply_many(std::span<const Event> events, std::int64_t now) {
    const auto started = std::chrono::steady_clock::now();
    for (const auto& e : events) validate_event(e);  // all of the batch, before anything is read
    std::vector<ApplyResult> results(events.size());
    if (!events.empty() && apply_in_place(events, now, results)) {
        count_applied(events, results, started);
        return results;
    }
    std::vector<std::size_t> todo(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) todo[i] = i;

    std::vector<std::string> ids;
    std::vector<std::vector<std::size_t>> groups;
    std::unordered_map<std::string_view, std::size_t> group_of;
    for (int attempt = 0; !todo.empty(); ++attempt) {
        if (attempt == kMaxAttempts) {
            throw BackendError("apply: games kept changing under " + std::to_string(kMaxAttempts) +
                               " attempts; nothing of the remaining events was applied");
        }
        pause_before_retry(attempt);
        // Events grouped by game, each group in event order; games in first-seen order.
        ids.clear();
        groups.clear();
        group_of.clear();
        if (todo.size() == 1) {
            ids.push_back(events[todo[0]].game_id);
            groups.push_back({todo[0]});
        } else {
            for (std::size_t i : todo) {
                auto [it, fresh] = group_of.try_emplace(events[i].game_id, ids.size());
                if (fresh) {
                    ids.push_back(events[i].game_id);
                    groups.emplace_back();
                }
                groups[it->second].push_back(i);
            }
        }
        std::vector<StoredGame> stored = backend_->read(ids);
        std::vector<GameWrite> writes;
        std::vector<std::size_t> write_group;
        // Backends that write differences keep the record read; others let the rules work on it.
        const bool keep_before = backend_->writes_differences();
        for (std::size_t g = 0; g < ids.size(); ++g) {
            const Entries was = entries_of(stored[g].slot, filter_keys());
            GameSlot slot = keep_before ? stored[g].slot : std::move(stored[g].slot);
            bool changed = false;
            for (std::size_t i : groups[g]) {
                results[i] = apply_to_slot(slot, events[i], now);
                changed = changed || results[i].status == ApplyStatus::Applied;
            }
            if (changed) {
                writes.push_back(plan_write(ids[g], stored[g], was, std::move(slot), tombstone_ttl_ms_, filter_keys()));
                if (!keep_before) writes.back().before = nullptr;  // it was moved into the rules
                write_group.push_back(g);
            }
        }
        todo.clear();
        if (!writes.empty()) {
            const std::vector<bool> committed = backend_->commit(writes);
            for (std::size_t k = 0; k < writes.size(); ++k) {
                if (committed.at(k)) continue;
                const auto& group = groups[write_group[k]];
                todo.insert(todo.end(), group.begin(), group.end());
            }
            if (!todo.empty()) {
                conflicts_->add(static_cast<double>(writes.size()));
                std::sort(todo.begin(), todo.end());
            }
        }
    }
    count_applied(events, results, started);
    return results;
}

void Store::count_applied(std::span<const Event> events, std::span<const ApplyResult> results,
                          std::chrono::steady_clock::time_point started) {
    for (std::size_t i = 0; i < events.size(); ++i) {
        event_series_[static_cast<std::size_t>(events[i].type) * 3 +
                      static_cast<std::size_t>(results[i].status)]->add();
    }
    apply_seconds_->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

std::vector<Game> Store::reap(std::int64_t now, const MaxAges& ages, std::size_t batch) {
    batch = std::clamp<std::size_t>(batch, 1, 100'000);
    std::vector<Game> out;
    try {
        for (GameSet set : kAllSets) {
            const std::string set_name(to_string(set));
            const std::string reaped_series = labelled(metric::kReapedTotal, {{"set", set_name}});
            const std::int64_t cutoff = now - ages.of(set);
            std::optional<IndexCursor> cursor;
            while (true) {  // one bounded commit per batch: a backend is never blocked long
                auto entries = backend_->scan(set_name, cutoff, cursor, batch);
                if (entries.empty()) break;
                cursor = IndexCursor{entries.back().score, entries.back().id};
                std::vector<GameWrite> writes;
                writes.reserve(entries.size());
                for (const auto& e : entries) {
                    const auto& game = e.stored.slot.game;
                    if (!game) {
                        // A set entry without a record (damage, or a lost write after a
                        // failover): nothing to tell a game server; the entry is removed.
                        logger()->error("reap: {} entry '{}' has no game record; removing the entry",
                                        set_name, e.id);
                        metrics_->add(labelled(metric::kOrphansTotal, {{"set", set_name}}));
                        GameWrite w;
                        w.id = e.id;
                        w.expect_revision = GameWrite::kExpectNoRecord;
                        w.index_remove = {set_name, std::string(kOpenIndex),
                                          std::string(kReservedIndex)};
                        writes.push_back(std::move(w));
                        continue;
                    }
                    if (set_of(game->state) != set || e.stored.slot.score != e.score) {
                        logger()->error("reap: game '{}' is in {} but its record says otherwise; "
                                        "skipped (run audit)", e.id, set_name);
                        continue;
                    }
                    GameSlot gone;
                    gone.tomb = Tomb::Reaped;
                    GameWrite w = plan_write(e.id, e.stored, entries_of(e.stored.slot, filter_keys()),
                                             std::move(gone), tombstone_ttl_ms_);
                    // Reported as every read reports a game: with the reservations live at now.
                    w.reaped_entry = reaped_fields(as_of(*game, now), set, e.score, now);
                    writes.push_back(std::move(w));
                }
                const std::vector<bool> committed = backend_->commit(writes);
                for (std::size_t k = 0; k < writes.size(); ++k) {
                    // A failed guard: the game changed since the scan (an event, another
                    // janitor); it is reaped by whoever saw it last, or later if still stale.
                    if (!committed.at(k) || !writes[k].before) continue;
                    out.push_back(as_of(*writes[k].before, now));
                    metrics_->add(reaped_series);
                }
                if (entries.size() < batch) break;
            }
        }
    } catch (const GameDataError& e) {
        // Earlier batches are committed and in the reaped stream: their games reach the caller,
        // who deletes them on their game servers. What is left is reaped by the next call.
        if (out.empty()) throw;
        logger()->error("reap stopped after {} games: {}", out.size(), e.what());
    }
    return out;
}

Counts Store::counts() {
    static const std::vector<std::string> kSets = {"pending", "lobby", "active"};
    const auto n = backend_->sizes(kSets);
    return Counts{n.at(0), n.at(1), n.at(2)};
}

}  // namespace game_data
