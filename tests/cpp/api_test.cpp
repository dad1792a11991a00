// The entry points around the stores: the scheme registry, connect() and its options, and the
// argument checks of Consumer and EventPublisher.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <unistd.h>

#include "game_data/consumer.hpp"
#include "game_data/errors.hpp"
#include "game_data/logging.hpp"
#include "game_data/matchmaker.hpp"
#include "game_data/publisher.hpp"
#include "game_data/reaped_feed.hpp"
#include "game_data/store.hpp"

namespace game_data {
namespace {

std::string unique_name(const std::string& prefix) {
    static int counter = 0;
    return prefix + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

TEST(Registry, BuiltInSchemesAreRegistered) {
    const auto schemes = registered_schemes();
    for (const char* s : {"memory", "redis", "rediss", "unix"}) {
        EXPECT_NE(std::find(schemes.begin(), schemes.end(), s), schemes.end()) << s;
    }
}

TEST(Registry, RegisteringATakenSchemeIsRefused) {
    EXPECT_THROW(register_backend("memory", make_memory_backend), InvalidArgument);
}

TEST(Registry, RegisteringWithoutSchemeOrFactoryIsRefused) {
    EXPECT_THROW(register_backend("", make_memory_backend), InvalidArgument);
    EXPECT_THROW(register_backend(unique_name("empty"), BackendFactory{}), InvalidArgument);
}

TEST(Registry, ARegisteredSchemeIsUsedByConnect) {
    const std::string scheme = unique_name("custom");
    int opened = 0;
    register_backend(scheme, [&opened](const Url& url, const ConnectOptions& o) {
        ++opened;
        return make_memory_backend(Url::parse("memory://" + url.host), o);
    });
    Matchmaker mm = connect(scheme + "://x");
    EXPECT_EQ(opened, 1);
    EXPECT_NO_THROW(mm.create_game("alice", 2, "gs-1"));
}

TEST(Registry, UnknownSchemeIsRefusedAndNamesTheKnownOnes) {
    try {
        connect("mongodb://host");
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("memory"), std::string::npos) << e.what();
    }
}

TEST(Connect, PlainMemoryUrlsArePrivate) {
    Matchmaker a = connect("memory://");
    Matchmaker b = connect("memory://");
    a.create_game(CreateGameRequest{"alice", 2, "gs-1", Metadata{}, "g1"});
    EXPECT_FALSE(b.get_game("g1"));
}

TEST(Connect, NamedMemoryUrlsAreSharedWithinANamespace) {
    const std::string url = "memory://" + unique_name("shared");
    Matchmaker a = connect(url);
    Matchmaker b = connect(url);
    a.create_game(CreateGameRequest{"alice", 2, "gs-1", Metadata{}, "g1"});
    EXPECT_TRUE(b.get_game("g1"));
}

TEST(Connect, InvalidOptionsAreRefused) {
    auto with = [](auto change) {
        ConnectOptions o;
        change(o);
        return o;
    };
    const std::vector<ConnectOptions> bad = {
        with([](ConnectOptions& o) { o.ns = ""; }),
        with([](ConnectOptions& o) { o.ns = "a:b"; }),
        with([](ConnectOptions& o) { o.max_age.pending = 0; }),
        with([](ConnectOptions& o) { o.max_age.lobby = -1; }),
        with([](ConnectOptions& o) { o.max_age.active = 0; }),
        with([](ConnectOptions& o) { o.pool_size = 0; }),
        with([](ConnectOptions& o) { o.connect_timeout_ms = 0; }),
        with([](ConnectOptions& o) { o.command_timeout_ms = -5; }),
        with([](ConnectOptions& o) { o.reap_batch = 0; }),
    };
    for (std::size_t i = 0; i < bad.size(); ++i) {
        EXPECT_THROW(connect("memory://", bad[i]), InvalidArgument) << i;
    }
}

TEST(Connect, MalformedUrlIsRefused) { EXPECT_THROW(connect("not a url"), InvalidArgument); }

TEST(Connect, GetGameWithAnInvalidIdIsRefused) {
    Matchmaker mm = connect("memory://");
    EXPECT_THROW(mm.get_game("bad id"), InvalidArgument);
}

TEST(Connect, DefaultStreamIsUnderTheNamespace) {
    ConnectOptions o;
    o.ns = "shard7";
    EXPECT_EQ(connect("memory://", o).default_stream(), "shard7:events");
}

TEST(ConsumerOptionsCheck, InvalidOptionsAreRefused) {
    Matchmaker mm = connect("memory://");
    auto with = [](auto change) {
        ConsumerOptions o;
        change(o);
        return o;
    };
    const std::vector<ConsumerOptions> bad = {
        with([](ConsumerOptions& o) { o.name = "bad name"; }),
        with([](ConsumerOptions& o) { o.group = ""; }),
        with([](ConsumerOptions& o) { o.claim_idle_ms = 0; }),
        with([](ConsumerOptions& o) { o.max_deliveries = 0; }),
        with([](ConsumerOptions& o) {
            o.stream = "s";
            o.dead_letter_stream = "s";
        }),
    };
    for (std::size_t i = 0; i < bad.size(); ++i) {
        EXPECT_THROW(mm.consumer(bad[i]), InvalidArgument) << i;
    }
}

TEST(ConsumerOptionsCheck, ADeadLetterStreamThatIsAKeyOfTheNamespaceIsRefused) {
    ConnectOptions options;
    options.ns = "ns1";
    Matchmaker mm = connect("memory://", options);
    for (const char* key : {"ns1:events", "ns1:{0}:reaped", "ns1:{0}:game:g1", "ns1:{0}:game:dead",
                            "ns1:{0}:open", "ns1:{0}:seat:alice", "ns1:anything"}) {
        ConsumerOptions o;
        o.stream = "elsewhere";  // so "ns1:events" is refused as a key, not as the stream
        o.dead_letter_stream = key;
        EXPECT_THROW(mm.consumer(o), InvalidArgument) << key;
    }
    for (const char* key : {"ns1:events:dead", "ns1:eu:dead", "elsewhere", "ns2:{0}:reaped"}) {
        ConsumerOptions o;
        o.dead_letter_stream = key;
        EXPECT_EQ(mm.consumer(o).options().dead_letter_stream, key);
    }
}

TEST(ConsumerOptionsCheck, DeadLetterStreamDefaultsToStreamColonDead) {
    Matchmaker mm = connect("memory://");
    ConsumerOptions o;
    o.stream = "feed";
    EXPECT_EQ(mm.consumer(o).options().dead_letter_stream, "feed:dead");
}

// "<host>-<pid>-<6 hex>", host as the library spells it (short, other bytes as '-').
void expect_unique_default_name(const std::string& name) {
    std::array<char, 256> host{};
    ASSERT_EQ(gethostname(host.data(), host.size() - 1), 0);
    std::string short_host = std::string(host.data()).substr(0, std::string(host.data()).find('.'));
    for (char& c : short_host) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '-';
    }
    short_host = short_host.substr(0, 64);
    if (short_host.empty()) short_host = "host";
    const std::string prefix = short_host + "-" + std::to_string(::getpid()) + "-";
    ASSERT_EQ(name.substr(0, prefix.size()), prefix) << name;
    const std::string hex = name.substr(prefix.size());
    EXPECT_EQ(hex.size(), 6u) << name;
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << name;
}

TEST(ConsumerOptionsCheck, TheDefaultNameIsUniquePerConsumer) {
    Matchmaker mm = connect("memory://");
    const std::string first = mm.consumer(ConsumerOptions{}).options().name;
    const std::string second = mm.consumer(ConsumerOptions{}).options().name;
    EXPECT_NE(first, second);
    expect_unique_default_name(first);
    expect_unique_default_name(second);
    ConsumerOptions named;
    named.name = "mm-7";
    EXPECT_EQ(mm.consumer(named).options().name, "mm-7");
}

TEST(ReapedFeedOptionsCheck, TheDefaultNameIsUniquePerFeed) {
    Matchmaker mm = connect("memory://");
    const std::string first = mm.reaped_feed(ReapedFeedOptions{}).options().name;
    const std::string second = mm.reaped_feed(ReapedFeedOptions{}).options().name;
    EXPECT_NE(first, second);
    expect_unique_default_name(first);
    expect_unique_default_name(second);
}

TEST(ConsumerOptionsCheck, PollArgumentsOutOfRangeAreRefused) {
    Matchmaker mm = connect("memory://");
    Consumer c = mm.consumer(ConsumerOptions{});
    EXPECT_THROW(c.poll(0, 0), InvalidArgument);
    EXPECT_THROW(c.poll(10'001, 0), InvalidArgument);
    EXPECT_THROW(c.poll(10, -1), InvalidArgument);
}

TEST(PublisherOptionsCheck, InvalidArgumentsAreRefused) {
    Matchmaker mm = connect("memory://");
    EXPECT_THROW(mm.publisher("bad server"), InvalidArgument);
    EXPECT_THROW(mm.publisher("gs-1", std::string{}), InvalidArgument);
    EXPECT_THROW(mm.publisher("gs-1", std::nullopt, -1), InvalidArgument);
    EventPublisher pub = mm.publisher("gs-1");
    EXPECT_THROW(pub.publish_raw({}), InvalidArgument);
}

TEST(Logging, UnknownLevelIsRefused) {
    EXPECT_THROW(set_log_level("loud"), InvalidArgument);
    EXPECT_NO_THROW(set_log_level("warn"));
}

}  // namespace
}  // namespace game_data

namespace game_data {
namespace {

TEST(Publisher, AUrlPublisherWritesToItsNamespacesStreamWhichThatMatchmakerReads) {
    const std::string url = "memory://" + unique_name("pubns");
    ConnectOptions options;
    options.ns = "prod";
    Matchmaker mm = connect(url, options);
    const Game game = mm.create_game("alice", 2, "gs-1");
    EventPublisher pub(url, "gs-1", "", 0, true, "prod");
    EXPECT_EQ(pub.stream(), "prod:events");
    EXPECT_EQ(EventPublisher(url, "gs-1").stream(), "gd:events") << "the default namespace";
    EXPECT_EQ(EventPublisher(url, "gs-1", "custom", 0, true, "prod").stream(), "custom");
    EXPECT_THROW(EventPublisher(url, "gs-1", "", 0, true, "bad ns"), InvalidArgument);
    pub.creator_joined(game.id, "alice");
    ConsumerOptions c;
    c.name = "t";
    Consumer consumer = mm.consumer(c);
    ASSERT_EQ(consumer.poll(10, 0).size(), 1u);
    EXPECT_EQ(mm.get_game(game.id)->state, GameState::CreatorJoined);
}

}  // namespace
}  // namespace game_data
