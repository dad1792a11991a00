#include "game_data/matchmaker.hpp"

#include <random>

#include <spdlog/spdlog.h>

#include "game_data/consumer.hpp"
#include "game_data/errors.hpp"
#include "game_data/event_codec.hpp"
#include "game_data/plugin.hpp"
#include "game_data/logging.hpp"
#include "game_data/publisher.hpp"
#include "game_data/validation.hpp"

namespace game_data {
namespace {

constexpr std::int64_t kMaxTombstoneTtlMs = 10LL * 366 * 24 * 3'600'000;

std::string random_game_id() {
    thread_local std::mt19937_64 rng{std::random_device{}() ^
                                     static_cast<std::uint64_t>(now_ms())};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id(24, '0');
    std::uint64_t a = rng(), b = rng();
    for (std::size_t i = 0; i < 16; ++i) id[i] = kHex[(a >> (i * 4)) & 0xF];
    for (std::size_t i = 16; i < 24; ++i) id[i] = kHex[(b >> ((i - 16) * 4)) & 0xF];
    return id;
}

void validate_options(const ConnectOptions& o) {
    validate_id("namespace", o.ns);
    if (o.max_age.pending <= 0 || o.max_age.lobby <= 0 || o.max_age.active <= 0) {
        throw InvalidArgument("max_age_ms values must be positive");
    }
    if (o.pool_size < 1 || o.pool_size > 1024) throw InvalidArgument("pool_size must be 1..1024");
    // Bounded so expiry times never overflow and Redis accepts them (at most ten years).
    if (o.tombstone_ttl_ms < 1 || o.tombstone_ttl_ms > kMaxTombstoneTtlMs) {
        throw InvalidArgument("tombstone_ttl_ms must be 1.." + std::to_string(kMaxTombstoneTtlMs));
    }
    const std::int64_t max_age_cap = kMaxTombstoneTtlMs;
    if (o.max_age.pending > max_age_cap || o.max_age.lobby > max_age_cap || o.max_age.active > max_age_cap) {
        throw InvalidArgument("max_age_ms values must be at most ten years");
    }
    if (o.connect_timeout_ms <= 0 || o.command_timeout_ms <= 0) {
        throw InvalidArgument("timeouts must be positive");
    }
    if (o.reap_batch == 0) throw InvalidArgument("reap_batch must be positive");
    if (o.reaped_retention < 0) throw InvalidArgument("reaped_retention must be 0 (keep all) or positive");
}

}  // namespace

Matchmaker::Matchmaker(std::shared_ptr<Store> store, ConnectOptions options, Clock clock)
    : store_(std::move(store)),
      options_(std::move(options)),
      clock_(std::move(clock)),
      metrics_(store_ ? store_->metrics() : nullptr) {
    if (!store_) throw InvalidArgument("Matchmaker needs a store");
    hooks_ = std::make_shared<ChangeHooks>(metrics_);
}

ChangeHandle Matchmaker::on_change(ChangeCallback callback) {
    if (!callback) throw InvalidArgument("on_change needs a callback");
    return hooks_->add(std::move(callback));
}

namespace {
// The game a request asks for, every argument checked.
Game requested_game(const CreateGameRequest& r) {
    validate_id("creator_id", r.creator_id);
    validate_id("server_id", r.server_id);
    validate_capacity(r.capacity);
    validate_metadata(r.metadata);
    if (r.game_id) validate_id("game_id", *r.game_id);
    Game g;
    g.id = r.game_id ? *r.game_id : random_game_id();
    g.state = GameState::Created;
    g.creator_id = r.creator_id;
    g.capacity = r.capacity;
    g.server_id = r.server_id;
    g.metadata = r.metadata;
    return g;
}
}  // namespace

Game Matchmaker::create_game(const CreateGameRequest& r) {
    Game g = store_->create_game(requested_game(r), explicit_now());
    if (hooks_->active()) hooks_->fire(Change{ChangeKind::Created, g.id, g.state, std::nullopt});
    return g;
}

std::vector<Game> Matchmaker::create_games(std::span<const CreateGameRequest> requests) {
    std::vector<Game> games;
    games.reserve(requests.size());
    for (const auto& r : requests) games.push_back(requested_game(r));
    games = store_->create_games(games, explicit_now());
    if (hooks_->active()) {
        for (const Game& g : games) hooks_->fire(Change{ChangeKind::Created, g.id, g.state, std::nullopt});
    }
    return games;
}

Game Matchmaker::create_game(std::string creator_id, std::int32_t capacity, std::string server_id,
                             Metadata metadata, std::optional<std::string> game_id) {
    return create_game(CreateGameRequest{std::move(creator_id), capacity, std::move(server_id),
                                         std::move(metadata), std::move(game_id)});
}

std::optional<Game> Matchmaker::get_game(std::string_view id) {
    validate_id("game_id", id);
    return store_->get_game(id, explicit_now());
}

std::vector<Game> Matchmaker::get_open_games(std::size_t limit) {
    return get_open_games(limit, {}, 1);
}

std::vector<Game> Matchmaker::get_open_games(std::size_t limit, const Filters& filters,
                                             std::int32_t min_free_seats) {
    return store_->open_games_page(limit, filters, min_free_seats, std::nullopt, explicit_now()).games;
}

OpenGamesPage Matchmaker::open_games_page(std::size_t limit, const Filters& filters,
                                          std::int32_t min_free_seats,
                                          const std::optional<std::string>& cursor) {
    return store_->open_games_page(limit, filters, min_free_seats, cursor, explicit_now());
}

Reservation Matchmaker::reserve_seat(const std::string& game_id, const std::string& player_id,
                                     std::int64_t ttl_ms, bool exclusive) {
    Reservation r = store_->reserve_seat(game_id, player_id, ttl_ms, explicit_now(), exclusive);
    if (hooks_->active()) hooks_->fire(Change{ChangeKind::Reserved, r.game_id, std::nullopt, std::nullopt});
    return r;
}

bool Matchmaker::cancel_reservation(const std::string& game_id, const std::string& player_id) {
    const bool cancelled = store_->cancel_reservation(game_id, player_id, explicit_now());
    if (cancelled && hooks_->active()) {
        hooks_->fire(Change{ChangeKind::ReservationCancelled, game_id, std::nullopt, std::nullopt});
    }
    return cancelled;
}

std::optional<Reservation> Matchmaker::quick_join(const std::string& player_id,
                                                  const Filters& filters, std::int64_t ttl_ms,
                                                  bool exclusive) {
    auto r = store_->quick_join(player_id, filters, ttl_ms, explicit_now(), exclusive);
    if (r && hooks_->active()) hooks_->fire(Change{ChangeKind::Reserved, r->game_id, std::nullopt, std::nullopt});
    return r;
}

ApplyResult Matchmaker::apply(const Event& event) {
    ApplyResult r = store_->apply(event, explicit_now());
    if (hooks_->active()) hooks_->fire_applied(std::span(&event, 1), std::span(&r, 1));
    return r;
}

std::vector<ApplyResult> Matchmaker::apply_many(std::span<const Event> events) {
    auto results = store_->apply_many(events, explicit_now());
    if (hooks_->active()) hooks_->fire_applied(events, results);
    return results;
}

std::vector<Game> Matchmaker::reap(std::optional<std::int64_t> at) {
    if (at && *at < 0) throw InvalidArgument("reap: now must be a non-negative time in ms");
    auto games = store_->reap(at ? at : explicit_now(), options_.max_age, options_.reap_batch);
    if (hooks_->active()) hooks_->fire_reaped(games);
    return games;
}

Counts Matchmaker::counts() { return store_->counts(); }

std::map<std::string, double> Matchmaker::stats() {
    // The counters first, the set sizes after: a change a counter shows has then reached the
    // sets read (a scrape never shows "11 events applied" beside the sets before the last one).
    std::map<std::string, double> out = metrics_->snapshot();
    try {
        const Counts c = store_->counts();
        const std::pair<std::string_view, std::int64_t> sizes[] = {
            {"pending", c.pending}, {"lobby", c.lobby}, {"active", c.active}};
        for (const auto& [set, n] : sizes) {
            const std::string key = labelled(metric::kGames, {{"set", set}});
            metrics_->set(key, static_cast<double>(n));
            out[key] = static_cast<double>(n);
        }
    } catch (const BackendError& e) {
        // The counters are still worth serving while the backend is away (a scrape during an
        // outage): the set gauges keep their last values and the failure is counted.
        metrics_->add(labelled(metric::kBackendErrorsTotal, {{"kind", backend_error_kind(e)}}));
        logger()->warn("stats: cannot read the set sizes: {}", e.what());
        out = metrics_->snapshot();  // with the failure counted
    }
    return out;
}

EventPublisher Matchmaker::publisher(std::string server_id, std::optional<std::string> stream,
                                     std::int64_t maxlen, bool stamp_seq) {
    return EventPublisher(store_->streams(), std::move(server_id), stream.value_or(default_stream()),
                          maxlen, stamp_seq);
}

Consumer Matchmaker::consumer(const ConsumerOptions& options) {
    ConsumerOptions o = options;
    if (o.stream.empty()) o.stream = default_stream();
    if (o.dead_letter_stream.empty()) o.dead_letter_stream = o.stream + ":dead";
    return Consumer(store_, store_->streams(), std::move(o), clock_, metrics_, hooks_);
}

ReapedFeed Matchmaker::reaped_feed(const ReapedFeedOptions& options) {
    return ReapedFeed(store_->streams(), store_->reaped_stream(), options);
}

Matchmaker connect(const std::string& url, ConnectOptions options) {
    validate_options(options);
    Url parsed = Url::parse(url);
    auto store = open_store(parsed, options);  // loads the GAME_DATA_PLUGINS plug-ins first
    store->filter_keys();  // settles them with the namespace now: a mismatch fails here
    Matchmaker mm(std::move(store), options);
    for (auto& callback : plugin_change_callbacks()) mm.on_change(std::move(callback));
    return mm;
}

}  // namespace game_data
