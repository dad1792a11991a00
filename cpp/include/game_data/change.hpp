// Change callbacks (SPEC section 8): a Matchmaker calls them, in the calling thread, after each
// change made through it is committed. A callback that throws is logged and counted
// (game_data_callback_errors_total) and never undoes the change or stops the others.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "game_data/metrics.hpp"
#include "game_data/types.hpp"

namespace game_data {

enum class ChangeKind : std::uint8_t { Created = 0, Applied, Reserved, ReservationCancelled, Reaped };

// "created", "applied", "reserved", "reservation_cancelled", "reaped".
std::string_view to_string(ChangeKind kind) noexcept;

// One committed change. `state` is the game's state after it where the call knows it (created,
// applied, reaped: the state it was reaped in); nullopt for reservations, which change no state.
// `event` is the event applied (kind Applied only).
struct Change {
    ChangeKind kind = ChangeKind::Applied;
    std::string game_id;
    std::optional<GameState> state;
    std::optional<Event> event;

    bool operator==(const Change&) const = default;
};

using ChangeCallback = std::function<void(const Change&)>;

class ChangeHooks;

// What on_change returns. remove() unregisters the callback: idempotent, safe from inside any
// callback (the removed one is not called again once remove() returns, though a call already
// running in another thread finishes) and after the Matchmaker is gone. Dropping the handle
// does not remove the callback.
class ChangeHandle {
public:
    ChangeHandle() = default;
    void remove() noexcept;
    // True until remove() (through any copy of this handle).
    bool active() const noexcept;

private:
    friend class ChangeHooks;
    ChangeHandle(std::weak_ptr<ChangeHooks> hooks, std::uint64_t id)
        : hooks_(std::move(hooks)), id_(id) {}
    std::weak_ptr<ChangeHooks> hooks_;
    std::uint64_t id_ = 0;
};

// The callbacks of one Matchmaker, shared with its copies and the consumers made from it.
// Thread safe. With no callback registered, announcing a change costs one relaxed atomic load
// (active()); callbacks run with no lock held, so they may add, remove and call the library.
class ChangeHooks : public std::enable_shared_from_this<ChangeHooks> {
public:
    explicit ChangeHooks(std::shared_ptr<Metrics> metrics);

    ChangeHandle add(ChangeCallback callback);
    bool active() const noexcept { return count_.load(std::memory_order_relaxed) != 0; }

    // Call every callback with `change`; what one throws is logged and counted.
    void fire(const Change& change) noexcept;
    // One Applied change per event whose result is Applied, in order (results[i] is events[i]'s).
    void fire_applied(std::span<const Event> events, std::span<const ApplyResult> results) noexcept;
    // One Reaped change per game.
    void fire_reaped(std::span<const Game> games) noexcept;

private:
    friend class ChangeHandle;
    struct Entry {
        std::uint64_t id;
        ChangeCallback callback;
        std::atomic<bool> removed{false};
    };
    using List = std::vector<std::shared_ptr<Entry>>;

    bool remove(std::uint64_t id) noexcept;
    bool contains(std::uint64_t id) const noexcept;
    std::shared_ptr<const List> snapshot() const;
    void call(const List& list, const Change& change) noexcept;

    std::atomic<std::size_t> count_{0};
    mutable std::mutex mutex_;                  // guards callbacks_ (replaced, never changed)
    std::shared_ptr<const List> callbacks_;
    std::uint64_t next_id_ = 1;
    std::shared_ptr<Metrics> metrics_;
    Metrics::Series* errors_ = nullptr;
};

}  // namespace game_data
