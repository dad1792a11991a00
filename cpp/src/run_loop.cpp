#include "game_data/run_loop.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <thread>

#include <spdlog/spdlog.h>

#include "game_data/errors.hpp"
#include "game_data/logging.hpp"
#include "game_data/types.hpp"

namespace game_data {
namespace {

constexpr std::int64_t kStopCheckMs = 50;

void report_safely(const std::function<void()>& report, const std::string& name) {
    if (!report) return;
    try {
        report();
    } catch (const std::exception& e) {
        logger()->warn("{}: report failed: {}", name, e.what());
    }
}

// Waits `ms`, ending early once stop_requested(). A retry delay, not synchronisation.
void backoff_wait(const std::function<bool()>& stop_requested, std::int64_t ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!stop_requested()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return;
        std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(kStopCheckMs)));
    }
}

}  // namespace

void run_loop(const std::function<bool()>& stop_requested, const std::function<void()>& step,
              const std::function<void()>& report, const RunLoopOptions& options) {
    const std::int64_t min_backoff = std::max<std::int64_t>(options.min_backoff_ms, 1);
    const std::int64_t max_backoff = std::max(options.max_backoff_ms, min_backoff);
    std::int64_t next_report = now_ms() + options.report_interval_ms;
    std::int64_t backoff_ms = 0;
    std::exception_ptr failure;
    try {
        while (!stop_requested()) {
            try {
                step();
                backoff_ms = 0;
            } catch (const ConnectionError& e) {
                if (!options.retry) throw;
                // Ride out an unavailable backend: the step is simply tried again.
                backoff_ms = std::clamp(backoff_ms * 2, min_backoff, max_backoff);
                logger()->warn("{}: {}; retrying in {} ms", options.name, e.what(), backoff_ms);
                backoff_wait(stop_requested, backoff_ms);
            }
            if (options.report_interval_ms > 0 && now_ms() >= next_report) {
                next_report = now_ms() + options.report_interval_ms;
                report_safely(report, options.name);
            }
        }
    } catch (...) {
        failure = std::current_exception();
    }
    report_safely(report, options.name);
    if (failure) std::rethrow_exception(failure);
}

}  // namespace game_data
