// The matchmaker's handle. Movable, cheap to copy-construct from (shares the backend);
// thread safe: one Matchmaker may be used from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "game_data/change.hpp"
#include "game_data/metrics.hpp"
#include "game_data/reaped_feed.hpp"
#include "game_data/store.hpp"
#include "game_data/types.hpp"

namespace game_data {

class EventPublisher;
class Consumer;
struct ConsumerOptions;

struct CreateGameRequest {
    std::string creator_id;
    std::int32_t capacity = 2;
    std::string server_id;
    Metadata metadata;
    std::optional<std::string> game_id;  // default: a fresh random id
};

class Matchmaker {
public:
    using Clock = std::function<std::int64_t()>;

    // `clock`: a time source for tests and simulations that then decides every time of this
    // handle; without one, the backend's clock decides (Redis's TIME: README "One clock").
    Matchmaker(std::shared_ptr<Store> store, ConnectOptions options, Clock clock = {});

    Game create_game(const CreateGameRequest& request);
    // Creates the games in one guarded commit, all or none (Store::create_games): with an id
    // taken, GameExists names each taken one and nothing is created. At most
    // Store::kMaxCreateBatch (1000) per call; ids must be distinct.
    std::vector<Game> create_games(std::span<const CreateGameRequest> requests);
    Game create_game(std::string creator_id, std::int32_t capacity, std::string server_id,
                     Metadata metadata = {},
                     std::optional<std::string> game_id = std::nullopt);
    std::optional<Game> get_game(std::string_view id);
    // Lobby games with free seats, oldest first. limit 0..10000.
    std::vector<Game> get_open_games(std::size_t limit = 50);
    // The same, matching equality `filters` on metadata keys declared in filter_keys, with at
    // least min_free_seats free (live reservations counted).
    std::vector<Game> get_open_games(std::size_t limit, const Filters& filters,
                                     std::int32_t min_free_seats = 1);
    // Pages of open games, oldest first; pass next_cursor back for the next page.
    OpenGamesPage open_games_page(std::size_t limit = 50, const Filters& filters = {},
                                  std::int32_t min_free_seats = 1,
                                  const std::optional<std::string>& cursor = std::nullopt);
    // Seat reservations (SPEC section 7). reserve_seat throws GameNotFound or SeatUnavailable.
    // `exclusive` (the default): a player holds at most one live reservation in the
    // namespace, so a seat in another game is refused (SeatRefusal::ReservedElsewhere); false
    // lets this reservation stand beside others (README "Seats").
    Reservation reserve_seat(const std::string& game_id, const std::string& player_id,
                             std::int64_t ttl_ms = 15'000, bool exclusive = true);
    bool cancel_reservation(const std::string& game_id, const std::string& player_id);
    // Reserves a seat in the oldest open game matching `filters`; nullopt when there is none.
    // `exclusive`: a player already holding a live seat in the namespace gets that seat back
    // when its game matches `filters`, so a retried call (after OutcomeUnknown) never takes a
    // second one; holding one that does not match, SeatUnavailable (ReservedElsewhere).
    std::optional<Reservation> quick_join(const std::string& player_id, const Filters& filters = {},
                                          std::int64_t ttl_ms = 15'000, bool exclusive = true);
    // Validates then applies. Invalid events throw InvalidArgument; unknown games, wrong
    // servers and rule violations come back as ApplyStatus::Rejected.
    ApplyResult apply(const Event& event);
    std::vector<ApplyResult> apply_many(std::span<const Event> events);
    // Removes games older than their set's max age at `now` (default: the clock).
    std::vector<Game> reap(std::optional<std::int64_t> now = std::nullopt);
    Counts counts();
    // Calls `callback` after every change committed through this handle, its copies and the
    // consumers made from it (change.hpp): create_game, each applied event, reservations,
    // cancellations, reaped games. Never for duplicates, rejections or refused calls.
    ChangeHandle on_change(ChangeCallback callback);
    // Counters and gauges of SPEC section 8 (Prometheus names; labels as name{label="v"}),
    // shared by every consumer made from this handle. Refreshes the game_data_games gauges
    // (when the backend cannot be read they keep their last values and the failure is counted
    // in game_data_backend_errors_total, so the counters can still be served).
    std::map<std::string, double> stats();

    EventPublisher publisher(std::string server_id, std::optional<std::string> stream = {},
                             std::int64_t maxlen = 0, bool stamp_seq = true);
    Consumer consumer(const ConsumerOptions& options);
    // A consumer group over the reaped stream(s): which games reap() removed (SPEC section 7).
    ReapedFeed reaped_feed(const ReapedFeedOptions& options = {});

    const ConnectOptions& options() const noexcept { return options_; }
    const std::shared_ptr<Store>& store() const noexcept { return store_; }
    std::string default_stream() const { return options_.ns + ":events"; }
    // The time that decides this handle's calls: its clock when given one, else the backend's.
    std::int64_t now() const { return clock_ ? clock_() : store_->clock(); }
    // The explicit time to pass down: the handle's clock, or nullopt for the backend's.
    Store::Now explicit_now() const { return clock_ ? Store::Now(clock_()) : std::nullopt; }
    const std::shared_ptr<Metrics>& metrics() const noexcept { return metrics_; }
    const std::shared_ptr<ChangeHooks>& change_hooks() const noexcept { return hooks_; }

private:
    std::shared_ptr<Store> store_;
    ConnectOptions options_;
    Clock clock_;
    std::shared_ptr<Metrics> metrics_;
    std::shared_ptr<ChangeHooks> hooks_;
};

// Opens the backend named by the URL (memory://, redis://, rediss://, unix://, or a scheme a
// plug-in registered). Loads the GAME_DATA_PLUGINS plug-ins first (once per process) and adds
// the change callbacks plug-ins registered to the new Matchmaker (plugin.hpp).
Matchmaker connect(const std::string& url, ConnectOptions options = {});

}  // namespace game_data
