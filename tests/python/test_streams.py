"""Events on the stream in the wire format (SPEC section 3): flat string entries drive games
through the lifecycle; bad entries are dead-lettered with a reason, never dropped, and never
stop the good ones around them."""

from __future__ import annotations

import re
import uuid

import pytest

import game_data
from game_data import ApplyStatus, Event, EventType, GameState
from game_data.testing import drain
from game_data.testing.simulator import GARBAGE_KINDS, garbage_fields

from conftest import STREAM_BACKENDS


@pytest.fixture
def mm(stream_mm: game_data.Matchmaker) -> game_data.Matchmaker:
    """A matchmaker on every backend whose event stream works (conftest.py)."""
    return stream_mm


@pytest.fixture
def pub(mm):
    return mm.publisher("gs-1")


@pytest.fixture
def consumer(mm):
    return mm.consumer(name="stream-test")


def dead_letters(mm, stream: str | None = None) -> list[dict]:
    return [fields for _, fields in mm.stream_entries(stream or f"{mm.default_stream}:dead")]


def raw(type_: str, game_id: str, server_id: str = "gs-1", **extra: str) -> dict[str, str]:
    return {"type": type_, "game_id": game_id, "server_id": server_id, **extra}


def test_raw_entries_drive_a_game_through_every_state_and_set(mm, pub, consumer):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    assert mm.set_entry(game.id)[0] == "pending"
    steps = [
        (raw("creator_joined", game.id, player_id="alice"), GameState.CREATOR_JOINED, "lobby"),
        (raw("player_joined", game.id, player_id="bob"), GameState.CREATOR_JOINED, "lobby"),
        (raw("all_players_joined", game.id), GameState.ALL_PLAYERS_JOINED, "lobby"),
        (raw("game_started", game.id), GameState.IN_PROGRESS, "active"),
        (raw("heartbeat", game.id), GameState.IN_PROGRESS, "active"),
    ]
    for fields, state, set_name in steps:
        pub.publish_raw(fields)
        (result,) = drain(consumer)
        assert result.status is ApplyStatus.APPLIED, fields
        assert result.state is state
        assert mm.get_game(game.id).state is state
        assert mm.set_entry(game.id)[0] == set_name

    pub.publish_raw(raw("game_ended", game.id))
    (result,) = drain(consumer)
    assert result.state is GameState.ENDED
    assert mm.get_game(game.id) is None
    assert mm.set_entry(game.id) is None


def test_forward_skip_from_created_to_in_progress_moves_pending_to_active(mm, pub, consumer):
    game = mm.create_game(creator_id="alice", capacity=4, server_id="gs-1")
    pub.publish_raw(raw("game_started", game.id))

    (result,) = drain(consumer)

    assert result.status is ApplyStatus.APPLIED
    assert mm.set_entry(game.id)[0] == "active"
    assert mm.counts() == {"pending": 0, "lobby": 0, "active": 1}


def test_backward_event_is_a_duplicate_and_changes_nothing(mm, pub, consumer):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    pub.publish_raw(raw("game_started", game.id))
    pub.publish_raw(raw("creator_joined", game.id, player_id="alice"))  # late: seats her once
    drain(consumer)
    before = mm.get_game(game.id)
    assert (before.state, before.players) == (GameState.IN_PROGRESS, ["alice"])

    pub.publish_raw(raw("creator_joined", game.id, player_id="alice"))
    pub.publish_raw(raw("all_players_joined", game.id))

    assert [r.status for r in drain(consumer)] == [ApplyStatus.DUPLICATE] * 2
    assert mm.get_game(game.id) == before


def test_roster_events_delivered_out_of_order_give_the_published_roster(mm, pub, consumer):
    game = mm.create_game(creator_id="alice", capacity=3, server_id="gs-1")
    # Published (seq order): alice, bob and carol join, bob leaves, dave joins. Delivered:
    # the joins first -- dave's before alice's -- then bob's leave.
    sent = {name: raw(type_, game.id, player_id=player, seq=str(seq)) for name, type_, player, seq in (
        ("alice", "creator_joined", "alice", 1), ("bob", "player_joined", "bob", 2),
        ("carol", "player_joined", "carol", 3), ("bob_left", "player_left", "bob", 4),
        ("dave", "player_joined", "dave", 5))}
    for name in ("dave", "carol", "bob", "alice"):
        pub.publish_raw(sent[name])

    joins = drain(consumer)

    # Each join is applied; the latest-published one waits for the seat bob's leave frees.
    assert [(r.status, r.reason) for r in joins] == [(ApplyStatus.APPLIED, "")] * 4
    current = mm.get_game(game.id)
    assert (current.players, current.held) == (["alice", "bob", "carol"], [("dave", 5)])
    pub.publish_raw(sent["bob_left"])
    assert [r.status for r in drain(consumer)] == [ApplyStatus.APPLIED]
    current = mm.get_game(game.id)
    assert (current.players, current.held) == (["alice", "carol", "dave"], [])
    assert current.state is GameState.CREATOR_JOINED
    assert dead_letters(mm) == []


def test_seq_on_the_wire_de_duplicates_per_player_for_roster_events_only(mm, pub, consumer):
    game = mm.create_game(creator_id="alice", capacity=4, server_id="gs-1")
    A, D = ApplyStatus.APPLIED, ApplyStatus.DUPLICATE
    sent = [
        (raw("creator_joined", game.id, player_id="alice", seq="10"), A),
        (raw("player_joined", game.id, player_id="bob", seq="10"), A),  # another player
        (raw("player_joined", game.id, player_id="carol", seq="9"), A),  # older, another player
        (raw("player_joined", game.id, player_id="bob", seq="10"), D),  # bob's join again
        (raw("player_left", game.id, player_id="carol", seq="8"), D),  # older than carol's join
        (raw("player_joined", game.id, player_id="dave", seq="11"), A),
        (raw("heartbeat", game.id, seq="3"), A),  # heartbeats: whatever their seq
        (raw("all_players_joined", game.id, seq="2"), A),  # lifecycle: ordered by state
        (raw("all_players_joined", game.id, seq="12"), D),  # state already reached
    ]
    ids = [pub.publish_raw(fields) for fields, _ in sent]

    results = drain(consumer)

    assert [r.entry_id for r in results] == ids
    assert [r.status for r in results] == [status for _, status in sent]
    assert [r.reason for r in results if r.status is D] == [
        "seq already applied", "seq already applied", "state already reached"]
    game = mm.get_game(game.id)
    assert game.state is GameState.ALL_PLAYERS_JOINED
    assert game.players == ["alice", "carol", "bob", "dave"]  # the publish (seq) order
    assert game.player_seqs == {"alice": 10, "bob": 10, "carol": 9, "dave": 11}
    assert game.last_seq == 11
    assert dead_letters(mm) == []


def test_events_published_before_the_first_consumer_are_not_missed(mm, pub):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    pub.creator_joined(game.id, "alice")
    pub.player_joined(game.id, "bob")

    late = mm.consumer(name="late-starter")
    results = drain(late)

    assert [r.status for r in results] == [ApplyStatus.APPLIED] * 2
    assert mm.get_game(game.id).players == ["alice", "bob"]


def test_sdk_publisher_methods_write_the_wire_format(mm, pub, consumer):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    pub.creator_joined(game.id, "alice")
    pub.player_joined(game.id, "bob")
    pub.player_left(game.id, "bob")
    pub.player_joined(game.id, "carol")
    pub.all_players_joined(game.id)
    pub.game_started(game.id)
    pub.heartbeat(game.id)
    pub.publish(Event(type=EventType.GAME_ENDED, game_id=game.id, server_id="gs-1"))

    entries = mm.stream_entries(mm.default_stream)
    types = [fields["type"] for _, fields in entries]
    assert types == ["creator_joined", "player_joined", "player_left", "player_joined",
                     "all_players_joined", "game_started", "heartbeat", "game_ended"]
    seqs = [int(fields["seq"]) for _, fields in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(fields["server_id"] == "gs-1" and int(fields["ts"]) > 0 for _, fields in entries)

    results = drain(consumer)
    assert [r.status for r in results] == [ApplyStatus.APPLIED] * 8
    assert mm.get_game(game.id) is None


def test_publisher_refuses_an_invalid_event_before_writing(mm, pub):
    with pytest.raises(ValueError):
        pub.publish(Event(type=EventType.HEARTBEAT, game_id="not a valid id", server_id="gs-1"))
    with pytest.raises(ValueError):
        pub.player_joined("g-1", "x" * 129)
    assert mm.stream_length(mm.default_stream) == 0


def test_every_kind_of_bad_entry_is_dead_lettered_in_one_batch_between_good_ones(mm, pub, consumer):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    other = mm.create_game(creator_id="zed", capacity=1, server_id="gs-1")
    # game: sixteen joins before the creator's (one seated, the rest held); once alice's and
    # bob's joins below are applied it is full and holds as many joins as it keeps. other: one
    # seq forgotten (seq_floor 1).
    mm.apply_many([Event(type=EventType.PLAYER_JOINED, game_id=game.id, server_id="gs-1",
                         player_id=f"h{i}") for i in range(16)])
    mm.apply_many([Event(type=EventType.PLAYER_LEFT, game_id=other.id, server_id="gs-1",
                         player_id=f"ghost{i}", seq=1 + i) for i in range(65)])
    assert mm.get_game(other.id).seq_floor == 1
    bad: list[tuple[dict[str, str], str]] = [
        (garbage_fields(kind, "gs-1", game.id if kind != "unknown_game" else "ghost-1"), reason)
        for kind, reason in GARBAGE_KINDS.items()
    ]
    bad += [
        (raw("heartbeat", game.id, server_id="gs-2"), "wrong server"),
        (raw("player_joined", other.id, player_id="yves", seq="1"), "seq too old"),
        (raw("creator_joined", other.id, player_id="not-zed"), "player is not the creator"),
        (raw("player_joined", game.id, player_id="carol"), "game is full"),
    ]
    pub.publish_raw(raw("creator_joined", game.id, player_id="alice"))
    pub.publish_raw(raw("player_joined", game.id, player_id="bob"))
    for fields, _ in bad:
        pub.publish_raw(fields)
    pub.publish_raw(raw("game_started", game.id))

    results = consumer.poll(count=1000, block_ms=0)

    assert len(results) == len(bad) + 3
    assert [r.status for r in results[:2]] == [ApplyStatus.APPLIED] * 2
    assert results[-1].status is ApplyStatus.APPLIED
    for result, (fields, reason) in zip(results[2:-1], bad):
        assert result.status is ApplyStatus.REJECTED, fields
        assert reason in result.reason, (fields, result.reason)
    letters = dead_letters(mm)
    assert len(letters) == len(bad)
    for letter, (fields, reason), result in zip(letters, bad, results[2:-1]):
        assert letter["error"] == result.reason
        assert {k: v for k, v in letter.items() if k != "error"} == fields
    assert mm.get_game(game.id).state is GameState.IN_PROGRESS
    assert mm.get_game(other.id).state is GameState.CREATED
    assert consumer.group_info() == {"pending": 0, "lag": 0}
    assert consumer.stats["dead_lettered"] == len(bad)


def test_event_for_an_ended_game_is_a_duplicate_not_a_dead_letter(mm, pub, consumer):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    pub.game_ended(game.id)
    drain(consumer)

    pub.heartbeat(game.id)
    pub.game_ended(game.id)

    results = drain(consumer)
    assert [r.status for r in results] == [ApplyStatus.DUPLICATE] * 2
    assert dead_letters(mm) == []


def test_dead_letters_go_to_the_configured_stream(mm, pub):
    consumer = mm.consumer(name="custom", dead_letter_stream="custom-dead")
    pub.publish_raw({"type": "nonsense"})

    (result,) = drain(consumer)

    assert result.status is ApplyStatus.REJECTED
    assert dead_letters(mm, "custom-dead") == [{"type": "nonsense", "error": result.reason}]
    assert mm.stream_length(f"{mm.default_stream}:dead") == 0


@pytest.mark.parametrize("key", ["{ns}:events", "{ns}:{{0}}:reaped", "{ns}:{{0}}:game:g1", "{ns}:{{0}}:game:dead",
                                 "{ns}:{{0}}:pending", "{ns}:{{0}}:config", "{ns}:{{7}}:x:dead", "{ns}:anything"])
def test_a_dead_letter_stream_that_is_a_key_of_the_namespace_is_refused(mm, key):
    name = key.format(ns=mm.namespace)
    with pytest.raises(game_data.InvalidArgumentError, match=f"dead_letter_stream '{re.escape(name)}' is"):
        mm.consumer(name="c", stream="elsewhere", dead_letter_stream=name)


@pytest.mark.parametrize("key", ["{ns}:events:dead", "{ns}:eu-events:dead", "custom-dead", "other:{{0}}:reaped"])
def test_a_dead_letter_stream_outside_the_namespaces_keys_is_accepted(mm, key):
    name = key.format(ns=mm.namespace)
    assert mm.consumer(name="c", dead_letter_stream=name).dead_letter_stream == name


def test_an_entry_with_its_own_error_field_is_dead_lettered_with_one_error(mm, pub, consumer):
    pub.publish_raw(raw("heartbeat", "ghost-game", error="set by the game server"))

    (result,) = drain(consumer)

    (entry,) = mm.stream_entries(f"{mm.default_stream}:dead")
    assert result.reason == "unknown game"
    assert entry[1] == {**raw("heartbeat", "ghost-game"), "orig_error": "set by the game server",
                        "error": "unknown game"}


@pytest.mark.parametrize("own", [
    [("orig_error", "O1")],
    [("error", "E1"), ("orig_error", "O1")],
    [("orig_error", "O1"), ("error", "E1")],
    [("orig_orig_error", "OO1")],
    [("orig_orig_error", "OO1"), ("error", "E1"), ("orig_error", "O1")],
], ids=lambda own: "+".join(name for name, _ in own))
def test_replay_gives_back_exactly_the_entrys_own_fields(mm, pub, consumer, own):
    entry = [("type", "heartbeat"), *own, ("game_id", "ghost-game"), ("server_id", "gs-1")]
    pub.publish_raw(entry)
    (result,) = drain(consumer)
    assert result.reason == "unknown game"
    (dead,) = dead_letters(mm)
    assert list(dead.items())[-1] == ("error", "unknown game")  # one error, the consumer's
    assert game_data._core.dead_letter_original_fields(dead) == dict(entry)

    assert len(mm.replay_dead_letters()) == 1

    replayed = mm.stream_entries(mm.default_stream)[-1][1]
    assert list(replayed.items()) == entry  # names, values and order


def test_consumers_on_their_own_streams_do_not_see_each_other(mm):
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    mm.publisher("gs-1", stream="region-a").creator_joined(game.id, "alice")
    b = mm.consumer(stream="region-b", name="b")
    a = mm.consumer(stream="region-a", name="a")

    assert drain(b) == []
    assert [r.status for r in drain(a)] == [ApplyStatus.APPLIED]


if "redis" in STREAM_BACKENDS:

    def test_foreign_server_writing_with_xadd_drives_a_game(redis_url, gd_namespace):
        import redis

        mm = game_data.connect(redis_url, namespace=gd_namespace)
        consumer = mm.consumer(name="xadd")
        client = redis.Redis.from_url(redis_url)
        game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-x")
        for fields in (
            raw("creator_joined", game.id, "gs-x", player_id="alice", seq="1"),
            raw("player_joined", game.id, "gs-x", player_id="bob", seq="2"),
            raw("game_started", game.id, "gs-x", seq="3"),
        ):
            client.xadd(mm.default_stream, fields)

        assert [r.status for r in drain(consumer)] == [ApplyStatus.APPLIED] * 3
        assert mm.get_game(game.id).state is GameState.IN_PROGRESS
        client.close()

    def test_binary_junk_that_is_not_utf8_is_dead_lettered(redis_url, gd_namespace):
        import redis

        mm = game_data.connect(redis_url, namespace=gd_namespace)
        consumer = mm.consumer(name="junk")
        client = redis.Redis.from_url(redis_url)
        game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
        client.xadd(mm.default_stream, {b"type": b"heartbeat", b"game_id": b"\xff\xfe\x00\x80",
                                        b"server_id": b"gs-1"})
        client.xadd(mm.default_stream, {b"\xc3\x28": b"\x00" * 10})
        mm.publisher("gs-1").creator_joined(game.id, "alice")

        results = drain(consumer)

        assert [r.status for r in results] == [ApplyStatus.REJECTED, ApplyStatus.REJECTED,
                                               ApplyStatus.APPLIED]
        letters = client.xrange(f"{mm.default_stream}:dead")
        assert len(letters) == 2
        assert letters[0][1][b"game_id"] == b"\xff\xfe\x00\x80"
        assert all(fields[b"error"] for _, fields in letters)
        client.close()


def test_a_url_publisher_with_a_namespace_writes_where_that_matchmaker_reads(redis_url: str) -> None:
    ns = f"pubns-{uuid.uuid4().hex[:8]}"
    mm = game_data.connect(redis_url, namespace=ns)
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    pub = game_data.EventPublisher(redis_url, "gs-1", namespace=ns)
    assert pub.stream == f"{ns}:events" == mm.default_stream
    assert game_data.EventPublisher(redis_url, "gs-1").stream == "gd:events"
    assert game_data.EventPublisher(redis_url, "gs-1", stream="mine", namespace=ns).stream == "mine"
    with pytest.raises(game_data.InvalidArgumentError):
        game_data.EventPublisher(redis_url, "gs-1", namespace="bad ns")
    pub.creator_joined(game.id, player_id="alice")
    assert len(mm.consumer(name="t").poll(count=10, block_ms=0)) == 1
    stored = mm.get_game(game.id)
    assert stored is not None and stored.state is GameState.CREATOR_JOINED
