// Backend URLs (cpp/include/game_data/url.hpp): every accepted form and the malformed ones.
#include <gtest/gtest.h>

#include <string>

#include "game_data/errors.hpp"
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

}  // namespace
}  // namespace game_data
