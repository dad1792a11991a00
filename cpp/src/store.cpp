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
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "game_data/errors.hpp"
#include "game_data/json.hpp"
#include "game_data/event_codec.hpp"
#include "game_data/logging.hpp"
#include "game_data/reasons.hpp"
#include "game_data/validation.hpp"

namespace game_data {
namespace {

constexpr int kMaxAttempts = 64;

// reap(): the games of its first commit, and the longest a commit should take (README "Reaping").
constexpr std::size_t kFirstReapStep = 64;
constexpr auto kReapCommitBudget = std::chrono::microseconds(1'000);

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
                     std::span<const std::string> filter_keys, std::int64_t now_ms) {
    GameWrite w;
    w.id = id;
    w.expect_revision = before.revision;
    w.before = before.slot.game ? &*before.slot.game : nullptr;
    if (w.before && !w.before->reservations.empty()) {
        w.seat_release = seats_let_go(w.before->reservations,
                                      after.game ? &*after.game : nullptr, now_ms);
    }
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

// A write the backend refused (a key of the wrong type): the typed error of a call that
// cannot go on.
ReplyError refused_error(std::string_view what, const std::string& id, const std::string& why) {
    return ReplyError(std::string(what) + " '" + id + "': " + std::string(reasons::kStorageRefused) +
                      ": " + why);
}
ReplyError refused_error(std::string_view what, const GameWrite& w) {
    return refused_error(what, w.id, w.refused);
}

// Each event of a game whose write the backend refused: nothing of the game was written (a
// consumer dead-letters them with this reason and goes on).
void refuse_events(std::span<const Event> events, std::span<const std::size_t> group,
                   const std::string& why, std::span<ApplyResult> results) {
    for (std::size_t i : group) {
        results[i] = ApplyResult{};
        results[i].status = ApplyStatus::Rejected;
        results[i].game_id = events[i].game_id;
        results[i].reason = std::string(reasons::kStorageRefused) + ": " + why;
    }
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

NamespaceConfig parse_filter_keys_config(std::string_view text, std::string_view where) {
    NamespaceConfig out;
    if (text.empty()) return out;  // an empty declaration (before 0.5): none
    out.stored = true;
    const auto bad = [&](const std::string& why) {
        return ReplyError("the namespace config " + std::string(where) + " holds filter_keys '" +
                          std::string(text) + "', which no client stores (" + why +
                          "); set it right or delete it");
    };
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find(',', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view key = text.substr(start, end - start);
        if (!is_valid_id(key)) throw bad("a key may only hold [A-Za-z0-9_.-]");
        if (!out.filter_keys.empty() && out.filter_keys.back() >= key) {
            throw bad("keys must be sorted, each once");
        }
        out.filter_keys.emplace_back(key);
        start = end + 1;
    }
    return out;
}

std::string filter_keys_config_text(const NamespaceConfig& config) {
    std::string out;
    for (const auto& k : config.filter_keys) {
        if (!out.empty()) out.push_back(',');
        out += k;
    }
    return out;
}

std::shared_ptr<const NamespaceConfig> Store::config() {
    {
        std::lock_guard lock(config_mutex_);
        if (config_) return config_;
    }
    return refresh_config();
}

std::shared_ptr<const NamespaceConfig> Store::refresh_config() {
    bool declared = false;
    auto fresh = std::make_shared<const NamespaceConfig>(
        backend_->namespace_config(requested_filter_keys_, &declared));
    {
        std::lock_guard lock(config_mutex_);
        config_ = fresh;
    }
    if (declared) index_open_games(*fresh);
    return fresh;
}

std::vector<std::string> Store::filter_keys() { return config()->filter_keys; }

std::optional<std::vector<bool>> Store::commit(std::span<GameWrite> writes,
                                               const NamespaceConfig& config, bool all_or_none) {
    try {
        return backend_->commit(writes, &config, all_or_none);
    } catch (const ConfigChanged&) {
        logger()->info("namespace {}: its filter keys changed; deciding again with the new ones", ns_);
        refresh_config();
        conflicts_->add();
        return std::nullopt;
    }
}

void Store::index_open_games(const NamespaceConfig& config) {
    // Games written before the declaration were indexed by no filter key. Each is entered
    // into its filter indexes by a guarded write (a failed guard: a writer that already knew
    // the keys wrote it since). In pages: a backend is never blocked long.
    const std::string lobby(to_string(GameSet::Lobby));
    std::optional<IndexCursor> cursor;
    std::int64_t indexed = 0;
    while (true) {
        auto entries = backend_->scan(lobby, std::numeric_limits<std::int64_t>::max(), cursor, 500);
        if (entries.empty()) break;
        cursor = IndexCursor{entries.back().score, entries.back().id};
        std::vector<GameWrite> writes;
        const std::int64_t now = backend_->clock();
        for (const auto& e : entries) {
            if (!e.stored.slot.game) continue;
            const Entries was = entries_of(e.stored.slot, {});
            if (was == entries_of(e.stored.slot, config.filter_keys)) continue;
            writes.push_back(plan_write(e.id, e.stored, was, e.stored.slot, tombstone_ttl_ms_,
                                        config.filter_keys, now));
        }
        if (!writes.empty()) {
            const auto committed = commit(writes, config);
            if (!committed) return;  // the keys changed again: whoever changed them indexes
            indexed += std::count(committed->begin(), committed->end(), true);
        }
        if (entries.size() < 500) break;
    }
    if (indexed > 0) {
        logger()->info("namespace {}: {} open games written before its filter keys were declared "
                       "entered into their filter indexes", ns_, indexed);
    }
}

Store::Store(std::shared_ptr<Backend> backend, const ConnectOptions& options)
    : backend_(std::move(backend)),
      ns_(options.ns),
      tombstone_ttl_ms_(options.tombstone_ttl_ms),
      reaped_retention_(options.reaped_retention),
      metrics_(std::make_shared<Metrics>()),
      requested_filter_keys_(options.filter_keys) {
    // An empty declaration is no declaration: the client adopts the namespace's keys.
    if (requested_filter_keys_ && requested_filter_keys_->empty()) requested_filter_keys_.reset();
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
    metrics_->add(metric::kReapedDroppedTotal, 0);
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

Game Store::create_game(const Game& game, Now now) {
    return std::move(create_many("create_game", std::span(&game, 1), now).front());
}

std::vector<Game> Store::create_games(std::span<const Game> games, Now now) {
    if (games.size() > kMaxCreateBatch) {
        throw InvalidArgument("create_games: " + std::to_string(games.size()) +
                              " games in one call; at most " + std::to_string(kMaxCreateBatch));
    }
    std::unordered_set<std::string_view> ids;
    for (const Game& g : games) {
        if (!ids.insert(g.id).second) {
            throw InvalidArgument("create_games: game id '" + g.id + "' is given twice");
        }
    }
    if (games.empty()) return {};
    return create_many("create_games", games, now);
}

std::vector<Game> Store::create_many(std::string_view what, std::span<const Game> games, Now now) {
    for (const Game& g : games) {
        validate_id("game_id", g.id);
        for (const auto& p : g.players) validate_id("player_id", p);
    }
    std::vector<Game> made(games.begin(), games.end());
    std::vector<GameWrite> writes(games.size());
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
        const auto cfg = config();
        const std::int64_t at = now ? *now : backend_->clock();
        for (std::size_t i = 0; i < games.size(); ++i) {
            Game& g = made[i];
            g.state = GameState::Created;
            g.created_at = g.updated_at = at;
            writes[i] = plan_write(g.id, StoredGame{}, {}, GameSlot{g, at, Tomb::None},
                                   tombstone_ttl_ms_, cfg->filter_keys, at);
            writes[i].expect_revision = 0;  // no record and no tombstone: ids are never reused
        }
        const auto committed = commit(writes, *cfg, /*all_or_none=*/true);
        if (!committed) continue;
        if (std::all_of(committed->begin(), committed->end(), [](bool b) { return b; })) return made;
        std::string taken;
        for (const GameWrite& w : writes) {
            if (!w.refused.empty()) throw refused_error(what, w);
            if (w.held_back) continue;
            taken += (taken.empty() ? "'" : ", '") + w.id + "'";
        }
        if (games.size() == 1) throw GameExists("game id " + taken + " is already taken");
        throw GameExists(std::string(what) + ": taken game ids: " + taken +
                         "; no game of the batch was created");
    }
    throw BackendError(std::string(what) + ": the namespace's config kept changing");
}

std::optional<Game> Store::get_game(std::string_view id, Now now) {
    const std::string key(id);
    std::int64_t at = now.value_or(0);
    auto stored = backend_->read(std::span(&key, 1), now ? nullptr : &at);
    if (!stored.at(0).refused.empty()) throw refused_error("get_game", key, stored[0].refused);
    auto& game = stored.at(0).slot.game;
    if (!game) return std::nullopt;
    return as_of(std::move(*game), at);
}

std::optional<std::pair<GameSet, std::int64_t>> Store::set_entry(std::string_view id) {
    const std::string key(id);
    auto stored = backend_->read(std::span(&key, 1));
    const GameSlot& slot = stored.at(0).slot;
    if (!slot.game) return std::nullopt;
    return std::make_pair(*set_of(slot.game->state), slot.score);
}

std::vector<SetMember> Store::set_members(GameSet set, std::size_t limit, Now at) {
    validate_limit(limit);
    const std::int64_t now = at ? *at : backend_->clock();
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
    return open_games_page(limit, {}, 1, std::nullopt, std::nullopt).games;
}

std::string Store::open_index_for(const Filters& filters, const NamespaceConfig& config) {
    const auto& keys = config.filter_keys;
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
                                     const std::optional<std::string>& cursor, Now at) {
    validate_limit(limit);
    if (min_free_seats < 1 || min_free_seats > kMaxCapacity) {
        throw InvalidArgument("min_free_seats must be 1.." + std::to_string(kMaxCapacity));
    }
    std::optional<IndexCursor> after;
    if (cursor) after = decode_cursor(*cursor);
    const std::string index = open_index_for(filters, *filters_config(filters));
    OpenGamesPage page;
    if (limit == 0) return page;
    // One more match than asked tells whether another page exists. Games the index lists but
    // the query skips (another filter, min_free_seats, reservations not yet written back) make
    // the next read twice as long, so skipping costs O(log skipped) round trips.
    bool more = false;
    std::size_t skipped = 0;
    std::optional<std::int64_t> clock{at};  // the time the scans decide with, set by the first
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

bool Store::held_seat_matches(const Reservation& held, const Filters& filters) {
    if (filters.empty()) return true;
    const auto stored = backend_->read(std::span(&held.game_id, 1));
    return stored[0].slot.game && matches(*stored[0].slot.game, filters);
}

std::shared_ptr<const NamespaceConfig> Store::filters_config(const Filters& filters) {
    auto cfg = config();
    for (const auto& [key, value] : filters) {
        // A key this store has not seen may have been declared since it last read the config.
        if (std::find(cfg->filter_keys.begin(), cfg->filter_keys.end(), key) == cfg->filter_keys.end()) {
            return refresh_config();
        }
    }
    return cfg;
}

template <typename Decide>
GameWrite Store::change_one(const std::string& id, Now now, Decide&& decide) {
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
        pause_before_retry(attempt);
        const auto cfg = config();
        std::int64_t at = now.value_or(0);
        std::vector<StoredGame> stored = backend_->read(std::span(&id, 1), now ? nullptr : &at);
        if (!stored[0].refused.empty()) {
            GameWrite refused;
            refused.id = id;
            refused.refused = stored[0].refused;
            return refused;
        }
        GameSlot slot = stored[0].slot;
        std::optional<GameWrite::SeatClaim> claim;
        if (!decide(slot, at, claim)) return GameWrite{};
        GameWrite w = plan_write(id, stored[0], entries_of(stored[0].slot, cfg->filter_keys),
                                 std::move(slot), tombstone_ttl_ms_, cfg->filter_keys, at);
        w.seat_claim = std::move(claim);
        const auto committed = commit(std::span(&w, 1), *cfg);
        if (!committed) continue;
        if (committed->at(0) || w.seat_held || !w.refused.empty()) return w;
        conflicts_->add();
    }
    throw BackendError("game '" + id + "' kept changing under " + std::to_string(kMaxAttempts) +
                       " attempts");
}

Reservation Store::reserve_seat(const std::string& game_id, const std::string& player_id,
                                std::int64_t ttl_ms, Now now, bool exclusive) {
    validate_id("game_id", game_id);
    validate_id("player_id", player_id);
    validate_ttl(ttl_ms);
    const auto refuse = [&](SeatRefusal refusal, const std::string& detail) {
        metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", to_string(refusal)}}));
        return SeatUnavailable(std::string(to_string(refusal)),
                               "no seat for '" + player_id + "' in game '" + game_id + "': " +
                                   std::string(to_string(refusal)) + detail);
    };
    std::int64_t expires_at = 0;
    const GameWrite w = change_one(game_id, now, [&](GameSlot& slot, std::int64_t at,
                                                     std::optional<GameWrite::SeatClaim>& claim) {
        if (!slot.game) throw GameNotFound("no live game '" + game_id + "'");
        expires_at = at + ttl_ms;
        const SeatRefusal refusal = game_data::reserve_seat(*slot.game, player_id, at, expires_at);
        if (refusal != SeatRefusal::None) throw refuse(refusal, "");
        if (exclusive) claim = GameWrite::SeatClaim{player_id, expires_at, at};
        return true;
    });
    if (!w.refused.empty()) throw refused_error("reserve_seat", w);
    if (w.seat_held) {
        throw refuse(SeatRefusal::ReservedElsewhere, " (game '" + w.seat_held->game_id + "')");
    }
    metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", kReserved}}));
    return Reservation{game_id, player_id, expires_at};
}

bool Store::cancel_reservation(const std::string& game_id, const std::string& player_id, Now now) {
    validate_id("game_id", game_id);
    validate_id("player_id", player_id);
    bool cancelled = false;
    const GameWrite w = change_one(game_id, now, [&](GameSlot& slot, std::int64_t at,
                                                     std::optional<GameWrite::SeatClaim>&) {
        cancelled = slot.game && game_data::cancel_reservation(*slot.game, player_id, at);
        return cancelled;
    });
    if (!w.refused.empty()) throw refused_error("cancel_reservation", w);
    if (cancelled) metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", kCancelled}}));
    return cancelled;
}

std::optional<Reservation> Store::quick_join(const std::string& player_id, const Filters& filters,
                                             std::int64_t ttl_ms, Now at, bool exclusive) {
    validate_id("player_id", player_id);
    validate_ttl(ttl_ms);
    auto cfg = filters_config(filters);
    std::string index = open_index_for(filters, *cfg);
    // Most calls take the first game read: a small first window, doubled while every game in
    // it is refused. The game read is the one the guarded write starts from, so a seat costs
    // two round trips (read, commit); a failed guard reads again from the same place.
    constexpr std::size_t kFirstWindow = 4, kMaxWindow = 256;
    std::size_t window = kFirstWindow;
    std::optional<IndexCursor> after;  // every game up to here was refused
    std::optional<std::int64_t> clock{at};  // the time the scans decide with, set by the first
    int conflicts = 0;
    while (true) {
        auto entries = scan_open(index, clock, after, window);
        const std::int64_t now = *clock;
        bool conflict = false;
        for (auto& e : entries) {
            const GameSlot& read = e.stored.slot;
            GameSlot slot = read;
            if (!slot.game || !lists_as_open(*slot.game) || !matches(*slot.game, filters) ||
                slot.game->free_seats_at(now) < 1 ||
                game_data::reserve_seat(*slot.game, player_id, now, now + ttl_ms) != SeatRefusal::None) {
                after = IndexCursor{e.score, e.id};
                continue;
            }
            GameWrite w = plan_write(e.id, e.stored, entries_of(read, cfg->filter_keys), std::move(slot),
                                     tombstone_ttl_ms_, cfg->filter_keys, now);
            if (exclusive) w.seat_claim = GameWrite::SeatClaim{player_id, now + ttl_ms, now};
            const auto committed = commit(std::span(&w, 1), *cfg);
            if (committed && committed->at(0)) {
                metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", kQuickJoined}}));
                return Reservation{e.id, player_id, now + ttl_ms};
            }
            if (committed && w.seat_held) {
                // A retried call gets the seat the player holds; another search while holding
                // a seat that does not match is refused (cancel it first).
                if (held_seat_matches(*w.seat_held, filters)) {
                    metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", kQuickJoined}}));
                    return *w.seat_held;
                }
                metrics_->add(labelled(metric::kReservationsTotal,
                                       {{"outcome", to_string(SeatRefusal::ReservedElsewhere)}}));
                throw SeatUnavailable(std::string(to_string(SeatRefusal::ReservedElsewhere)),
                                      "quick_join: '" + player_id + "' holds a seat in game '" +
                                          w.seat_held->game_id + "', which does not match; cancel it first");
            }
            if (committed && !w.refused.empty()) throw refused_error("quick_join", w);
            // Another client wrote the game in between (it may still have a seat), or the
            // namespace's filter keys changed (the index to read may be another).
            if (!committed) {
                cfg = filters_config(filters);
                index = open_index_for(filters, *cfg);
            }
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
    if (exclusive) {
        // No game to try: the player may still hold a seat (a retry after the only open one
        // filled), which is the answer then. One more read, on this path only.
        const std::optional<Reservation> held = backend_->seat(player_id);
        if (held && held->expires_at > clock.value_or(0) && held_seat_matches(*held, filters)) {
            metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", kQuickJoined}}));
            return held;
        }
    }
    metrics_->add(labelled(metric::kReservationsTotal, {{"outcome", kNoGame}}));
    return std::nullopt;
}

ApplyResult Store::apply(const Event& event, Now now) {
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

bool Store::apply_in_place(std::span<const Event> events, Now now, std::span<ApplyResult> results) {
    // The index entries before and after each event, and the reservations before, in storage
    // each thread keeps: no allocation once warm. Nothing run under the backend's lock comes
    // back here. The filter keys are the namespace's as the backend holds them under its lock.
    struct Scratch {
        Entries was, now;
        std::map<std::string, std::int64_t> reservations;
    };
    thread_local Scratch scratch;
    const std::int64_t at = now ? *now : backend_->clock();
    for (std::size_t i = 0; i < events.size(); ++i) {
        const Event& event = events[i];
        ApplyResult& result = results[i];
        auto change = [&](GameSlot& slot, Backend::InPlaceChange& moves) {
            const std::vector<std::string>& keys = moves.config->filter_keys;
            entries_of(slot, keys, scratch.was);
            const bool reserved = slot.game && !slot.game->reservations.empty();
            if (reserved) scratch.reservations = slot.game->reservations;
            result = apply_to_slot(slot, event, at);
            if (result.status != ApplyStatus::Applied) return false;
            moves.tomb_ttl_ms = tombstone_ttl_ms_;
            entries_of(slot, keys, scratch.now);
            diff_entries(scratch.was, scratch.now, moves.index_remove, moves.index_add);
            if (reserved) {
                moves.seat_release = seats_let_go(scratch.reservations,
                                                  slot.game ? &*slot.game : nullptr, at);
            }
            return true;
        };
        if (!backend_->change_in_place(event.game_id, change)) return false;
    }
    return true;
}

std::vector<ApplyResult> Store::apply_many(std::span<const Event> events, Now now) {
    const auto started = std::chrono::steady_clock::now();
    for (const auto& e : events) validate_event(e);  // all of the batch, before anything is read
    std::vector<ApplyResult> results(events.size());
    if (!events.empty() && apply_in_place(events, now, results)) {
        count_applied(events, results, started);
        return results;
    }
    std::vector<std::size_t> todo = apply_blind(events, now, results);

    std::vector<std::string> ids;
    std::vector<std::vector<std::size_t>> groups;
    std::unordered_map<std::string_view, std::size_t> group_of;
    for (int attempt = 0; !todo.empty(); ++attempt) {
        if (attempt == kMaxAttempts) {
            throw BackendError("apply: games kept changing under " + std::to_string(kMaxAttempts) +
                               " attempts; nothing of the remaining events was applied");
        }
        pause_before_retry(attempt);
        const auto cfg = config();
        const std::vector<std::string>& keys = cfg->filter_keys;
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
        std::int64_t at = now.value_or(0);
        std::vector<StoredGame> stored = backend_->read(ids, now ? nullptr : &at);
        std::vector<GameWrite> writes;
        std::vector<std::size_t> write_group;
        // Backends that write differences keep the record read; others let the rules work on it.
        const bool keep_before = backend_->writes_differences();
        for (std::size_t g = 0; g < ids.size(); ++g) {
            if (!stored[g].refused.empty()) {
                logger()->error("apply: game '{}': {}: {}", ids[g], reasons::kStorageRefused, stored[g].refused);
                refuse_events(events, groups[g], stored[g].refused, results);
                continue;
            }
            const Entries was = entries_of(stored[g].slot, keys);
            std::map<std::string, std::int64_t> reservations;
            if (!keep_before && stored[g].slot.game) reservations = stored[g].slot.game->reservations;
            GameSlot slot = keep_before ? stored[g].slot : std::move(stored[g].slot);
            bool changed = false;
            for (std::size_t i : groups[g]) {
                results[i] = apply_to_slot(slot, events[i], at);
                changed = changed || results[i].status == ApplyStatus::Applied;
            }
            if (changed) {
                writes.push_back(plan_write(ids[g], stored[g], was, std::move(slot), tombstone_ttl_ms_, keys, at));
                if (!keep_before) {
                    writes.back().before = nullptr;  // it was moved into the rules
                    writes.back().seat_release = seats_let_go(
                        reservations, writes.back().after ? &*writes.back().after : nullptr, at);
                }
                write_group.push_back(g);
            }
        }
        std::vector<std::size_t> deciding;
        deciding.swap(todo);
        if (!writes.empty()) {
            const auto committed = commit(writes, *cfg);
            if (!committed) {  // the filter keys changed: decide these events again
                todo = std::move(deciding);
                continue;
            }
            std::size_t conflicted = 0;
            for (std::size_t k = 0; k < writes.size(); ++k) {
                if (committed->at(k)) continue;
                const auto& group = groups[write_group[k]];
                if (!writes[k].refused.empty()) {
                    logger()->error("apply: game '{}': {}: {}", writes[k].id, reasons::kStorageRefused,
                                    writes[k].refused);
                    refuse_events(events, group, writes[k].refused, results);
                    continue;
                }
                ++conflicted;
                todo.insert(todo.end(), group.begin(), group.end());
            }
            if (!todo.empty()) {
                conflicts_->add(static_cast<double>(conflicted));
                std::sort(todo.begin(), todo.end());
            }
        }
    }
    count_applied(events, results, started);
    return results;
}

std::vector<std::size_t> Store::apply_blind(std::span<const Event> events, Now now,
                                            std::span<ApplyResult> results) {
    std::vector<std::size_t> rest;
    if (!backend_->refreshes_blind()) {
        rest.resize(events.size());
        for (std::size_t i = 0; i < events.size(); ++i) rest[i] = i;
        return rest;
    }
    // A game goes the blind way only when every event of it in the batch does (its events
    // then keep their order); the others are read and decided as usual.
    std::unordered_map<std::string_view, bool> blind;
    for (const Event& e : events) {
        auto [it, fresh] = blind.try_emplace(e.game_id, true);
        it->second = it->second && applies_blind(e.type);
    }
    std::vector<Backend::BlindRefresh> refreshes;
    std::vector<std::size_t> refreshed;
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (blind[events[i].game_id]) {
            refreshes.push_back({events[i].game_id, events[i].server_id, events[i].seq});
            refreshed.push_back(i);
        } else {
            rest.push_back(i);
        }
    }
    if (refreshes.empty()) return rest;
    const std::vector<BlindSeen> seen = backend_->refresh_blind(refreshes, now);
    if (seen.size() != refreshes.size()) {
        throw ReplyError("apply: the backend answered " + std::to_string(seen.size()) + " of " +
                         std::to_string(refreshes.size()) + " heartbeats");
    }
    for (std::size_t k = 0; k < refreshed.size(); ++k) {
        const std::size_t i = refreshed[k];
        if (seen[k].kind == BlindSeen::Kind::Refused) {
            logger()->error("apply: game '{}': {}: {}", events[i].game_id, reasons::kStorageRefused,
                            seen[k].refused);
        }
        results[i] = blind_result(events[i], seen[k]);
    }
    return rest;
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

std::vector<Game> Store::reap(Now at, const MaxAges& ages, std::size_t batch) {
    batch = std::clamp<std::size_t>(batch, 1, 100'000);
    std::vector<Game> out;
    const std::int64_t now = at ? *at : backend_->clock();
    // The games per commit adapt to what a commit costs: halved when one took longer than the
    // budget, doubled when it took less than half of it, never above `batch`. Timed around the
    // call, so the server's own share is less: no reap script blocks a backend for longer.
    std::size_t step = std::min(batch, kFirstReapStep);
    const auto adapt = [&](std::chrono::steady_clock::duration took) {
        if (took > kReapCommitBudget) step = std::max<std::size_t>(1, step / 2);
        else if (took < kReapCommitBudget / 2) step = std::min(batch, step * 2);
    };
    try {
        for (GameSet set : kAllSets) {
            const std::string set_name(to_string(set));
            const std::string reaped_series = labelled(metric::kReapedTotal, {{"set", set_name}});
            const std::int64_t cutoff = now - ages.of(set);
            std::optional<IndexCursor> cursor;
            while (true) {  // one bounded commit per batch: a backend is never blocked long
                const std::size_t asked = step;
                auto entries = backend_->scan(set_name, cutoff, cursor, asked);
                if (entries.empty()) break;
                cursor = IndexCursor{entries.back().score, entries.back().id};
                const auto cfg = config();
                std::vector<GameWrite> writes;
                writes.reserve(entries.size());
                for (const auto& e : entries) {
                    const auto& game = e.stored.slot.game;
                    if (!e.stored.refused.empty()) {
                        logger()->error("reap: game '{}': {}: {}; skipped (run audit)", e.id,
                                        reasons::kStorageRefused, e.stored.refused);
                        continue;
                    }
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
                    GameWrite w = plan_write(e.id, e.stored, entries_of(e.stored.slot, cfg->filter_keys),
                                             std::move(gone), tombstone_ttl_ms_, cfg->filter_keys, now);
                    // Reported as every read reports a game: with the reservations live at now.
                    w.reaped_entry = reaped_fields(as_of(*game, now), set, e.score, now);
                    writes.push_back(std::move(w));
                }
                const auto started = std::chrono::steady_clock::now();
                const auto committed = commit(writes, *cfg);
                adapt(std::chrono::steady_clock::now() - started);
                if (!committed) {  // the filter keys changed: scan this batch again
                    cursor = std::nullopt;
                    continue;
                }
                for (std::size_t k = 0; k < writes.size(); ++k) {
                    // A failed guard: the game changed since the scan (an event, another
                    // janitor); it is reaped by whoever saw it last, or later if still stale.
                    if (!writes[k].refused.empty()) {
                        logger()->error("reap: game '{}': {}: {}; skipped (run audit)", writes[k].id,
                                        reasons::kStorageRefused, writes[k].refused);
                    }
                    if (!committed->at(k) || !writes[k].before) continue;
                    out.push_back(as_of(*writes[k].before, now));
                    metrics_->add(reaped_series);
                }
                if (entries.size() < asked) break;
            }
        }
    } catch (const GameDataError& e) {
        // Earlier batches are committed and in the reaped stream: their games reach the caller,
        // who deletes them on their game servers. What is left is reaped by the next call.
        if (out.empty()) throw;
        logger()->error("reap stopped after {} games: {}", out.size(), e.what());
    }
    if (!out.empty() && reaped_retention_ > 0) trim_reaped_stream();
    return out;
}

void Store::trim_reaped_stream() {
    try {
        const std::int64_t dropped = streams()->trim_unwatched(reaped_stream(), reaped_retention_);
        if (dropped > 0) {
            metrics_->add(metric::kReapedDroppedTotal, static_cast<double>(dropped));
            logger()->info("reap: {} oldest entries of {} dropped (no reaped feed reads it; "
                           "reaped_retention {})", dropped, reaped_stream(), reaped_retention_);
        }
    } catch (const GameDataError& e) {
        // The games are reaped and reported; the trim is retried by the next reap.
        logger()->warn("reap: trimming {} failed: {}", reaped_stream(), e.what());
    }
}

Counts Store::counts() {
    static const std::vector<std::string> kSets = {"pending", "lobby", "active"};
    const auto n = backend_->sizes(kSets);
    return Counts{n.at(0), n.at(1), n.at(2)};
}

}  // namespace game_data
