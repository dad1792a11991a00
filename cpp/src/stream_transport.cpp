// Defaults of the optional StreamTransport operations, for transports (plug-ins, test
// wrappers) that do not provide them.
#include "game_data/errors.hpp"
#include "game_data/store.hpp"

namespace game_data {

void StreamTransport::check_block_ms(std::int64_t block_ms) {
    if (block_ms < 0 || block_ms > kMaxBlockMs) {
        throw InvalidArgument("block_ms must be between 0 and " + std::to_string(kMaxBlockMs));
    }
}

StreamTransport::LostEntries StreamTransport::take_lost(const std::string& stream,
                                                        const std::string& group) {
    return LostEntries{0, false, group_info(stream, group)};
}

std::int64_t StreamTransport::trim_acknowledged(const std::string& /*stream*/) {
    throw Unsupported("this stream transport cannot trim acknowledged entries");
}

std::int64_t StreamTransport::trim_unwatched(const std::string& /*stream*/,
                                            std::int64_t /*max_len*/) {
    return 0;
}

std::int64_t StreamTransport::remove(const std::string& /*stream*/,
                                     const std::vector<std::string>& /*ids*/) {
    throw Unsupported("this stream transport cannot delete entries");
}

std::vector<std::string> StreamTransport::remove_idle_consumers(const std::string& /*stream*/,
                                                                const std::string& /*group*/,
                                                                std::int64_t /*min_idle_ms*/,
                                                                const std::string& /*keep*/) {
    return {};
}

}  // namespace game_data
