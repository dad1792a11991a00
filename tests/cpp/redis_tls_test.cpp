// rediss:// against a private TLS redis-server with certificates made for this run
// (tests/tls/make_certs.sh): the chain and the server's name are verified, and a failure of
// either is a ConnectionError that says why. Needs a build with hiredis_ssl (./dev provides
// one on Debian 12 and 13); without it, RedisUrls.RedissNeedsAHiredisWithSsl covers rediss://.
#include <gtest/gtest.h>

#if __has_include(<hiredis/hiredis_ssl.h>)

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "game_data/errors.hpp"
#include "game_data/matchmaker.hpp"
#include "support/redis_server.hpp"

namespace game_data {
namespace {

class RedisTls : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "gd-certs-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        certs_ = new std::string(tmpl);
        const std::string cmd = "sh '" GAME_DATA_SOURCE_DIR "/tests/tls/make_certs.sh' '" + *certs_ + "'";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
        server_ = new testing::RedisServer(
            false, testing::TlsFiles{cert("server.pem"), cert("server.key"), cert("ca.pem")});
        cn_only_server_ = new testing::RedisServer(
            false, testing::TlsFiles{cert("cn-only.pem"), cert("cn-only.key"), cert("ca.pem")});
    }
    static void TearDownTestSuite() {
        delete cn_only_server_;
        delete server_;
        std::error_code ec;
        std::filesystem::remove_all(*certs_, ec);
        delete certs_;
    }
    static std::string cert(const char* name) { return *certs_ + "/" + name; }
    static std::string url(const std::string& host, const std::string& query) {
        return "rediss://" + host + ":" + std::to_string(server_->tls_port()) + "/0?" + query +
               "&connect_timeout_ms=3000";
    }
    // The message of the ConnectionError that connecting to url raises ("" if none).
    static std::string connection_error(const std::string& u) {
        try {
            connect(u).counts();
        } catch (const ConnectionError& e) {
            return e.what();
        }
        return "";
    }

    static inline std::string* certs_ = nullptr;
    static inline testing::RedisServer* server_ = nullptr;
    static inline testing::RedisServer* cn_only_server_ = nullptr;  // CN=localhost, no SAN
};

TEST_F(RedisTls, VerifiedConnectionWorks) {
    ConnectOptions options;
    options.ns = "tls-works";
    auto mm = connect(url("127.0.0.1", "ca_cert=" + cert("ca.pem") + "&sni=localhost"), options);
    auto game = mm.create_game("alice", 2, "gs-1", {{"mode", "duel"}});
    EXPECT_EQ(mm.get_game(game.id)->creator_id, "alice");
    // The same data is there over the plain port: one server, two listeners.
    EXPECT_EQ(server_->command({"EXISTS", "tls-works:{0}:game:" + game.id}), std::vector<std::string>{"1"});
}

TEST_F(RedisTls, HostNameFromTheUrlIsVerified) {
    EXPECT_EQ(connect(url("localhost", "ca_cert=" + cert("ca.pem"))).counts().pending, 0);
}

TEST_F(RedisTls, ClientCertificateIsPresented) {
    auto mm = connect(url("127.0.0.1", "ca_cert=" + cert("ca.pem") + "&sni=localhost&cert=" +
                                           cert("client.pem") + "&key=" + cert("client.key")));
    EXPECT_EQ(mm.counts().pending, 0);
}

TEST_F(RedisTls, UnknownCaIsRefused) {
    const std::string msg =
        connection_error(url("127.0.0.1", "ca_cert=" + cert("other-ca.pem") + "&sni=localhost"));
    EXPECT_NE(msg.find("certificate was not accepted"), std::string::npos) << msg;
    EXPECT_NE(msg.find("for the server name 'localhost'"), std::string::npos) << msg;
}

TEST_F(RedisTls, WrongHostNameIsRefused) {
    // The certificate is for DNS:localhost; 127.0.0.1 (no sni) and another sni do not match.
    for (const std::string& u : {url("127.0.0.1", "ca_cert=" + cert("ca.pem")),
                                 url("127.0.0.1", "ca_cert=" + cert("ca.pem") + "&sni=redis.example")}) {
        const std::string msg = connection_error(u);
        EXPECT_NE(msg.find("mismatch"), std::string::npos) << u << ": " << msg;
    }
}

TEST_F(RedisTls, MissingCaFileIsAConnectionError) {
    const std::string msg = connection_error(url("localhost", "ca_cert=" + cert("nope.pem")));
    EXPECT_NE(msg.find("cannot load the CA certificates"), std::string::npos) << msg;
}

TEST_F(RedisTls, ACertificateNamingTheHostOnlyInItsCnIsRefused) {
    // Names are checked in the subjectAltName only (as browsers and Go do), never the CN.
    const std::string u = "rediss://127.0.0.1:" + std::to_string(cn_only_server_->tls_port()) +
                          "/0?ca_cert=" + cert("ca.pem") + "&sni=localhost&connect_timeout_ms=3000";
    const std::string msg = connection_error(u);
    EXPECT_NE(msg.find("mismatch"), std::string::npos) << msg;
    EXPECT_NE(msg.find("subject CN is not accepted"), std::string::npos) << msg;
}

TEST_F(RedisTls, RedissToAPlainPortSaysTheServerDidNotSpeakTls) {
    const std::string u = "rediss://127.0.0.1:" + std::to_string(server_->port()) +
                          "/0?ca_cert=" + cert("ca.pem") + "&connect_timeout_ms=500";
    const std::string msg = connection_error(u);
    EXPECT_NE(msg.find("did not speak TLS"), std::string::npos) << msg;
    EXPECT_NE(msg.find("plain Redis port"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("(null)"), std::string::npos) << msg;
}

TEST_F(RedisTls, RedisToATlsPortIsAConnectionErrorSuggestingRediss) {
    const std::string u = "redis://127.0.0.1:" + std::to_string(server_->tls_port()) + "/0";
    try {
        connect(u).counts();
        FAIL() << "connected in plain text to a TLS port";
    } catch (const OutcomeUnknown& e) {
        FAIL() << "outcome unknown, though nothing of the caller's was sent: " << e.what();
    } catch (const ConnectionError& e) {
        EXPECT_NE(std::string(e.what()).find("use rediss://"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace game_data

#endif
