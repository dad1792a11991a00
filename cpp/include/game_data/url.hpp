// Backend URLs: memory://[name], redis://[user:password@]host[:port][/db][?opts],
// rediss://..., unix:///path/to/socket[?db=N&opts]. Query options: connect_timeout_ms,
// timeout_ms, pool_size. Throws InvalidArgument on anything malformed (an option given twice
// too), never quoting the text given (it may hold a password): a '?' in a password must be
// percent-encoded (%3F).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace game_data {

struct Url {
    std::string scheme;                 // "memory", "redis", "rediss", "unix"
    std::string user;
    std::string password;
    std::string host;                   // memory: the instance name ("" = private)
    int port = 6379;
    std::string path;                   // unix socket path
    int db = 0;
    std::map<std::string, std::string> query;

    static Url parse(std::string_view text);
    // The URL with any password replaced by "***" (other schemes: all before an '@'), for logs
    // and errors.
    std::string redacted() const;
    std::optional<std::int64_t> query_int(std::string_view key) const;  // throws on non-integers
};

}  // namespace game_data
