// Backend URLs (cpp/include/game_data/url.hpp): every accepted form and the malformed ones.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/url.hpp"

namespace game_data {
namespace {

TEST(UrlParse, RedisHostOnlyUsesDefaultPortAndDbZero) {
    const Url u = Url::parse("redis://cache.internal");
    EXPECT_EQ(u.scheme, "redis");
    EXPECT_EQ(u.host, "cache.internal");
    EXPECT_EQ(u.port, 6379);
    EXPECT_EQ(u.db, 0);
    EXPECT_TRUE(u.user.empty());
    EXPECT_TRUE(u.password.empty());
}

TEST(UrlParse, RedisWithPort) {
    const Url u = Url::parse("redis://127.0.0.1:6380");
    EXPECT_EQ(u.host, "127.0.0.1");
    EXPECT_EQ(u.port, 6380);
}

TEST(UrlParse, RedisWithPortAndDb) {
    const Url u = Url::parse("redis://127.0.0.1:6380/3");
    EXPECT_EQ(u.port, 6380);
    EXPECT_EQ(u.db, 3);
}

TEST(UrlParse, RedisWithDbButNoPort) {
    const Url u = Url::parse("redis://localhost/5");
    EXPECT_EQ(u.host, "localhost");
    EXPECT_EQ(u.port, 6379);
    EXPECT_EQ(u.db, 5);
}

TEST(UrlParse, RedisWithoutHostDefaultsToLoopback) {
    const Url u = Url::parse("redis://");
    EXPECT_EQ(u.host, "127.0.0.1");
    EXPECT_EQ(u.port, 6379);
}

TEST(UrlParse, UserAndPassword) {
    const Url u = Url::parse("redis://bob:s3cret@host:7000/1");
    EXPECT_EQ(u.user, "bob");
    EXPECT_EQ(u.password, "s3cret");
    EXPECT_EQ(u.host, "host");
    EXPECT_EQ(u.port, 7000);
    EXPECT_EQ(u.db, 1);
}

TEST(UrlParse, PasswordOnlyWithEmptyUser) {
    const Url u = Url::parse("redis://:s3cret@host");
    EXPECT_TRUE(u.user.empty());
    EXPECT_EQ(u.password, "s3cret");
}

TEST(UrlParse, PasswordOnlyWithoutColonAsRedisCliAccepts) {
    const Url u = Url::parse("redis://s3cret@host");
    EXPECT_TRUE(u.user.empty());
    EXPECT_EQ(u.password, "s3cret");
    EXPECT_EQ(u.host, "host");
}

TEST(UrlParse, PercentEncodedPasswordIsDecoded) {
    const Url u = Url::parse("redis://bob:p%40ss%3Aw@host");
    EXPECT_EQ(u.password, "p@ss:w");
}

TEST(UrlParse, PasswordContainingAtSign) {
    const Url u = Url::parse("redis://bob:p@ss@host:7000");
    EXPECT_EQ(u.password, "p@ss");
    EXPECT_EQ(u.host, "host");
    EXPECT_EQ(u.port, 7000);
}

TEST(UrlParse, Ipv6HostWithPort) {
    const Url u = Url::parse("redis://[::1]:6390/2");
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.port, 6390);
    EXPECT_EQ(u.db, 2);
}

TEST(UrlParse, Ipv6HostWithoutPort) {
    const Url u = Url::parse("redis://[::1]");
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.port, 6379);
}

TEST(UrlParse, RedissScheme) {
    const Url u = Url::parse("rediss://secure.example:6380");
    EXPECT_EQ(u.scheme, "rediss");
    EXPECT_EQ(u.host, "secure.example");
    EXPECT_EQ(u.port, 6380);
}

TEST(UrlParse, UnixSocketWithDb) {
    const Url u = Url::parse("unix:///var/run/redis.sock?db=2");
    EXPECT_EQ(u.scheme, "unix");
    EXPECT_EQ(u.path, "/var/run/redis.sock");
    EXPECT_EQ(u.db, 2);
}

TEST(UrlParse, UnixSocketWithoutDb) {
    const Url u = Url::parse("unix:///tmp/r.sock");
    EXPECT_EQ(u.path, "/tmp/r.sock");
    EXPECT_EQ(u.db, 0);
}

TEST(UrlParse, MemoryWithoutNameIsPrivate) {
    const Url u = Url::parse("memory://");
    EXPECT_EQ(u.scheme, "memory");
    EXPECT_TRUE(u.host.empty());
}

TEST(UrlParse, MemoryWithNameIsShared) {
    const Url u = Url::parse("memory://lobby-1");
    EXPECT_EQ(u.scheme, "memory");
    EXPECT_EQ(u.host, "lobby-1");
}

TEST(UrlParse, QueryOptionsAreCollected) {
    const Url u = Url::parse("redis://h:1/0?connect_timeout_ms=250&timeout_ms=900&pool_size=8");
    EXPECT_EQ(u.host, "h");
    EXPECT_EQ(u.port, 1);
    EXPECT_EQ(u.query_int("connect_timeout_ms"), 250);
    EXPECT_EQ(u.query_int("timeout_ms"), 900);
    EXPECT_EQ(u.query_int("pool_size"), 8);
    EXPECT_EQ(u.query_int("absent"), std::nullopt);
}

TEST(UrlParse, NonIntegerQueryOptionThrowsWhenRead) {
    const Url u = Url::parse("redis://h?pool_size=many");
    EXPECT_THROW((void)u.query_int("pool_size"), InvalidArgument);
}

TEST(UrlParse, QueryOptionWithoutValueIsRefused) {
    EXPECT_THROW(Url::parse("redis://h?pool_size"), InvalidArgument);
}

TEST(UrlParse, AQueryOptionGivenTwiceIsRefusedNamingIt) {
    for (const char* text : {"rediss://h:1/0?sni=a&sni=b", "redis://h?timeout_ms=5&pool_size=2&timeout_ms=5",
                             "unix:///tmp/r.sock?db=1&db=2", "memory://x?a=1&a=1"}) {
        try {
            (void)Url::parse(text);
            ADD_FAILURE() << "accepted: " << text;
        } catch (const InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find("is given twice"), std::string::npos) << e.what();
        }
    }
    try {
        (void)Url::parse("rediss://h:1/0?sni=a&sni=b");
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("'sni'"), std::string::npos) << e.what();
    }
}

TEST(TlsOptions, AClientCertificateAndItsKeyGoTogether) {
    // Refused before connecting, in builds with and without TLS (port 1: nothing listens).
    for (const char* option : {"cert=/nonexistent/client.pem", "key=/nonexistent/client.key"}) {
        try {
            connect(std::string("rediss://127.0.0.1:1/0?") + option).counts();
            ADD_FAILURE() << option << " was accepted alone";
        } catch (const InvalidArgument& e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find("cert=FILE"), std::string::npos) << msg;
            EXPECT_NE(msg.find("key=FILE"), std::string::npos) << msg;
        }
    }
}

TEST(UrlParse, MissingSchemeIsRefused) {
    EXPECT_THROW(Url::parse("127.0.0.1:6379"), InvalidArgument);
    EXPECT_THROW(Url::parse("://host"), InvalidArgument);
    EXPECT_THROW(Url::parse(""), InvalidArgument);
}

TEST(UrlParse, BadPortIsRefused) {
    for (const char* text : {"redis://h:abc", "redis://h:", "redis://h:-1", "redis://h:0",
                             "redis://h:65536", "redis://h:12x", "redis://[::1]x6379"}) {
        EXPECT_THROW(Url::parse(text), InvalidArgument) << text;
    }
}

TEST(UrlParse, BadDbIsRefused) {
    for (const char* text : {"redis://h/abc", "redis://h/-1", "redis://h/1x", "unix:///s?db=x"}) {
        EXPECT_THROW(Url::parse(text), InvalidArgument) << text;
    }
}

TEST(UrlParse, UnixWithoutAbsolutePathIsRefused) {
    EXPECT_THROW(Url::parse("unix://relative.sock"), InvalidArgument);
    EXPECT_THROW(Url::parse("unix://"), InvalidArgument);
}

TEST(UrlParse, UnterminatedIpv6HostIsRefused) {
    EXPECT_THROW(Url::parse("redis://[::1:6379"), InvalidArgument);
}

TEST(UrlRedacted, HidesThePassword) {
    const std::string r = Url::parse("redis://bob:s3cret@host:7000/1").redacted();
    EXPECT_EQ(r.find("s3cret"), std::string::npos) << r;
    EXPECT_NE(r.find("***"), std::string::npos) << r;
    EXPECT_NE(r.find("bob"), std::string::npos) << r;
    EXPECT_NE(r.find("host:7000/1"), std::string::npos) << r;
}

TEST(UrlRedacted, HidesAPasswordOnlyCredential) {
    const std::string r = Url::parse("redis://s3cret@host").redacted();
    EXPECT_EQ(r.find("s3cret"), std::string::npos) << r;
    EXPECT_NE(r.find("***"), std::string::npos) << r;
}

TEST(UrlRedacted, ErrorsForBadPortsDoNotLeakThePassword) {
    try {
        Url::parse("redis://bob:s3cret@host:notaport");
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
    }
}

TEST(UrlRedacted, ErrorsForBadIpv6PortsDoNotLeakThePassword) {
    try {
        Url::parse("redis://bob:s3cret@[::1]:notaport");
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
    }
}

TEST(UrlRedacted, KeepsIpv6HostsBracketedSoTheUrlStillParses) {
    const std::string r = Url::parse("redis://[::1]:6390/2").redacted();
    EXPECT_EQ(r, "redis://[::1]:6390/2");
    const Url back = Url::parse(r);
    EXPECT_EQ(back.host, "::1");
    EXPECT_EQ(back.port, 6390);
}

TEST(UrlRedacted, UrlWithoutCredentialsIsUnchangedInSubstance) {
    EXPECT_EQ(Url::parse("redis://host:7000/2").redacted(), "redis://host:7000/2");
    EXPECT_EQ(Url::parse("unix:///tmp/r.sock").redacted(), "unix:///tmp/r.sock");
    EXPECT_EQ(Url::parse("memory://x").redacted(), "memory://x");
}


// Malformed URLs holding a password: no message quotes it, however the URL is broken. The
// secret is written "S3cr" + something + "3tPw" (sometimes split by the very character that
// breaks the URL), so a message leaks if it holds either half.
bool leaks_secret(const std::string& message) {
    for (const char* fragment : {"S3cr", "3tPw", "%53", "%33"}) {
        if (message.find(fragment) != std::string::npos) return true;
    }
    return false;
}

const std::vector<std::string> kMalformedUrlsWithSecrets = {
    // no "://", or not a scheme before it
    "redis:/u:S3cr3tPw@host/0", "redis//u:S3cr3tPw@host/0", "redis:u:S3cr3tPw@host/0",
    "u:S3cr3tPw@host:6379", "//u:S3cr3tPw@host", "://u:S3cr3tPw@host", "re dis://u:S3cr3tPw@host",
    "u:S3cr3tPw@host://x", "redis:/:S3cr3tPw@host", "S3cr3tPw", "redis:///u:S3cr3tPw",
    // bad ports, including a password where the port should be (the '@host' forgotten)
    "redis://u:S3cr3tPw@host:notaport", "redis://u:S3cr3tPw@host:0", "redis://u:S3cr3tPw@host:65536",
    "redis://u:S3cr3tPw@host:-1", "redis://u:S3cr3tPw@host:", "redis://u:S3cr3tPw@host:12x",
    "redis://u:S3cr3tPw", "redis://:S3cr3tPw", "redis://u:S3cr3tPw/0", "rediss://u:S3cr3tPw",
    // bad hosts: a password with ':' and no '@', spaces, two ports
    "redis://u:S3cr3tPw:6379", "redis://u:S3cr3tPw@host:6379:7000", "redis://u:S3cr3tPw@ho st",
    "redis://u:S3cr:3tPw:1/0",
    // bad database numbers
    "redis://u:S3cr3tPw@host/abc", "redis://u:S3cr3tPw@host/-1", "redis://u:S3cr3tPw@host:7000/1x",
    "redis://u:S3cr3tPw@host/S3cr3tPw", "redis://u:S3cr3tPw@host/0/1",
    // bad query parts, and a password holding the '?' that starts a query
    "redis://u:S3cr3tPw@host/0?S3cr3tPw", "redis://u:S3cr3tPw@host/0?=S3cr3tPw",
    "redis://u:S3cr3tPw@host/0?a=1&&b=2", "redis://u:S3cr?3tPw@host/0", "redis://u:S3cr?3tPw@host:x",
    "redis://host/0?S3cr3tPw", "redis://u@host/0?S3cr3tPw&x", "rediss://u:S3cr?3tPw@host/0?sni=x",
    "rediss://u:S3cr3tPw@host/0?sni", "rediss://u:S3cr3tPw@host/0?ca_cert=/c&S3cr3tPw",
    // percent-encoded passwords
    "redis://u:S3cr%33tPw@host:notaport", "redis://u:%53%33cr3tPw@host/x", "redis://u:S3cr%3F3tPw@[::1",
    "redis://%53:S3cr3tPw@host:0",
    // IPv6
    "redis://u:S3cr3tPw@[::1", "redis://u:S3cr3tPw@[::1]x6379", "redis://u:S3cr3tPw@[::1]:bad",
    "redis://u:S3cr3tPw@[::1]:1/x", "redis://u:S3cr3tPw@[::1]6379", "redis://u:S3cr3tPw@[:: 1]",
    // unix sockets
    "unix://u:S3cr3tPw@/tmp/sock", "unix:u:S3cr3tPw@/tmp/sock", "unix:/u:S3cr3tPw@/tmp/sock",
    "unix:///tmp/sock?S3cr3tPw", "unix:///tmp/sock?db=1&S3cr3tPw", "unix://S3cr3tPw",
    "unix:///tmp/sock?db=S3cr3tPw",
    // memory and unknown schemes
    "memory://u:S3cr3tPw@x?S3cr3tPw", "memory://u:S3cr3tPw@x?bad", "foo://u:S3cr3tPw@host?x",
    "memory://u:S3cr?3tPw@x",
};

TEST(UrlSecrets, NoParseErrorQuotesThePasswordOfAMalformedUrl) {
    for (const auto& text : kMalformedUrlsWithSecrets) {
        try {
            (void)Url::parse(text);
            ADD_FAILURE() << "parsed: " << text;
        } catch (const InvalidArgument& e) {
            EXPECT_FALSE(leaks_secret(e.what())) << text << " -> " << e.what();
        }
    }
}

// These parse; connecting then fails (unknown option, bad option value, nothing listening on
// port 1, unknown scheme, no TLS in this build): those messages name the URL too.
const std::vector<std::string> kUrlsWithSecretsThatFailToConnect = {
    "redis://u:S3cr3tPw@127.0.0.1:1/0?connect_timeout_ms=200",
    "redis://S3cr3tPw@127.0.0.1:1/3?connect_timeout_ms=200",
    "redis://u:S3cr%33tPw@[::1]:1/0?connect_timeout_ms=200",
    "redis://u:S3cr3tPw@127.0.0.1:1/0?bogus=1",
    "redis://u:S3cr3tPw@127.0.0.1:1/0?pool_size=many",
    "redis://u:S3cr3tPw@127.0.0.1:1/0?timeout_ms=0",
    "redis://u:S3cr/3tPw@127.0.0.1:1/0?connect_timeout_ms=200",
    "rediss://u:S3cr3tPw@127.0.0.1:1/0?bogus=1",
    "rediss://u:S3cr3tPw@127.0.0.1:1/0?ca_cert=/nonexistent/ca.pem&connect_timeout_ms=200",
    "unix:///nonexistent/redis.sock?bogus=1",
    "foo://u:S3cr3tPw@127.0.0.1:1",
};

TEST(UrlSecrets, NoConnectErrorQuotesThePassword) {
    for (const auto& text : kUrlsWithSecretsThatFailToConnect) {
        EXPECT_FALSE(leaks_secret(Url::parse(text).redacted())) << text;
        try {
            connect(text).counts();
            ADD_FAILURE() << "connected: " << text;
        } catch (const GameDataError& e) {
            EXPECT_FALSE(leaks_secret(e.what())) << text << " -> " << e.what();
        }
    }
}

TEST(UrlSecrets, BadPortMessageShowsTheUrlAsWrittenUpToThePort) {
    try {
        (void)Url::parse("redis://bob:S3cr3tPw@cache.internal:notaport/2");
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("redis://bob:***@cache.internal"), std::string::npos)
            << e.what();
        EXPECT_EQ(std::string(e.what()).find(":6379"), std::string::npos) << e.what();
    }
}

TEST(UrlSecrets, BadDbMessageShowsHostAndPortAsWritten) {
    try {
        (void)Url::parse("redis://bob:S3cr3tPw@cache.internal:7000/x");
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("redis://bob:***@cache.internal:7000"), std::string::npos)
            << e.what();
    }
}

TEST(UrlSecrets, BadQueryMessageShowsTheRedactedUrlNotTheOption) {
    try {
        (void)Url::parse("redis://bob:S3cr3tPw@[::1]:7000/2?S3cr3tPw");
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("redis://bob:***@[::1]:7000/2"), std::string::npos)
            << e.what();
    }
}

TEST(UrlSecrets, RedactedHidesUserInfoOfMemoryAndUnknownSchemes) {
    EXPECT_EQ(Url::parse("memory://u:S3cr3tPw@lobby").redacted(), "memory://***@lobby");
    EXPECT_EQ(Url::parse("foo://u:S3cr3tPw@h:1").redacted(), "foo://***@h:1");
}

TEST(UrlParse, PasswordWithAQuestionMarkMustBePercentEncoded) {
    EXPECT_THROW(Url::parse("redis://u:pa?ss@host"), InvalidArgument);
    EXPECT_EQ(Url::parse("redis://u:pa%3Fss@host").password, "pa?ss");
}

TEST(UrlParse, PasswordWithASlashIsTakenUpToTheLastAt) {
    const Url u = Url::parse("redis://u:pa/ss@host:7000/1");
    EXPECT_EQ(u.password, "pa/ss");
    EXPECT_EQ(u.host, "host");
    EXPECT_EQ(u.db, 1);
}

TEST(UrlParse, HostsHoldOnlyNameCharactersAndIpv6OnlyInBrackets) {
    for (const char* text : {"redis://a b", "redis://h:1:2", "redis://h%20x", "redis://[::1 ]"}) {
        EXPECT_THROW(Url::parse(text), InvalidArgument) << text;
    }
    EXPECT_EQ(Url::parse("redis://my_redis-1.internal").host, "my_redis-1.internal");
    EXPECT_EQ(Url::parse("redis://[fe80::1%eth0]:6380").host, "fe80::1%eth0");
}

TEST(UrlParse, SchemeMustBeLettersDigitsPlusMinusDot) {
    EXPECT_THROW(Url::parse("re dis://h"), InvalidArgument);
    EXPECT_THROW(Url::parse("1redis://h"), InvalidArgument);
    EXPECT_THROW(Url::parse("u@h://x"), InvalidArgument);
    EXPECT_EQ(Url::parse("my+scheme.v-1://x").scheme, "my+scheme.v-1");
}

}  // namespace
}  // namespace game_data
