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
#include <arpa/inet.h>
#include <hiredis/hiredis_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
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

#ifdef GAME_DATA_HAVE_HIREDIS_SSL
// The last OpenSSL error of this thread as text (its queue is cleared).
std::string openssl_error() {
    const unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    return text;
}

// A client context that verifies the server's chain against ca_cert/ca_path (the system's CA
// store when neither is given) and presents cert/key when given. hiredis' own context builder
// is not used: it checks the chain but not the server's name, which connect() checks per SSL.
std::shared_ptr<void> make_tls_context(const std::string& ca_cert, const std::string& ca_path,
                                       const std::string& cert, const std::string& key,
                                       const std::string& display) {
    std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    if (!ctx) throw ConnectionError("cannot set up TLS for " + display + ": " + openssl_error());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    auto c_or_null = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
    const bool cas_loaded =
        ca_cert.empty() && ca_path.empty()
            ? SSL_CTX_set_default_verify_paths(ctx.get()) == 1
            : SSL_CTX_load_verify_locations(ctx.get(), c_or_null(ca_cert), c_or_null(ca_path)) == 1;
    if (!cas_loaded) {
        throw ConnectionError("cannot set up TLS for " + display +
                              ": cannot load the CA certificates (ca_cert, ca_path): " +
                              openssl_error());
    }
    if (!cert.empty() && SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1) {
        throw ConnectionError("cannot set up TLS for " + display +
                              ": cannot load the client certificate (cert): " + openssl_error());
    }
    if (!key.empty() && SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
        throw ConnectionError("cannot set up TLS for " + display +
                              ": cannot load the client key (key): " + openssl_error());
    }
    return ctx;
}

// A TLS session for one connection: SNI and the name the certificate must match (an IP
// address is matched against the certificate's IP entries).
SSL* new_tls_session(const Endpoint& e) {
    SSL* ssl = SSL_new(static_cast<SSL_CTX*>(e.tls_context.get()));
    if (!ssl) throw ConnectionError("cannot set up TLS for " + e.display + ": " + openssl_error());
    in6_addr ip{};
    const bool is_ip = ::inet_pton(AF_INET, e.tls_name.c_str(), &ip) == 1 ||
                       ::inet_pton(AF_INET6, e.tls_name.c_str(), &ip) == 1;
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    // Names are matched against the subjectAltName only, as browsers and Go do: without this
    // flag OpenSSL falls back to the subject CN of a certificate that has no DNS names.
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
    const bool ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, e.tls_name.c_str()) == 1
                          : SSL_set_tlsext_host_name(ssl, e.tls_name.c_str()) == 1 &&
                                X509_VERIFY_PARAM_set1_host(param, e.tls_name.c_str(), 0) == 1;
    if (!ok) {
        SSL_free(ssl);
        throw ConnectionError("cannot set up TLS for " + e.display + " with server name '" +
                              e.tls_name + "': " + openssl_error());
    }
    return ssl;
}

// Whether a failed handshake met a server that does not speak TLS: it sent nothing back (a
// plain Redis waits for more of its "command"), or bytes that are no TLS record.
bool server_did_not_speak_tls(SSL* ssl) {
    if (BIO_number_read(SSL_get_rbio(ssl)) == 0) return true;
    const unsigned long code = ERR_peek_last_error();
    if (ERR_GET_LIB(code) != ERR_LIB_SSL) return false;
    const int reason = ERR_GET_REASON(code);
    return reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
           reason == SSL_R_HTTP_REQUEST;
}
#endif

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
        for (const char* file : {"cert", "key"}) {
            const auto it = url.query.find(file);
            if (it != url.query.end() && it->second.empty()) {
                throw InvalidArgument(std::string("URL option ") + file + " is empty in URL " +
                                      url.redacted());
            }
        }
        if (url.query.contains("cert") != url.query.contains("key")) {
            throw InvalidArgument(std::string("URL option ") +
                                  (url.query.contains("cert") ? "cert is given without key"
                                                              : "key is given without cert") +
                                  " in URL " + url.redacted() +
                                  ": a client certificate (cert=FILE) needs its private key "
                                  "(key=FILE), and the other way round");
        }
#ifdef GAME_DATA_HAVE_HIREDIS_SSL
        static const int ssl_init = redisInitOpenSSL();
        (void)ssl_init;
        auto opt = [&](const char* key) -> std::string {
            auto it = url.query.find(key);
            return it == url.query.end() ? std::string() : it->second;
        };
        e.tls_name = url.query.contains("sni") ? opt("sni") : e.host;
        e.tls_context = make_tls_context(opt("ca_cert"), opt("ca_path"), opt("cert"), opt("key"),
                                         e.display);
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
    if (code == "WRONGTYPE") return ErrorKind::WrongType;
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
    if (endpoint.tls) {
        SSL* ssl = new_tls_session(endpoint);
        if (redisInitiateSSL(context_.get(), ssl) != REDIS_OK) {  // on failure ssl stays ours
            const long verify = SSL_get_verify_result(ssl);
            const bool not_tls = verify == X509_V_OK && server_did_not_speak_tls(ssl);
            SSL_free(ssl);
            ERR_clear_error();
            if (verify != X509_V_OK) {
                const bool name = verify == X509_V_ERR_HOSTNAME_MISMATCH ||
                                  verify == X509_V_ERR_IP_ADDRESS_MISMATCH;
                throw ConnectionError("TLS handshake with " + where +
                                      " failed: the server certificate was not accepted (" +
                                      X509_verify_cert_error_string(verify) +
                                      "; checked against ca_cert/ca_path or the system CAs, "
                                      "for the server name '" + endpoint.tls_name + "'" +
                                      (name ? ", which must be in the certificate's "
                                              "subjectAltName: a name only in its subject CN is "
                                              "not accepted"
                                            : "") +
                                      ")");
            }
            if (not_tls) {
                throw ConnectionError(
                    "TLS handshake with " + where + " failed: the server did not speak TLS (no "
                    "TLS answer within connect_timeout_ms=" +
                    std::to_string(endpoint.connect_timeout.count()) +
                    "); the port may be a plain Redis port: use redis:// for it, or the "
                    "server's TLS port");
            }
            throw_error(Stage::Connect, context_.get(), nullptr, where + " (TLS handshake)");
        }
    }
#endif
    if (redisSetTimeout(context_.get(), to_timeval(endpoint.command_timeout)) != REDIS_OK) {
        throw_error(Stage::Connect, context_.get(), nullptr, where);
    }
    // Handshake failures are connection failures: none of the caller's commands was sent.
    const bool plain_tcp = !endpoint.unix_socket && !endpoint.tls;
    auto handshake = [&](const Args& args) {
        std::vector<const char*> argv;
        std::vector<size_t> lens;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(
            context_.get(), static_cast<int>(argv.size()), argv.data(), lens.data())));
        if (!reply && plain_tcp && !is_timeout(*context_) &&
            (context_->err == REDIS_ERR_EOF || context_->err == REDIS_ERR_IO)) {
            // A TLS listener drops a client that talks plain text.
            throw ConnectionError("cannot connect: " + where + ": the server closed the "
                                  "connection on the first command (" + context_->errstr +
                                  "); if this is a TLS port, use rediss://");
        }
        if (!reply) throw_error(Stage::Connect, context_.get(), nullptr, where);
        return reply;
    };
    // Plain TCP proves the server speaks Redis before the caller's first command (whose outcome
    // would be unknown): with AUTH or SELECT when there are any, else with PING (an error reply
    // such as NOAUTH proves it too).
    if (plain_tcp && endpoint.password.empty() && endpoint.db == 0) (void)handshake({"PING"});
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
