// The wire format of SPEC section 3: encode/decode round trips and every malformed entry.
#include <gtest/gtest.h>

#include <string>

#include "game_data/errors.hpp"
#include "game_data/event_codec.hpp"

namespace game_data {
namespace {

Fields valid_fields() {
    return {{"type", "player_joined"}, {"game_id", "g1"}, {"server_id", "gs-1"},
            {"player_id", "bob"},      {"ts", "1700000000000"}, {"seq", "7"}};
}

Fields without(Fields f, const std::string& name) {
    std::erase_if(f, [&](const auto& kv) { return kv.first == name; });
    return f;
}

Fields with(Fields f, const std::string& name, const std::string& value) {
    for (auto& kv : f) {
        if (kv.first == name) {
            kv.second = value;
            return f;
        }
    }
    f.emplace_back(name, value);
    return f;
}

// The reason a malformed entry is refused with; fails the test if it is accepted.
std::string reason_for(const Fields& f) {
    try {
        decode_event(f);
    } catch (const InvalidArgument& e) {
        return e.what();
    }
    ADD_FAILURE() << "decode_event accepted a malformed entry";
    return {};
}

void expect_short_reason(const std::string& reason, const std::string& mentions) {
    EXPECT_FALSE(reason.empty());
    EXPECT_LE(reason.size(), 80u) << reason;
    EXPECT_NE(reason.find(mentions), std::string::npos) << reason;
}

TEST(EventCodec, RoundTripsEveryEventType) {
    for (EventType t : kAllEventTypes) {
        Event e;
        e.type = t;
        e.game_id = "g-1.x_Y";
        e.server_id = "gs-1";
        if (t == EventType::CreatorJoined || t == EventType::PlayerJoined ||
            t == EventType::PlayerLeft) {
            e.player_id = "alice";
        }
        e.ts = 1'700'000'000'123;
        e.seq = 42;
        EXPECT_EQ(decode_event(encode_event(e)), e) << to_string(t);
    }
}

TEST(EventCodec, RoundTripsWithoutOptionalFields) {
    Event e{EventType::GameStarted, "g1", "gs-1", std::nullopt, std::nullopt, std::nullopt};
    EXPECT_EQ(decode_event(encode_event(e)), e);
}

TEST(EventCodec, EncodesFlatFieldsInAFixedOrder) {
    Event e{EventType::PlayerLeft, "g1", "gs-1", "bob", 5, 6};
    const Fields want = {{"type", "player_left"}, {"game_id", "g1"}, {"server_id", "gs-1"},
                         {"player_id", "bob"},    {"ts", "5"},       {"seq", "6"}};
    EXPECT_EQ(encode_event(e), want);
}

TEST(EventCodec, DecodesFieldsInAnyOrder) {
    Fields f = valid_fields();
    std::reverse(f.begin(), f.end());
    const Event e = decode_event(f);
    EXPECT_EQ(e.type, EventType::PlayerJoined);
    EXPECT_EQ(e.game_id, "g1");
    EXPECT_EQ(e.server_id, "gs-1");
    EXPECT_EQ(e.player_id, "bob");
    EXPECT_EQ(e.ts, 1'700'000'000'000);
    EXPECT_EQ(e.seq, 7);
}

TEST(EventCodec, UnknownExtraFieldsAreIgnored) {
    Fields f = valid_fields();
    f.emplace_back("region", "eu-west");
    f.emplace_back("x-trace", "\x01\x02 binary");
    EXPECT_EQ(decode_event(f), decode_event(valid_fields()));
}

TEST(EventCodec, MissingTypeIsRefused) {
    expect_short_reason(reason_for(without(valid_fields(), "type")), "type");
}

TEST(EventCodec, MissingGameIdIsRefused) {
    expect_short_reason(reason_for(without(valid_fields(), "game_id")), "game_id");
}

TEST(EventCodec, MissingServerIdIsRefused) {
    expect_short_reason(reason_for(without(valid_fields(), "server_id")), "server_id");
}

TEST(EventCodec, MissingPlayerIdIsRefusedForEveryTypeThatNeedsIt) {
    for (const char* type : {"creator_joined", "player_joined", "player_left"}) {
        SCOPED_TRACE(type);
        expect_short_reason(reason_for(with(without(valid_fields(), "player_id"), "type", type)),
                            "player_id");
    }
}

TEST(EventCodec, PlayerIdIsOptionalForTypesThatDoNotNeedIt) {
    for (const char* type : {"all_players_joined", "game_started", "game_ended", "heartbeat"}) {
        EXPECT_NO_THROW(decode_event(with(without(valid_fields(), "player_id"), "type", type)))
            << type;
    }
}

TEST(EventCodec, UnknownTypeIsRefused) {
    for (const char* type : {"game_paused", "GAME_STARTED", "created", " game_started"}) {
        SCOPED_TRACE(type);
        expect_short_reason(reason_for(with(valid_fields(), "type", type)), "type");
    }
}

TEST(EventCodec, EmptyValuesAreRefused) {
    for (const char* field : {"type", "game_id", "server_id", "player_id", "ts", "seq"}) {
        SCOPED_TRACE(field);
        expect_short_reason(reason_for(with(valid_fields(), field, "")), "");
    }
}

TEST(EventCodec, RepeatedFieldIsRefused) {
    for (const char* field : {"type", "game_id", "server_id", "player_id", "ts", "seq"}) {
        SCOPED_TRACE(field);
        Fields f = valid_fields();
        for (const auto& kv : valid_fields()) {
            if (kv.first == field) f.push_back(kv);  // same value twice is still ambiguous
        }
        expect_short_reason(reason_for(f), field);
    }
}

TEST(EventCodec, OverLongIdsAreRefused) {
    for (const char* field : {"game_id", "server_id", "player_id"}) {
        SCOPED_TRACE(field);
        expect_short_reason(reason_for(with(valid_fields(), field, std::string(129, 'a'))), field);
    }
}

TEST(EventCodec, IdsOf128BytesAreAccepted) {
    const std::string id(128, 'a');
    Fields f = with(with(with(valid_fields(), "game_id", id), "server_id", id), "player_id", id);
    EXPECT_EQ(decode_event(f).game_id, id);
}

TEST(EventCodec, IdsWithInvalidCharactersAreRefused) {
    for (const char* field : {"game_id", "server_id", "player_id"}) {
        for (const std::string& bad : {std::string("a b"), std::string("a:b"), std::string("a{b}"),
                                      std::string("\xc3\xa9"), std::string("a\0b", 3)}) {
            SCOPED_TRACE(std::string(field) + "=" + bad);
            expect_short_reason(reason_for(with(valid_fields(), field, bad)), field);
        }
    }
}

TEST(EventCodec, ReasonsDoNotEchoTheOffendingValue) {
    const std::string reason = reason_for(with(valid_fields(), "game_id", "evil id with spaces"));
    EXPECT_EQ(reason.find("evil"), std::string::npos) << reason;
}

TEST(EventCodec, NonNumericTsAndSeqAreRefused) {
    for (const char* field : {"ts", "seq"}) {
        for (const char* bad : {"abc", "12x", "1.5", "0x10", " 1", "1 ", "+1", "1e3"}) {
            SCOPED_TRACE(std::string(field) + "=" + bad);
            expect_short_reason(reason_for(with(valid_fields(), field, bad)), field);
        }
    }
}

TEST(EventCodec, NegativeTsAndSeqAreRefused) {
    for (const char* field : {"ts", "seq"}) {
        SCOPED_TRACE(field);
        expect_short_reason(reason_for(with(valid_fields(), field, "-1")), field);
    }
}

TEST(EventCodec, TsAndSeqBeyondInt64AreRefused) {
    for (const char* field : {"ts", "seq"}) {
        SCOPED_TRACE(field);
        expect_short_reason(reason_for(with(valid_fields(), field, "9223372036854775808")), field);
    }
}

TEST(EventCodec, SeqUpToTwoToThe53MinusOneIsAccepted) {
    EXPECT_EQ(decode_event(with(valid_fields(), "seq", "9007199254740991")).seq, kMaxSeq);
}

TEST(EventCodec, SeqAboveTwoToThe53MinusOneIsRefused) {
    // Every backend must compare seqs exactly; Redis does so in Lua, as doubles.
    expect_short_reason(reason_for(with(valid_fields(), "seq", "9007199254740992")), "seq");
}

TEST(EventCodec, ZeroTsAndSeqAreAccepted) {
    const Event e = decode_event(with(with(valid_fields(), "ts", "0"), "seq", "0"));
    EXPECT_EQ(e.ts, 0);
    EXPECT_EQ(e.seq, 0);
}

TEST(EventCodec, GarbageEntriesAreRefused) {
    const std::vector<Fields> garbage = {
        {},
        {{"", ""}},
        {{"garbage", "\xff\xfe\x00\x01"}},
        {{"type", std::string("\x00\x01\x02", 3)}, {"game_id", "g1"}, {"server_id", "gs-1"}},
        {{"type", "heartbeat"}, {"game_id", std::string("\xde\xad\xbe\xef")}, {"server_id", "s"}},
        {{"type", "heartbeat"}, {"game_id", "g1"}, {"server_id", std::string(100000, '\x80')}},
    };
    for (const Fields& f : garbage) EXPECT_THROW(decode_event(f), InvalidArgument);
}

TEST(ValidateEvent, AcceptsAWellFormedEvent) {
    EXPECT_NO_THROW(validate_event(Event{EventType::PlayerJoined, "g1", "gs-1", "bob", 1, 2}));
}

TEST(ValidateEvent, RefusesMissingPlayerWhereRequired) {
    EXPECT_THROW(validate_event(Event{EventType::PlayerLeft, "g1", "gs-1", {}, {}, {}}),
                 InvalidArgument);
}

TEST(ValidateEvent, RefusesBadIds) {
    EXPECT_THROW(validate_event(Event{EventType::Heartbeat, "", "gs-1", {}, {}, {}}),
                 InvalidArgument);
    EXPECT_THROW(validate_event(Event{EventType::Heartbeat, "g1", "gs 1", {}, {}, {}}),
                 InvalidArgument);
    EXPECT_THROW(validate_event(Event{EventType::PlayerJoined, "g1", "gs-1", "b:b", {}, {}}),
                 InvalidArgument);
}

TEST(ValidateEvent, RefusesSeqAboveTwoToThe53MinusOne) {
    EXPECT_NO_THROW(validate_event(Event{EventType::Heartbeat, "g1", "gs-1", {}, {}, kMaxSeq}));
    EXPECT_THROW(validate_event(Event{EventType::Heartbeat, "g1", "gs-1", {}, {}, kMaxSeq + 1}),
                 InvalidArgument);
}

TEST(ValidateEvent, RefusesNegativeTsAndSeq) {
    EXPECT_THROW(validate_event(Event{EventType::Heartbeat, "g1", "gs-1", {}, -1, {}}),
                 InvalidArgument);
    EXPECT_THROW(validate_event(Event{EventType::Heartbeat, "g1", "gs-1", {}, {}, -1}),
                 InvalidArgument);
}

}  // namespace
}  // namespace game_data
