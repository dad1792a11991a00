#include "game_data/event_codec.hpp"

#include <charconv>
#include <string>

#include "game_data/errors.hpp"
#include "game_data/validation.hpp"

namespace game_data {
namespace {

bool needs_player(EventType t) {
    return t == EventType::CreatorJoined || t == EventType::PlayerJoined ||
           t == EventType::PlayerLeft;
}

std::int64_t parse_count(const std::string& field, const std::string& value) {
    std::int64_t out = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (value.empty() || ec != std::errc{} || ptr != value.data() + value.size() || out < 0) {
        throw InvalidArgument(field + " is not a non-negative integer");
    }
    return out;
}

// Ids in reasons are never echoed: the dead letter already holds the original fields.
void check_id(const char* field, const std::string& value) {
    if (value.empty()) throw InvalidArgument(std::string(field) + " is empty");
    if (value.size() > kMaxIdBytes) throw InvalidArgument(std::string(field) + " is too long");
    if (!is_valid_id(value)) throw InvalidArgument(std::string(field) + " has invalid characters");
}

}  // namespace

Fields encode_event(const Event& e) {
    Fields f;
    f.reserve(6);
    f.emplace_back("type", std::string(to_string(e.type)));
    f.emplace_back("game_id", e.game_id);
    f.emplace_back("server_id", e.server_id);
    if (e.player_id) f.emplace_back("player_id", *e.player_id);
    if (e.ts) f.emplace_back("ts", std::to_string(*e.ts));
    if (e.seq) f.emplace_back("seq", std::to_string(*e.seq));
    return f;
}

Event decode_event(const Fields& fields) {
    const std::string* type = nullptr;
    const std::string* game = nullptr;
    const std::string* server = nullptr;
    const std::string* player = nullptr;
    const std::string* ts = nullptr;
    const std::string* seq = nullptr;
    for (const auto& [name, value] : fields) {
        const std::string** slot = nullptr;
        if (name == "type") slot = &type;
        else if (name == "game_id") slot = &game;
        else if (name == "server_id") slot = &server;
        else if (name == "player_id") slot = &player;
        else if (name == "ts") slot = &ts;
        else if (name == "seq") slot = &seq;
        else continue;
        if (*slot) throw InvalidArgument("field " + name + " is repeated");
        *slot = &value;
    }
    if (!type) throw InvalidArgument("missing field type");
    if (!game) throw InvalidArgument("missing field game_id");
    if (!server) throw InvalidArgument("missing field server_id");
    auto parsed = parse_event_type(*type);
    if (!parsed) throw InvalidArgument("unknown event type");

    Event e;
    e.type = *parsed;
    check_id("game_id", *game);
    check_id("server_id", *server);
    e.game_id = *game;
    e.server_id = *server;
    if (player) {
        check_id("player_id", *player);
        e.player_id = *player;
    } else if (needs_player(e.type)) {
        throw InvalidArgument("missing field player_id");
    }
    if (ts) e.ts = parse_count("ts", *ts);
    if (seq) {
        e.seq = parse_count("seq", *seq);
        if (*e.seq > kMaxSeq) throw InvalidArgument("seq is above 2^53 - 1");
    }
    return e;
}

void validate_event(const Event& e) {
    validate_id("game_id", e.game_id);
    validate_id("server_id", e.server_id);
    if (e.player_id) {
        validate_id("player_id", *e.player_id);
    } else if (needs_player(e.type)) {
        throw InvalidArgument(std::string(to_string(e.type)) + " needs a player_id");
    }
    if (e.ts && *e.ts < 0) throw InvalidArgument("ts must not be negative");
    if (e.seq && *e.seq < 0) throw InvalidArgument("seq must not be negative");
    if (e.seq && *e.seq > kMaxSeq) throw InvalidArgument("seq must be at most 2^53 - 1");
}

}  // namespace game_data
