// A private redis-server for tests: a free loopback port and a fresh temp dir per instance, so
// tests never touch a shared Redis. Not thread safe for kill()/restart(); command() is.
// Servers die with the test process (even on a crash); start none in a forked child.
#pragma once

#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace game_data::testing {

// A private redis-server on a free loopback port in a fresh temp dir; stopped (SIGTERM, then
// SIGKILL) and the dir removed in the destructor. Throws std::runtime_error if redis-server
// cannot start. Waits for readiness by polling PING with a deadline (no fixed sleeps).
// Certificate files for a server that also listens with TLS (see tests/tls/make_certs.sh).
struct TlsFiles {
    std::string cert, key, ca;
};

class RedisServer {
public:
    // With tls, it also listens for TLS on tls_port() (client certificates optional).
    explicit RedisServer(bool appendonly = false, std::optional<TlsFiles> tls = std::nullopt);
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    int port() const;
    int tls_port() const;                       // 0 without TLS
    std::string url(int db = 0) const;          // "redis://127.0.0.1:<port>/<db>"
    std::string unix_socket() const;            // path of its unix socket (also enabled)
    void kill();                                // SIGKILL, wait for exit
    void restart();                             // start again, same port, dir and config (AOF kept)
    // Runs one command on a fresh hiredis connection; returns the reply flattened to strings
    // (integers as decimal, nil as "(nil)", arrays flattened in order). Throws on error replies.
    std::vector<std::string> command(const std::vector<std::string>& argv, int db = 0) const;

private:
    bool start();  // false if the server exited before answering PING (e.g. port taken)
    void stop(int signal);

    bool appendonly_;
    std::optional<TlsFiles> tls_;
    int port_ = 0;
    int tls_port_ = 0;
    std::string dir_;
    pid_t pid_ = -1;
};

RedisServer& shared_redis_server();             // one per test process, started lazily, never appendonly

}  // namespace game_data::testing
