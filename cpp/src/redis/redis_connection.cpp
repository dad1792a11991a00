#include "redis/redis_connection.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <array>
#include <ctime>

#include <spdlog/spdlog.h>

#include "game_data/errors.hpp"
#include "game_data/logging.hpp"

#ifdef GAME_DATA_HAVE_HIREDIS_SSL
#include <hiredis/hiredis_ssl.h>
#endif

namespace game_data::redis {
namespace {

constexpr std::int64_t kMaxTimeoutMs = 24LL * 3600 * 1000;
constexpr std::int64_t kMaxPoolSize = 1024;
constexpr std::array<std::string_view, 3> kCommonOptions = {"connect_timeout_ms", "timeout_ms",
                                                            "pool_size"};
constexpr std::array<std::string_view, 5> kTlsOptions = {"ca_cert", "ca_path", "cert", "key",
                                                         "sni"};

timeval to_timeval(std::chrono::milliseconds ms) {
    return timeval{static_cast<time_t>(ms.count() / 1000),
                   static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

bool is_timeout(const redisContext& c) {
#if HIREDIS_MAJOR >= 1
    if (c.err == REDIS_ERR_TIMEOUT) return true;
#endif
    if (c.err != REDIS_ERR_IO) return false;
    // hiredis 0.14 reports a socket timeout as an I/O error carrying strerror(EAGAIN/ETIMEDOUT).
    std::string_view s(c.errstr);
    return s.find("temporarily unavailable") != std::string_view::npos ||
           s.find("timed out") != std::string_view::npos ||
           s.find("timeout") != std::string_view::npos;
}

std::chrono::milliseconds option_ms(const Url& url, std::string_view key, std::int64_t fallback) {
    const std::int64_t v = url.query_int(key).value_or(fallback);
    if (v <= 0 || v > kMaxTimeoutMs) {
        throw InvalidArgument(std::string(key) + " must be between 1 and " +
                              std::to_string(kMaxTimeoutMs) + " ms");
    }
    return std::chrono::milliseconds(v);
}

// hiredis writes with write()/send() without MSG_NOSIGNAL; a write to a server that just died
// would raise SIGPIPE and kill the process. Block it on this thread for the duration of a call
// and swallow a SIGPIPE the call itself raised; the failed write is reported as an I/O error.
class SigpipeGuard {
public:
    SigpipeGuard() noexcept {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        sigemptyset(&pending);
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    }
    ~SigpipeGuard() {
        if (!was_pending_) {
            sigset_t pending;
            sigemptyset(&pending);
            sigpending(&pending);
            if (sigismember(&pending, SIGPIPE) == 1) {
                timespec zero{0, 0};
                sigtimedwait(&pipe_, nullptr, &zero);
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

private:
    sigset_t pipe_;
    sigset_t old_;
    bool was_pending_ = false;
};

std::string describe(const Args& args, const Endpoint& endpoint) {
    return (args.empty() ? std::string("command") : args.front()) + " on " + endpoint.display;
}

}  // namespace

Endpoint Endpoint::from(const Url& url, const ConnectOptions& options) {
    Endpoint e;
    if (url.scheme == "unix") {
        e.unix_socket = true;
        e.path = url.path;
        e.db = url.db;
    } else if (url.scheme == "redis" || url.scheme == "rediss") {
        e.tls = url.scheme == "rediss";
        e.host = url.host;
        e.port = url.port;
        e.user = url.user;
        e.password = url.password;
        e.db = url.db;
    } else {
        throw InvalidArgument("not a Redis URL: " + url.redacted() +
                              " (expected redis://, rediss:// or unix://)");
    }
    for (const auto& [key, value] : url.query) {
        bool known = false;
        for (auto k : kCommonOptions) known = known || key == k;
        if (e.unix_socket) known = known || key == "db";
        if (e.tls) {
            for (auto k : kTlsOptions) known = known || key == k;
        }
        if (!known) {
            throw InvalidArgument("unknown option '" + key + "' in URL " + url.redacted() +
                                  " (known: connect_timeout_ms, timeout_ms, pool_size" +
                                  (e.unix_socket ? ", db" : "") +
                                  (e.tls ? ", ca_cert, ca_path, cert, key, sni" : "") + ")");
        }
    }
    e.connect_timeout = option_ms(url, "connect_timeout_ms", options.connect_timeout_ms);
    e.command_timeout = option_ms(url, "timeout_ms", options.command_timeout_ms);
    const std::int64_t pool = url.query_int("pool_size").value_or(options.pool_size);
    if (pool < 1 || pool > kMaxPoolSize) {
        throw InvalidArgument("pool_size must be between 1 and " + std::to_string(kMaxPoolSize));
    }
    e.pool_size = static_cast<int>(pool);
    e.display = url.redacted();
    if (e.unix_socket && e.db != 0) e.display += "?db=" + std::to_string(e.db);

    if (e.tls) {
#ifdef GAME_DATA_HAVE_HIREDIS_SSL
        static const int ssl_init = redisInitOpenSSL();
        (void)ssl_init;
        auto opt = [&](const char* key) -> std::string {
            auto it = url.query.find(key);
            return it == url.query.end() ? std::string() : it->second;
        };
        const std::string ca_cert = opt("ca_cert"), ca_path = opt("ca_path"), cert = opt("cert"),
                          key = opt("key");
        const std::string sni = url.query.contains("sni") ? opt("sni") : e.host;
        auto c_or_null = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
        redisSSLContextError err = REDIS_SSL_CTX_NONE;
        redisSSLContext* ctx = redisCreateSSLContext(c_or_null(ca_cert), c_or_null(ca_path),
                                                     c_or_null(cert), c_or_null(key),
                                                     c_or_null(sni), &err);
        if (!ctx) {
            throw ConnectionError("cannot set up TLS for " + e.display + ": " +
                                  redisSSLContextGetError(err));
        }
        e.tls_context = std::shared_ptr<void>(
            ctx, [](void* p) { redisFreeSSLContext(static_cast<redisSSLContext*>(p)); });
#else
        throw Unsupported("rediss:// needs TLS, but this build of game_data uses a hiredis "
                          "without SSL support (hiredis_ssl was not found at build time); use "
                          "redis:// or rebuild with libhiredis-ssl installed");
#endif
    }
    return e;
}

ErrorKind error_kind(const redisReply& r) {
    if (r.type != REDIS_REPLY_ERROR) return ErrorKind::None;
    const std::string_view text = reply_text(r);
    const std::string_view code = text.substr(0, text.find(' '));
    if (code == "NOGROUP") return ErrorKind::NoGroup;
    if (code == "UNBLOCKED") {
        // Redis 7 also answers CLIENT UNBLOCK ... ERROR with UNBLOCKED; only a deleted
        // stream means the group is gone.
        return text.find("no longer exists") != std::string_view::npos ? ErrorKind::StreamDeleted
                                                                       : ErrorKind::Other;
    }
    if (code == "BUSYGROUP") return ErrorKind::BusyGroup;
    if (code == "NOSCRIPT") return ErrorKind::NoScript;
    if (code == "OOM") return ErrorKind::OutOfMemory;
    if (code == "LOADING") return ErrorKind::Loading;
    if (code == "MASTERDOWN") return ErrorKind::MasterDown;
    if (code == "EXECABORT") return ErrorKind::ExecAbort;
    if (text == "ERR no such key") return ErrorKind::NoSuchKey;
    return ErrorKind::Other;
}

void throw_error(Stage stage, const redisContext* context, const redisReply* reply,
                 const std::string& where) {
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        const std::string text(reply_text(*reply));
        switch (error_kind(*reply)) {
            // Refused unrun: the server is not usable now; retrying later is safe.
            case ErrorKind::OutOfMemory:
                throw OutOfMemory(where + " refused, Redis is out of memory: " + text);
            case ErrorKind::Loading:
                throw BusyLoading(where + " refused, Redis is loading its data: " + text);
            case ErrorKind::MasterDown:
                throw ConnectionError(where + " refused, Redis is not ready: " + text);
            case ErrorKind::NoGroup:
            case ErrorKind::StreamDeleted:
                throw GroupMissing("Redis error from " + where + ": " + text);
            case ErrorKind::NoScript:
                throw ScriptMissing("Redis error from " + where + ": " + text);
            default:
                throw ReplyError("Redis error from " + where + ": " + text);
        }
    }
    if (!context) throw ConnectionError("cannot allocate a hiredis context for " + where);
    const std::string detail = context->errstr[0] ? context->errstr : "unknown hiredis error";
    if (stage == Stage::Connect) {
        if (is_timeout(*context)) throw TimeoutError("timed out connecting: " + where + ": " + detail);
        throw ConnectionError("cannot connect: " + where + ": " + detail);
    }
    if (is_timeout(*context)) {
        throw TimeoutError("no reply in time from " + where + " (" + detail +
                           "); the outcome is unknown");
    }
    switch (context->err) {
        case REDIS_ERR_EOF:
        case REDIS_ERR_IO:
            throw OutcomeUnknown("connection lost during " + where + " (" + detail +
                                 "); the outcome is unknown");
        default:
            throw ConnectionError("connection failed during " + where + ": " + detail);
    }
}

void throw_if_error(const redisReply& r, const std::string& where) {
    if (r.type == REDIS_REPLY_ERROR) throw_error(Stage::Command, nullptr, &r, where);
}

std::string_view reply_text(const redisReply& r) {
    if (r.type == REDIS_REPLY_STRING || r.type == REDIS_REPLY_STATUS ||
        r.type == REDIS_REPLY_ERROR) {
        return std::string_view(r.str, r.len);
    }
    return {};
}

Connection::Connection(const Endpoint& endpoint) : endpoint_(endpoint) {
    SigpipeGuard guard;  // the TLS handshake and AUTH/SELECT write too
    const timeval connect_tv = to_timeval(endpoint.connect_timeout);
    const std::string where = endpoint.display;
    context_.reset(endpoint.unix_socket
                       ? redisConnectUnixWithTimeout(endpoint.path.c_str(), connect_tv)
                       : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, connect_tv));
    if (!context_ || context_->err) throw_error(Stage::Connect, context_.get(), nullptr, where);
#ifdef GAME_DATA_HAVE_HIREDIS_SSL
    // The TLS handshake is part of connecting: bounded by the connect timeout.
    if (endpoint.tls && redisSetTimeout(context_.get(), connect_tv) != REDIS_OK) {
        throw_error(Stage::Connect, context_.get(), nullptr, where);
    }
    if (endpoint.tls &&
        redisInitiateSSLWithContext(context_.get(),
                                    static_cast<redisSSLContext*>(endpoint.tls_context.get())) !=
            REDIS_OK) {
        throw_error(Stage::Connect, context_.get(), nullptr, where + " (TLS handshake)");
    }
#endif
    if (redisSetTimeout(context_.get(), to_timeval(endpoint.command_timeout)) != REDIS_OK) {
        throw_error(Stage::Connect, context_.get(), nullptr, where);
    }
    // Handshake failures are connection failures: none of the caller's commands was sent.
    auto handshake = [&](const Args& args) {
        std::vector<const char*> argv;
        std::vector<size_t> lens;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(
            context_.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
        if (!reply) throw_error(Stage::Connect, context_.get(), nullptr, where);
        return reply;
    };
    if (!endpoint.password.empty()) {
        Args auth = endpoint.user.empty() ? Args{"AUTH", endpoint.password}
                                          : Args{"AUTH", endpoint.user, endpoint.password};
        ReplyPtr reply = handshake(auth);
        if (reply->type == REDIS_REPLY_ERROR) {
            throw ConnectionError("authentication failed for " + where + ": " +
                                  std::string(reply_text(*reply)));
        }
    }
    if (endpoint.db != 0) {
        ReplyPtr reply = handshake({"SELECT", std::to_string(endpoint.db)});
        if (reply->type == REDIS_REPLY_ERROR) {
            throw InvalidArgument("cannot select database " + std::to_string(endpoint.db) +
                                  " on " + where + ": " + std::string(reply_text(*reply)));
        }
    }
}

ReplyPtr Connection::command(const Args& args) {
    SigpipeGuard guard;
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    void* raw = redisCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                                 lens.data());
    if (!raw) throw_error(Stage::Command, context_.get(), nullptr, describe(args, endpoint_));
    return ReplyPtr(static_cast<redisReply*>(raw));
}

std::vector<ReplyPtr> Connection::pipeline(const std::vector<Args>& commands) {
    SigpipeGuard guard;
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& args : commands) {
        argv.clear();
        lens.clear();
        for (const auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                                   lens.data()) != REDIS_OK) {
            throw_error(Stage::Connect, context_.get(), nullptr, describe(args, endpoint_));
        }
    }
    std::vector<ReplyPtr> replies;
    replies.reserve(commands.size());
    for (const auto& args : commands) {
        void* raw = nullptr;
        if (redisGetReply(context_.get(), &raw) != REDIS_OK || !raw) {
            throw_error(Stage::Command, context_.get(), nullptr,
                        describe(args, endpoint_) + " (pipeline of " +
                            std::to_string(commands.size()) + ")");
        }
        replies.emplace_back(static_cast<redisReply*>(raw));
    }
    return replies;
}

void Connection::set_timeout(std::chrono::milliseconds timeout) {
    if (redisSetTimeout(context_.get(), to_timeval(timeout)) != REDIS_OK) {
        throw_error(Stage::Connect, context_.get(), nullptr, endpoint_.display);
    }
}

void Connection::restore_timeout() { set_timeout(endpoint_.command_timeout); }

bool Connection::peer_closed() const noexcept {
    if (broken()) return true;
    pollfd p{};
    p.fd = context_->fd;
    p.events = POLLIN;
    // An idle connection has nothing to read: readable means EOF, an error or stray data.
    return ::poll(&p, 1, 0) != 0;
}

ConnectionPool::ConnectionPool(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

ConnectionPool::Lease::~Lease() {
    if (conn_) pool_->give_back(std::move(conn_));
}

ConnectionPool::Lease ConnectionPool::acquire() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return !idle_.empty() || open_ < endpoint_.pool_size; });
    while (!idle_.empty()) {
        std::unique_ptr<Connection> conn = std::move(idle_.back());
        idle_.pop_back();
        if (!conn->peer_closed()) return Lease(this, std::move(conn));
        --open_;
        logger()->info("redis: dropping a closed connection to {}", endpoint_.display);
    }
    ++open_;
    lock.unlock();
    try {
        return Lease(this, std::make_unique<Connection>(endpoint_));
    } catch (...) {
        lock.lock();
        --open_;
        available_.notify_one();
        throw;
    }
}

void ConnectionPool::give_back(std::unique_ptr<Connection> conn) noexcept {
    {
        std::lock_guard lock(mutex_);
        if (conn->broken()) {
            --open_;
        } else {
            idle_.push_back(std::move(conn));
        }
    }
    available_.notify_one();
}

}  // namespace game_data::redis
