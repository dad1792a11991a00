#include "game_data/url.hpp"

#include <cctype>
#include <charconv>
#include <optional>
#include <string>

#include "game_data/errors.hpp"

namespace game_data {
namespace {

// Error messages never quote the text given: a malformed URL may hold a password anywhere (a
// missing '@' makes it look like a port, a missing '/' hides the scheme). They show the URL
// rebuilt from the parts parsed so far, password replaced by "***", and name the bad part.

// RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
bool is_scheme(std::string_view s) {
    if (s.empty() || !std::isalpha(static_cast<unsigned char>(s.front()))) return false;
    for (unsigned char c : s) {
        if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return false;
    }
    return true;
}

// A host name or IPv4 address; an IPv6 address (given in brackets) also holds ':' and a %zone.
bool is_host(std::string_view s, bool ipv6) {
    for (unsigned char c : s) {
        const bool ok =
            std::isalnum(c) || c == '-' || c == '.' || c == '_' || (ipv6 && (c == ':' || c == '%'));
        if (!ok) return false;
    }
    return true;
}

std::optional<int> parse_int(std::string_view text) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || value < 0) return std::nullopt;
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

// scheme://[user:***@]host, the redis/rediss authority as parsed so far.
std::string shown_authority(const Url& url) {
    std::string out = url.scheme + "://";
    if (!url.user.empty() || !url.password.empty()) out.append(url.user).append(":***@");
    if (url.host.find(':') == std::string::npos) return out.append(url.host);
    return out.append("[").append(url.host).append("]");  // IPv6
}

// Everything up to the last '@' is user information: a name shown as "***@" may be a password.
std::string hide_user_info(std::string_view name) {
    const auto at = name.rfind('@');
    if (at == std::string_view::npos) return std::string(name);
    return "***@" + std::string(name.substr(at + 1));
}

void parse_query(Url& url, std::string_view query) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            throw InvalidArgument("bad query option in URL " + url.redacted() +
                                  ": options are name=value pairs separated by '&'");
        }
        const std::string name(pair.substr(0, eq));
        if (!url.query.emplace(name, percent_decode(pair.substr(eq + 1))).second) {
            // Taking the first or the last would silently ignore one of them.
            throw InvalidArgument("URL option '" + name + "' is given twice in URL " +
                                  url.redacted() + ": give each option once");
        }
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    }
}

void parse_redis_authority(Url& url, std::string_view rest) {
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
    std::optional<std::string_view> db;
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        hostport = rest.substr(0, slash);
        db = rest.substr(slash + 1);
    }
    std::string_view host = hostport;
    std::optional<std::string_view> port;
    const bool ipv6 = !hostport.empty() && hostport.front() == '[';
    if (ipv6) {  // [::1]:6379
        auto close = hostport.find(']');
        if (close == std::string_view::npos) {
            throw InvalidArgument("unterminated IPv6 host (no ']') in URL " + shown_authority(url));
        }
        host = hostport.substr(1, close - 1);
        std::string_view after = hostport.substr(close + 1);
        if (!after.empty()) {
            // "[::1]x6379" has no ':' before its port: an empty port, refused below.
            port = after.front() == ':' ? after.substr(1) : std::string_view{};
        }
    } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
        host = hostport.substr(0, colon);
        port = hostport.substr(colon + 1);
    }
    if (!is_host(host, ipv6)) {
        throw InvalidArgument("bad host in URL " + shown_authority(url) +
                              " (not shown): a host holds letters, digits, '-', '.' and '_'; an IPv6 "
                              "address goes in brackets, as in redis://[::1]:6379");
    }
    url.host = std::string(host);
    if (port) {
        const auto value = parse_int(*port);
        if (!value || *value <= 0 || *value > 65535) {
            throw InvalidArgument("bad port in URL " + shown_authority(url) +
                                  ": a port is an integer from 1 to 65535");
        }
        url.port = *value;
    }
    if (db && !db->empty()) {
        const auto value = parse_int(*db);
        if (!value) {
            throw InvalidArgument("bad database number in URL " + shown_authority(url) + ":" +
                                  std::to_string(url.port) + ": it is a non-negative integer");
        }
        url.db = *value;
    }
    if (url.host.empty()) url.host = "127.0.0.1";
}

}  // namespace

Url Url::parse(std::string_view text) {
    const auto sep = text.find("://");
    if (sep == std::string_view::npos || !is_scheme(text.substr(0, sep))) {
        throw InvalidArgument("URL must look like scheme://..., such as redis://host:6379/0 (the "
                              "text given is not shown: it may hold a password)");
    }
    Url url;
    url.scheme = std::string(text.substr(0, sep));
    std::string_view rest = text.substr(sep + 3);
    std::string_view query;
    if (auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    // An '@' after '?' is almost always a password holding '?': parsing on would split it.
    if (query.find('@') != std::string_view::npos) {
        throw InvalidArgument("URL has '@' after '?' (not shown: it may hold a password): "
                              "percent-encode '?' in a password as %3F, '@' in an option as %40");
    }

    if (url.scheme == "unix") {
        if (rest.empty() || rest.front() != '/') {
            throw InvalidArgument("unix URL needs an absolute socket path: unix:///path/to/socket");
        }
        url.path = std::string(rest);
    } else if (url.scheme == "redis" || url.scheme == "rediss") {
        parse_redis_authority(url, rest);
    } else {
        // memory://name; unknown schemes are parsed generically, the registry decides.
        url.host = std::string(rest);
    }
    parse_query(url, query);
    if (url.scheme == "unix") {
        if (auto db = url.query_int("db")) url.db = static_cast<int>(*db);
    }
    return url;
}

std::string Url::redacted() const {
    if (scheme == "unix") return scheme + "://" + path;
    if (scheme == "redis" || scheme == "rediss") {
        return shown_authority(*this).append(":").append(std::to_string(port)).append("/").append(
            std::to_string(db));
    }
    return scheme + "://" + hide_user_info(host);
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
