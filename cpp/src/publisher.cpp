#include "game_data/publisher.hpp"

#include <chrono>

#include "game_data/errors.hpp"
#include "game_data/event_codec.hpp"
#include "game_data/validation.hpp"

namespace game_data {
namespace {

std::int64_t now_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

void validate_stream_name(const std::string& stream) {
    if (stream.empty() || stream.size() > 256) throw InvalidArgument("stream name must be 1..256 bytes");
}

}  // namespace

EventPublisher::EventPublisher(const std::string& url, std::string server_id, std::string stream,
                               std::int64_t maxlen, bool stamp_seq, const std::string& ns)
    : EventPublisher(std::shared_ptr<StreamTransport>{}, std::move(server_id),
                     stream.empty() ? ns + ":events" : std::move(stream), maxlen, stamp_seq) {
    validate_id("namespace", ns);
    ConnectOptions options;
    options.ns = ns;
    owned_store_ = open_store(Url::parse(url), options);
    transport_ = owned_store_->streams();
}

EventPublisher::EventPublisher(std::shared_ptr<StreamTransport> transport, std::string server_id,
                               std::string stream, std::int64_t maxlen, bool stamp_seq)
    : transport_(std::move(transport)), server_id_(std::move(server_id)), stream_(std::move(stream)),
      maxlen_(maxlen), stamp_seq_(stamp_seq) {
    validate_id("server_id", server_id_);
    validate_stream_name(stream_);
    if (maxlen_ < 0) throw InvalidArgument("maxlen must not be negative");
}

std::int64_t EventPublisher::next_seq() {
    std::int64_t last = last_seq_->load();
    std::int64_t next = 0;
    do {
        next = std::max(last + 1, now_us());
    } while (!last_seq_->compare_exchange_weak(last, next));
    return next;
}

std::string EventPublisher::publish(Event event) {
    if (event.server_id.empty()) event.server_id = server_id_;
    validate_event(event);
    if (!event.ts) event.ts = now_ms();
    if (stamp_seq_ && !event.seq) event.seq = next_seq();
    return transport_->add(stream_, encode_event(event), maxlen_);
}

std::string EventPublisher::publish_raw(const Fields& fields) {
    if (fields.empty()) throw InvalidArgument("a stream entry needs at least one field");
    return transport_->add(stream_, fields, maxlen_);
}

std::string EventPublisher::creator_joined(const std::string& game_id, const std::string& player_id) {
    return publish(Event{EventType::CreatorJoined, game_id, server_id_, player_id, {}, {}});
}
std::string EventPublisher::player_joined(const std::string& game_id, const std::string& player_id) {
    return publish(Event{EventType::PlayerJoined, game_id, server_id_, player_id, {}, {}});
}
std::string EventPublisher::player_left(const std::string& game_id, const std::string& player_id) {
    return publish(Event{EventType::PlayerLeft, game_id, server_id_, player_id, {}, {}});
}
std::string EventPublisher::all_players_joined(const std::string& game_id) {
    return publish(Event{EventType::AllPlayersJoined, game_id, server_id_, {}, {}, {}});
}
std::string EventPublisher::game_started(const std::string& game_id) {
    return publish(Event{EventType::GameStarted, game_id, server_id_, {}, {}, {}});
}
std::string EventPublisher::game_ended(const std::string& game_id) {
    return publish(Event{EventType::GameEnded, game_id, server_id_, {}, {}, {}});
}
std::string EventPublisher::heartbeat(const std::string& game_id) {
    return publish(Event{EventType::Heartbeat, game_id, server_id_, {}, {}, {}});
}

}  // namespace game_data
