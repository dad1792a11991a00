// resp_pipe: a minimal C-level Redis client for the ceilings of bench/redis_bench.py.
//
//   resp_pipe HOST PORT FILE [WARMUP]
//
// FILE holds batches, each a header line "@<commands> <bytes>\n" followed by <bytes> bytes of
// RESP-encoded commands (encoded beforehand, so no encoding cost is timed). For each batch it
// writes the bytes, then reads replies until <commands> replies have arrived (hiredis' reply
// parser), and times that round trip. Prints one line:
//
//   seconds=S batches=B replies=R errors=E p50_us=X p99_us=Y
//
// and the first error reply, if any, on stderr. The first WARMUP batches (default 0) are sent
// and answered but left out of every figure. A batch of one PING is a C-level PING round
// trip; batches of b encoded events are the ceiling of a client that sends b events at a time.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

struct Batch {
    std::size_t offset;
    std::size_t bytes;
    long commands;
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "resp_pipe: %s\n", what.c_str());
    std::exit(2);
}

std::vector<Batch> index_batches(const std::string& data) {
    std::vector<Batch> out;
    std::size_t pos = 0;
    while (pos < data.size()) {
        if (data[pos] != '@') die("bad batch header at byte " + std::to_string(pos));
        const std::size_t eol = data.find('\n', pos);
        if (eol == std::string::npos) die("unterminated batch header");
        long commands = 0;
        unsigned long long bytes = 0;
        if (std::sscanf(data.c_str() + pos + 1, "%ld %llu", &commands, &bytes) != 2 || commands <= 0)
            die("bad batch header at byte " + std::to_string(pos));
        if (eol + 1 + bytes > data.size()) die("batch runs past the end of the file");
        out.push_back({eol + 1, static_cast<std::size_t>(bytes), commands});
        pos = eol + 1 + bytes;
    }
    return out;
}

int connect_to(const char* host, const char* port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == nullptr) die("cannot resolve host");
    int fd = -1;
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) die(std::string("cannot connect: ") + std::strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

void write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            die(std::string("write: ") + std::strerror(errno));
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4 && argc != 5) {
        std::fprintf(stderr, "usage: resp_pipe HOST PORT FILE [WARMUP]\n");
        return 2;
    }
    const std::size_t warmup = argc == 5 ? std::strtoul(argv[4], nullptr, 10) : 0;
    std::ifstream in(argv[3], std::ios::binary);
    if (!in) die(std::string("cannot read ") + argv[3]);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::vector<Batch> batches = index_batches(data);
    if (warmup >= batches.size() && !batches.empty()) die("WARMUP leaves no batch to measure");

    const int fd = connect_to(argv[1], argv[2]);
    redisReader* reader = redisReaderCreate();
    if (reader == nullptr) die("out of memory");
    std::vector<char> buf(1 << 16);
    std::vector<double> lat_us;
    lat_us.reserve(batches.size());
    long replies = 0;
    long errors = 0;
    std::string first_error;

    using Clock = std::chrono::steady_clock;
    auto start = Clock::now();
    for (std::size_t i = 0; i < batches.size(); ++i) {
        const Batch& b = batches[i];
        if (i == warmup) start = Clock::now();
        const auto t0 = Clock::now();
        write_all(fd, data.data() + b.offset, b.bytes);
        long got = 0;
        while (got < b.commands) {
            void* reply = nullptr;
            if (redisReaderGetReply(reader, &reply) != REDIS_OK) die("protocol error in a reply");
            if (reply != nullptr) {
                auto* r = static_cast<redisReply*>(reply);
                if (r->type == REDIS_REPLY_ERROR) {
                    if (errors++ == 0) first_error.assign(r->str, r->len);
                }
                freeReplyObject(r);
                ++got;
                continue;
            }
            const ssize_t n = read(fd, buf.data(), buf.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) die("connection closed while waiting for replies");
            if (redisReaderFeed(reader, buf.data(), static_cast<std::size_t>(n)) != REDIS_OK)
                die("reply parser failed");
        }
        if (i < warmup) continue;
        replies += got;
        lat_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    redisReaderFree(reader);
    close(fd);

    std::sort(lat_us.begin(), lat_us.end());
    auto pct = [&](double p) {
        if (lat_us.empty()) return 0.0;
        return lat_us[static_cast<std::size_t>(p * static_cast<double>(lat_us.size() - 1))];
    };
    std::printf("seconds=%.6f batches=%zu replies=%ld errors=%ld p50_us=%.2f p99_us=%.2f\n", seconds,
                lat_us.size(), replies, errors, pct(0.5), pct(0.99));
    if (!first_error.empty()) std::fprintf(stderr, "resp_pipe: first error reply: %s\n", first_error.c_str());
    return 0;
}
