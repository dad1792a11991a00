#include "redis_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

#include <hiredis/hiredis.h>

#include "redis/redis_connection.hpp"

namespace game_data::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartDeadline = std::chrono::seconds(15);
constexpr auto kStopDeadline = std::chrono::seconds(5);
constexpr auto kPollInterval = std::chrono::milliseconds(5);

using redis::ContextPtr;  // the library's own RAII owners for hiredis handles
using redis::ReplyPtr;

// Serialises port picking and startup so two servers in one process never race for a port.
std::mutex& start_mutex() {
    static std::mutex m;
    return m;
}

int pick_free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

// Starts every redis-server from one thread that lives as long as the process, so each server
// can be told to die with it (PR_SET_PDEATHSIG follows the forking thread, not the process):
// a crashed or killed test run leaves no orphaned servers behind.
class Spawner {
public:
    static Spawner& instance() {
        static Spawner* s = new Spawner;  // never destroyed: its thread must outlive all servers
        return *s;
    }

    pid_t spawn(std::vector<std::string> argv) {
        Request r{std::move(argv)};
        std::unique_lock lock(mutex_);
        queue_.push_back(&r);
        cv_.notify_all();
        cv_.wait(lock, [&] { return r.done; });
        if (r.pid < 0) throw std::runtime_error("fork failed");
        return r.pid;
    }

private:
    struct Request {
        std::vector<std::string> argv;
        pid_t pid = -1;
        bool done = false;
    };

    Spawner() { std::thread([this] { serve(); }).detach(); }

    void serve() {
        std::unique_lock lock(mutex_);
        while (true) {
            cv_.wait(lock, [&] { return !queue_.empty(); });
            Request* r = queue_.front();
            queue_.pop_front();
            std::vector<char*> cargv;
            for (auto& a : r->argv) cargv.push_back(a.data());
            cargv.push_back(nullptr);
            const pid_t parent = ::getpid();
            const pid_t pid = ::fork();
            if (pid == 0) {  // only async-signal-safe calls until exec
                ::prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (::getppid() != parent) ::_exit(1);
                const int null = ::open("/dev/null", O_RDWR);
                if (null >= 0) {
                    ::dup2(null, 0);
                    ::dup2(null, 1);
                    ::dup2(null, 2);
                }
                ::execvp(cargv[0], cargv.data());
                ::_exit(127);
            }
            r->pid = pid;
            r->done = true;
            cv_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Request*> queue_;
};

ContextPtr connect_to(int port, std::chrono::milliseconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ContextPtr c(redisConnectWithTimeout("127.0.0.1", port, tv));
    if (!c || c->err) return nullptr;
    redisSetTimeout(c.get(), tv);
    return c;
}

ReplyPtr run(redisContext* c, const std::vector<std::string>& argv) {
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const auto& a : argv) {
        args.push_back(a.data());
        lens.push_back(a.size());
    }
    return ReplyPtr(static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data())));
}

void flatten(const redisReply* r, std::vector<std::string>& out) {
    switch (r->type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS: out.emplace_back(r->str, r->len); break;
        case REDIS_REPLY_INTEGER: out.push_back(std::to_string(r->integer)); break;
        case REDIS_REPLY_NIL: out.emplace_back("(nil)"); break;
        case REDIS_REPLY_ARRAY:
            for (size_t i = 0; i < r->elements; ++i) flatten(r->element[i], out);
            break;
        case REDIS_REPLY_ERROR: throw std::runtime_error("redis error: " + std::string(r->str, r->len));
        default: out.emplace_back(r->str ? std::string(r->str, r->len) : std::string()); break;
    }
}

}  // namespace

RedisServer::RedisServer(bool appendonly, std::optional<TlsFiles> tls)
    : appendonly_(appendonly), tls_(std::move(tls)) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gd-redis-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    dir_ = tmpl;
    std::lock_guard lock(start_mutex());
    for (int attempt = 0; attempt < 5; ++attempt) {
        port_ = pick_free_port();
        if (tls_) {
            do tls_port_ = pick_free_port();
            while (tls_port_ == port_);
        }
        if (start()) return;
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw std::runtime_error("redis-server did not start (see its log in a gd-redis-* temp dir)");
}

RedisServer::~RedisServer() {
    stop(SIGTERM);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

int RedisServer::port() const { return port_; }

int RedisServer::tls_port() const { return tls_port_; }

std::string RedisServer::url(int db) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

std::string RedisServer::unix_socket() const { return dir_ + "/redis.sock"; }

void RedisServer::kill() { stop(SIGKILL); }

void RedisServer::restart() {
    stop(SIGTERM);
    std::lock_guard lock(start_mutex());
    if (!start()) throw std::runtime_error("redis-server did not restart on port " + std::to_string(port_));
}

bool RedisServer::start() {
    const char* exe = std::getenv("GAME_DATA_REDIS_SERVER");
    std::vector<std::string> argv = {
        exe ? exe : "redis-server",
        "--port", std::to_string(port_),
        "--bind", "127.0.0.1",
        "--dir", dir_,
        "--unixsocket", unix_socket(),
        "--unixsocketperm", "700",
        "--save", "",
        "--appendonly", appendonly_ ? "yes" : "no",
        "--appendfsync", "always",
        "--daemonize", "no",
        "--logfile", dir_ + "/redis.log",
    };
    if (tls_) {
        argv.insert(argv.end(), {"--tls-port", std::to_string(tls_port_), "--tls-cert-file",
                                 tls_->cert, "--tls-key-file", tls_->key, "--tls-ca-cert-file",
                                 tls_->ca, "--tls-auth-clients", "optional"});
    }
    pid_ = Spawner::instance().spawn(std::move(argv));

    const auto deadline = Clock::now() + kStartDeadline;
    while (Clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return false;
        }
        if (auto c = connect_to(port_, std::chrono::milliseconds(200))) {
            ReplyPtr r = run(c.get(), {"PING"});
            // Replies -LOADING while replaying the AOF; ready once it answers PONG.
            if (r && r->type == REDIS_REPLY_STATUS && std::string(r->str, r->len) == "PONG") {
                return true;
            }
        }
        std::this_thread::sleep_for(kPollInterval);
    }
    stop(SIGKILL);
    return false;
}

void RedisServer::stop(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    const auto deadline = Clock::now() + kStopDeadline;
    int status = 0;
    while (Clock::now() < deadline) {
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_ || (r < 0 && errno == ECHILD)) {
            pid_ = -1;
            return;
        }
        std::this_thread::sleep_for(kPollInterval);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

std::vector<std::string> RedisServer::command(const std::vector<std::string>& argv, int db) const {
    ContextPtr c = connect_to(port_, std::chrono::milliseconds(5000));
    if (!c) throw std::runtime_error("cannot connect to test redis on port " + std::to_string(port_));
    if (db != 0) {
        ReplyPtr sel = run(c.get(), {"SELECT", std::to_string(db)});
        if (!sel || sel->type == REDIS_REPLY_ERROR) throw std::runtime_error("SELECT failed");
    }
    ReplyPtr r = run(c.get(), argv);
    if (!r) throw std::runtime_error("test redis connection failed: " + std::string(c->errstr));
    std::vector<std::string> out;
    flatten(r.get(), out);
    return out;
}

RedisServer& shared_redis_server() {
    static RedisServer server(false);
    return server;
}

}  // namespace game_data::testing
