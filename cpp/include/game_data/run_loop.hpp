// The loop of a long-running job (the consume daemon; later the reap daemon), written once:
// step() until stop_requested(); a backend that is unavailable (any ConnectionError: lost,
// timed out, still loading, out of memory) is logged and retried with exponential backoff
// instead of ending the loop; report() runs every report_interval_ms and once at the end.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace game_data {

struct RunLoopOptions {
    std::string name = "loop";                // how log lines name the job
    std::int64_t report_interval_ms = 5'000;  // 0: report only at the end
    std::int64_t min_backoff_ms = 50;         // first retry delay, doubled up to max_backoff_ms
    std::int64_t max_backoff_ms = 2'000;
    bool retry = true;                        // false: the first ConnectionError ends the loop
};

// Guarantees: stop_requested() is checked before every step and at least every 50 ms of a
// backoff wait, so a stop ends the loop between steps, never inside one. Any other exception
// (from step or stop_requested) ends the loop and is rethrown after the final report; an
// exception from report() is logged and never ends the loop. Runs on the calling thread.
void run_loop(const std::function<bool()>& stop_requested, const std::function<void()>& step,
              const std::function<void()>& report, const RunLoopOptions& options = {});

}  // namespace game_data
