#include "game_data/change.hpp"

#include <array>
#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "game_data/logging.hpp"

namespace game_data {
namespace {

constexpr std::array<std::string_view, 5> kChangeKindNames = {
    "created", "applied", "reserved", "reservation_cancelled", "reaped"};

}  // namespace

std::string_view to_string(ChangeKind kind) noexcept {
    return kChangeKindNames[static_cast<std::size_t>(kind)];
}

void ChangeHandle::remove() noexcept {
    if (auto hooks = hooks_.lock()) hooks->remove(id_);
}

bool ChangeHandle::active() const noexcept {
    auto hooks = hooks_.lock();
    return hooks && hooks->contains(id_);
}

ChangeHooks::ChangeHooks(std::shared_ptr<Metrics> metrics)
    : callbacks_(std::make_shared<const List>()),
      metrics_(metrics ? std::move(metrics) : std::make_shared<Metrics>()),
      // The counter exists from the start (at 0): a dashboard sees "no failures", not "unknown".
      errors_(&metrics_->counter(metric::kCallbackErrorsTotal)) {}

ChangeHandle ChangeHooks::add(ChangeCallback callback) {
    auto entry = std::make_shared<Entry>();
    entry->callback = std::move(callback);
    std::shared_ptr<const List> old;  // released after the lock (see remove)
    std::lock_guard lock(mutex_);
    entry->id = next_id_++;
    auto list = std::make_shared<List>(*callbacks_);
    list->push_back(entry);
    old = std::exchange(callbacks_, std::move(list));
    count_.store(callbacks_->size(), std::memory_order_relaxed);
    return ChangeHandle(weak_from_this(), entry->id);
}

bool ChangeHooks::remove(std::uint64_t id) noexcept {
    // The removed callback may be freed with the old list: after the lock, since freeing a
    // Python callback takes the GIL.
    std::shared_ptr<const List> old;
    std::lock_guard lock(mutex_);
    bool found = false;
    for (const auto& e : *callbacks_) {
        if (e->id == id && !e->removed.exchange(true)) found = true;  // snapshots skip it now
    }
    if (!found) return false;
    try {
        auto list = std::make_shared<List>();
        for (const auto& e : *callbacks_) {
            if (e->id != id) list->push_back(e);
        }
        old = std::exchange(callbacks_, std::move(list));
        count_.store(callbacks_->size(), std::memory_order_relaxed);
    } catch (const std::bad_alloc&) {
        // Left in the list, flagged: never called again, only the fast path is lost.
    }
    return true;
}

bool ChangeHooks::contains(std::uint64_t id) const noexcept {
    std::lock_guard lock(mutex_);
    for (const auto& e : *callbacks_) {
        if (e->id == id) return !e->removed.load();
    }
    return false;
}

std::shared_ptr<const ChangeHooks::List> ChangeHooks::snapshot() const {
    std::lock_guard lock(mutex_);
    return callbacks_;
}

void ChangeHooks::call(const List& list, const Change& change) noexcept {
    for (const auto& entry : list) {
        if (entry->removed.load()) continue;
        try {
            entry->callback(change);
        } catch (const std::exception& e) {
            errors_->add();
            logger()->error("change callback failed on {} of game '{}': {}", to_string(change.kind),
                            change.game_id, e.what());
        } catch (...) {
            errors_->add();
            logger()->error("change callback failed on {} of game '{}': unknown exception",
                            to_string(change.kind), change.game_id);
        }
    }
}

void ChangeHooks::fire(const Change& change) noexcept {
    if (!active()) return;
    call(*snapshot(), change);
}

void ChangeHooks::fire_applied(std::span<const Event> events,
                               std::span<const ApplyResult> results) noexcept {
    if (!active()) return;
    const auto list = snapshot();
    const std::size_t n = std::min(events.size(), results.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (results[i].status != ApplyStatus::Applied) continue;
        call(*list, Change{ChangeKind::Applied, events[i].game_id, results[i].state, events[i]});
    }
}

void ChangeHooks::fire_reaped(std::span<const Game> games) noexcept {
    if (!active()) return;
    const auto list = snapshot();
    for (const Game& g : games) call(*list, Change{ChangeKind::Reaped, g.id, g.state, std::nullopt});
}

}  // namespace game_data
