// The game-server side: publishes events to the stream in the wire format of SPEC section 3.
// Thread safe. With stamp_seq (default) every event gets a seq from one counter per publisher
// (microseconds since the epoch, bumped past the last one issued): increasing for every game,
// across publisher restarts, with no per-game state to grow.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "game_data/store.hpp"
#include "game_data/types.hpp"

namespace game_data {

class EventPublisher {
public:
    // Opens its own connection to the backend at `url` (memory://name shares a named
    // in-process backend). Publishes to `stream`, or when it is empty to "<ns>:events", the
    // stream a matchmaker connected with namespace `ns` reads by default.
    EventPublisher(const std::string& url, std::string server_id, std::string stream = {},
                   std::int64_t maxlen = 0, bool stamp_seq = true, const std::string& ns = "gd");
    EventPublisher(std::shared_ptr<StreamTransport> transport, std::string server_id,
                   std::string stream, std::int64_t maxlen = 0, bool stamp_seq = true);

    // Publishes as-is except: server_id defaults to this publisher's, seq is stamped when
    // enabled and absent, ts defaults to now. Returns the stream entry id.
    std::string publish(Event event);

    std::string creator_joined(const std::string& game_id, const std::string& player_id);
    std::string player_joined(const std::string& game_id, const std::string& player_id);
    std::string player_left(const std::string& game_id, const std::string& player_id);
    std::string all_players_joined(const std::string& game_id);
    std::string game_started(const std::string& game_id);
    std::string game_ended(const std::string& game_id);
    std::string heartbeat(const std::string& game_id);

    // Publishes raw fields without validation (tests of malformed input; foreign servers).
    std::string publish_raw(const Fields& fields);

    const std::string& server_id() const noexcept { return server_id_; }
    const std::string& stream() const noexcept { return stream_; }

private:
    std::int64_t next_seq();

    std::shared_ptr<Store> owned_store_;  // keeps a URL-opened backend alive
    std::shared_ptr<StreamTransport> transport_;
    std::string server_id_;
    std::string stream_;
    std::int64_t maxlen_;
    bool stamp_seq_;
    // unique_ptr: keeps the publisher movable.
    std::unique_ptr<std::atomic<std::int64_t>> last_seq_ = std::make_unique<std::atomic<std::int64_t>>(0);
};

}  // namespace game_data
