#include "game_data/url.hpp"

#include <charconv>

#include "game_data/errors.hpp"

namespace game_data {
namespace {

int parse_int(std::string_view text, std::string_view what, const std::string& url) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || value < 0) {
        throw InvalidArgument("invalid " + std::string(what) + " in URL " + url);
    }
    return value;
}

std::string percent_decode(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size()) {
            int v = 0;
            auto [p, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
            if (ec == std::errc{} && p == in.data() + i + 3) {
                out.push_back(static_cast<char>(v));
                i += 2;
                continue;
            }
        }
        out.push_back(in[i]);
    }
    return out;
}

}  // namespace

Url Url::parse(std::string_view text) {
    const std::string original(text);
    auto sep = text.find("://");
    if (sep == std::string_view::npos || sep == 0) {
        throw InvalidArgument("URL must look like scheme://..., got '" + original + "'");
    }
    Url url;
    url.scheme = std::string(text.substr(0, sep));
    std::string_view rest = text.substr(sep + 3);

    if (auto q = rest.find('?'); q != std::string_view::npos) {
        std::string_view query = rest.substr(q + 1);
        rest = rest.substr(0, q);
        while (!query.empty()) {
            auto amp = query.find('&');
            std::string_view pair = query.substr(0, amp);
            auto eq = pair.find('=');
            if (eq == std::string_view::npos || eq == 0) {
                throw InvalidArgument("bad query option '" + std::string(pair) + "' in URL");
            }
            url.query[std::string(pair.substr(0, eq))] = percent_decode(pair.substr(eq + 1));
            query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        }
    }

    if (url.scheme == "memory") {
        url.host = std::string(rest);
        return url;
    }
    if (url.scheme == "unix") {
        if (rest.empty() || rest.front() != '/') {
            throw InvalidArgument("unix URL needs an absolute socket path: unix:///path/to/socket");
        }
        url.path = std::string(rest);
        if (auto db = url.query_int("db")) url.db = static_cast<int>(*db);
        return url;
    }
    if (url.scheme != "redis" && url.scheme != "rediss") {
        // Unknown schemes are parsed generically; the registry decides whether they exist.
        url.host = std::string(rest);
        return url;
    }

    if (auto at = rest.rfind('@'); at != std::string_view::npos) {
        std::string_view auth = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = auth.find(':');
        if (colon == std::string_view::npos) {
            url.password = percent_decode(auth);  // redis://password@host, as redis-cli accepts
        } else {
            url.user = percent_decode(auth.substr(0, colon));
            url.password = percent_decode(auth.substr(colon + 1));
        }
    }
    std::string_view hostport = rest;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        hostport = rest.substr(0, slash);
        std::string_view db = rest.substr(slash + 1);
        if (!db.empty()) url.db = parse_int(db, "database number", url.redacted());
    }
    std::string_view host = hostport;
    if (!hostport.empty() && hostport.front() == '[') {  // [::1]:6379
        auto close = hostport.find(']');
        if (close == std::string_view::npos) throw InvalidArgument("unterminated IPv6 host in URL");
        host = hostport.substr(1, close - 1);
        std::string_view after = hostport.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') throw InvalidArgument("bad port in URL");
            url.port = parse_int(after.substr(1), "port", url.redacted());
        }
    } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
        host = hostport.substr(0, colon);
        url.port = parse_int(hostport.substr(colon + 1), "port", url.redacted());
    }
    url.host = host.empty() ? "127.0.0.1" : std::string(host);
    if (url.port <= 0 || url.port > 65535) throw InvalidArgument("port out of range in URL");
    return url;
}

std::string Url::redacted() const {
    std::string out = scheme + "://";
    if (scheme == "unix") return out + path;
    if (scheme == "memory") return out + host;
    // Appends only: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string at -O2.
    if (!user.empty() || !password.empty()) out.append(user).append(":***@");
    if (host.find(':') == std::string::npos) {
        out.append(host);
    } else {
        out.append("[").append(host).append("]");  // IPv6
    }
    if (scheme == "redis" || scheme == "rediss") {
        out.append(":").append(std::to_string(port)).append("/").append(std::to_string(db));
    }
    return out;
}

std::optional<std::int64_t> Url::query_int(std::string_view key) const {
    auto it = query.find(std::string(key));
    if (it == query.end()) return std::nullopt;
    std::int64_t value = 0;
    const std::string& s = it->second;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || ptr != s.data() + s.size() || value < 0) {
        throw InvalidArgument("URL option " + std::string(key) + " must be a non-negative integer");
    }
    return value;
}

}  // namespace game_data
