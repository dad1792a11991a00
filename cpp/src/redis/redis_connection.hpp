// hiredis underneath the Redis backend: RAII owners for every handle and reply, one mapping
// from hiredis failures to the typed exceptions of errors.hpp, and a small connection pool.
// Builds against hiredis 0.14 and 1.x (only API present in both).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <hiredis/hiredis.h>

#include "game_data/store.hpp"
#include "game_data/url.hpp"

namespace game_data::redis {

struct ContextDeleter {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
};
struct ReplyDeleter {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

using Args = std::vector<std::string>;

// Where and how to connect: the URL plus the ConnectOptions it overrides.
struct Endpoint {
    bool unix_socket = false;
    bool tls = false;
    std::string host;
    int port = 6379;
    std::string path;
    std::string user;
    std::string password;
    int db = 0;
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds command_timeout{5000};
    int pool_size = 4;
    std::string display;  // redacted URL for messages
    std::shared_ptr<void> tls_context;  // OpenSSL SSL_CTX when built with hiredis_ssl
    std::string tls_name;  // sent as SNI; the server certificate must be issued for it

    // Throws InvalidArgument on bad options, Unsupported for rediss:// without hiredis_ssl.
    static Endpoint from(const Url& url, const ConnectOptions& options);
};

// When a failure happened: before anything was sent, or while a command was in flight.
enum class Stage { Connect, Command };

// What a Redis error reply means, parsed once from its code (the first word). Code that
// must tell error replies apart switches on this instead of matching message text.
enum class ErrorKind {
    None,           // not an error reply
    Other,          // any other error (ERR, NOPERM, a script's own error, ...)
    WrongType,      // WRONGTYPE: the key holds another type than the command needs
    NoGroup,        // NOGROUP: no such consumer group (or no such stream)
    StreamDeleted,  // UNBLOCKED: the stream was deleted while a read blocked on it
    BusyGroup,      // BUSYGROUP: XGROUP CREATE of a group that exists
    NoSuchKey,      // "ERR no such key": XINFO of a stream that does not exist
    NoScript,       // NOSCRIPT: the script is not in the script cache
    OutOfMemory,    // OOM: maxmemory reached, the command was refused unrun
    Loading,        // LOADING: the server is loading its data set
    MasterDown,     // MASTERDOWN: a replica lost its master and refuses to serve
    ExecAbort,      // EXECABORT: a MULTI transaction was discarded (a queued command failed)
};
ErrorKind error_kind(const redisReply& r);

// The one mapping from hiredis failures to typed exceptions. With a non-null error `reply`:
// by error_kind: OutOfMemory, BusyLoading, ConnectionError (MASTERDOWN), GroupMissing
// (NOGROUP, UNBLOCKED), ScriptMissing (NOSCRIPT), else ReplyError. Otherwise from the
// context: timeout -> TimeoutError, refused or unreachable at Connect -> ConnectionError,
// EOF/IO at Command -> OutcomeUnknown (outcome unknown).
[[noreturn]] void throw_error(Stage stage, const redisContext* context, const redisReply* reply,
                              const std::string& where);
// Throws as throw_error if `r` is an error reply; otherwise does nothing.
void throw_if_error(const redisReply& r, const std::string& where);

std::string_view reply_text(const redisReply& r);  // string, status or error payload

// One blocking connection; AUTH and SELECT done on open. Not thread safe: one user at a time
// (the pool guarantees it). After any I/O failure it is broken and never reused.
class Connection {
public:
    explicit Connection(const Endpoint& endpoint);

    // Sends one command and returns its reply (error replies included). Throws on I/O failure.
    ReplyPtr command(const Args& args);
    // Sends all commands, then reads one reply each: one round trip.
    std::vector<ReplyPtr> pipeline(const std::vector<Args>& commands);
    // Temporarily raises the read timeout (blocking stream reads); restored by restore_timeout.
    void set_timeout(std::chrono::milliseconds timeout);
    void restore_timeout();

    bool broken() const noexcept { return !context_ || context_->err != 0; }
    // True if the server closed this idle connection (e.g. it restarted); checked before reuse.
    bool peer_closed() const noexcept;

private:
    const Endpoint& endpoint_;
    ContextPtr context_;
};

// A fixed-size pool of connections, opened lazily and reopened after failures. Thread safe:
// acquire() blocks while all pool_size connections are lent out.
class ConnectionPool {
public:
    explicit ConnectionPool(Endpoint endpoint);

    class Lease {
    public:
        Lease(ConnectionPool* pool, std::unique_ptr<Connection> conn) noexcept
            : pool_(pool), conn_(std::move(conn)) {}
        Lease(Lease&& other) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        ~Lease();
        Connection* operator->() const noexcept { return conn_.get(); }
        Connection& operator*() const noexcept { return *conn_; }

    private:
        ConnectionPool* pool_;
        std::unique_ptr<Connection> conn_;
    };

    Lease acquire();
    const Endpoint& endpoint() const noexcept { return endpoint_; }

private:
    void give_back(std::unique_ptr<Connection> conn) noexcept;

    const Endpoint endpoint_;
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<Connection>> idle_;
    int open_ = 0;  // idle + lent out
};

}  // namespace game_data::redis
