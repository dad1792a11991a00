// Placeholder until the Redis backend lands.
#include "game_data/errors.hpp"
#include "game_data/store.hpp"

namespace game_data {
std::shared_ptr<Store> make_redis_store(const Url& url, const ConnectOptions&) {
    throw Unsupported("the Redis backend is not built yet: " + url.redacted());
}
}  // namespace game_data
