// Waiting on a condition in tests: polls it until it holds or the deadline passes (never a
// fixed sleep standing in for synchronisation). Returns the condition's last value.
#pragma once

#include <chrono>
#include <thread>

namespace game_data::testing {

template <typename Pred>
bool wait_until(Pred pred, std::chrono::seconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::yield();
    }
    return pred();
}

}  // namespace game_data::testing
