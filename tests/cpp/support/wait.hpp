// Waiting on a condition with a deadline, instead of sleeping for a guessed time.
#pragma once

#include <chrono>
#include <thread>

namespace game_data::testing {

// Polls `pred` until it holds or `limit` passes; returns whether it held.
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
