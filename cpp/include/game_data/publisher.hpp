// The game-server side: publishes events to the stream in the wire format of SPEC section 3.
// Thread safe. With stamp_seq (default) every event gets a per-game seq that increases across
// publisher restarts (microseconds since the epoch, bumped past the last one issued).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "game_data/store.hpp"
#include "game_data/types.hpp"

namespace game_data {

class EventPublisher {
public:
    // Opens its own connection to the backend at `url` (memory://name shares a named
    // in-process backend).
    EventPublisher(const std::string& url, std::string server_id, std::string stream = "gd:events",
                   std::int64_t maxlen = 0, bool stamp_seq = true);
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
    std::int64_t next_seq(const std::string& game_id);

    std::shared_ptr<Store> owned_store_;  // keeps a URL-opened backend alive
    std::shared_ptr<StreamTransport> transport_;
    std::string server_id_;
    std::string stream_;
    std::int64_t maxlen_;
    bool stamp_seq_;
    struct SeqState {
        std::mutex mutex;
        std::unordered_map<std::string, std::int64_t> last;
    };
    std::unique_ptr<SeqState> seqs_ = std::make_unique<SeqState>();  // unique_ptr: movable
};

}  // namespace game_data
