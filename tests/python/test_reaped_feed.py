"""The reaped feed (SPEC section 7, README "No reaped game goes unreported") on every backend:
every game reap() removed is delivered through a consumer group until it is acknowledged,
to whichever reader is alive."""

from __future__ import annotations

import json
import os
import re
import socket
import threading

import pytest

import game_data
from game_data import Event, EventType, GameState
from game_data.testing import wait_for

SERVER = "gs-1"
FAR_PAST_EVERY_MAX_AGE_MS = 10 * max(game_data.DEFAULT_MAX_AGE_MS.values())


@pytest.fixture
def url(backend_url: str, gd_namespace: str) -> str:
    """A URL every handle of the test shares (memory:// by name)."""
    return f"memory://{gd_namespace}" if backend_url == "memory://" else backend_url


@pytest.fixture
def mm(url: str, gd_namespace: str) -> game_data.Matchmaker:
    return game_data.connect(url, namespace=gd_namespace)


def short_host() -> str:
    """The <host> of a default consumer name: the short host name, [A-Za-z0-9_-] else '-'."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])[:64] or "host"


def in_state(mm: game_data.Matchmaker, state: GameState, creator: str = "alice") -> game_data.Game:
    game = mm.create_game(creator_id=creator, capacity=2, server_id=SERVER)
    steps = {GameState.CREATED: [], GameState.CREATOR_JOINED: [EventType.CREATOR_JOINED],
             GameState.IN_PROGRESS: [EventType.CREATOR_JOINED, EventType.GAME_STARTED]}[state]
    for step in steps:
        player = creator if step is EventType.CREATOR_JOINED else None
        mm.apply(Event(type=step, game_id=game.id, server_id=SERVER, player_id=player))
    return mm.get_game(game.id)


def reap_all(mm: game_data.Matchmaker) -> tuple[list[game_data.Game], int]:
    now = mm.now() + FAR_PAST_EVERY_MAX_AGE_MS
    return mm.reap(now=now), now


def test_the_feed_delivers_each_reaped_game_with_its_set_score_and_time(mm):
    games = [in_state(mm, s) for s in (GameState.CREATED, GameState.CREATOR_JOINED, GameState.IN_PROGRESS)]
    scores = {g.id: mm.set_entry(g.id) for g in games}
    reaped, now = reap_all(mm)
    assert {g.id for g in reaped} == {g.id for g in games}

    items = mm.reaped_feed(group="deleter", name="d-1").poll(count=100, block_ms=0)

    assert [item.game for item in items] == reaped
    for item in items:
        assert isinstance(item, game_data.Reaped)
        assert (item.set, item.score) == scores[item.game.id]
        assert item.reaped_at == now
        assert item.game == next(g for g in games if g.id == item.game.id)
    assert len({item.entry_id for item in items}) == 3


def test_the_reaped_stream_holds_one_entry_per_reaped_game_with_the_documented_fields(mm, gd_namespace):
    game = in_state(mm, GameState.CREATOR_JOINED)
    score = mm.set_entry(game.id)[1]
    _, now = reap_all(mm)
    feed = mm.reaped_feed()
    assert feed.stream == f"{gd_namespace}:{{0}}:reaped"

    entries = mm.stream_entries(feed.stream)

    assert len(entries) == 1
    fields = entries[0][1]
    assert set(fields) == {"game_id", "server_id", "state", "set", "score", "reaped_at", "game"}
    assert (fields["game_id"], fields["server_id"], fields["state"], fields["set"]) == (
        game.id, SERVER, "creator_joined", "lobby")
    assert (int(fields["score"]), int(fields["reaped_at"])) == (score, now)
    assert game_data.Game.from_dict(json.loads(fields["game"])) == game


def test_unacknowledged_items_are_delivered_again_until_acknowledged(mm):
    for _ in range(3):
        in_state(mm, GameState.CREATED)
    reap_all(mm)
    feed = mm.reaped_feed(name="d-1")
    items = feed.poll(count=10)
    assert len(items) == 3

    again = feed.poll(count=10)
    assert [i.entry_id for i in again] == [i.entry_id for i in items]
    assert feed.ack(items[:2]) == 2
    assert feed.ack(items[:2]) == 0, "acknowledged once"
    rest = feed.poll(count=10)
    assert [i.entry_id for i in rest] == [items[2].entry_id]
    assert feed.ack(rest) == 1
    assert feed.poll(count=10) == []


def test_a_readers_own_unacknowledged_items_come_before_new_ones(mm):
    first = in_state(mm, GameState.CREATED)
    reap_all(mm)
    feed = mm.reaped_feed(name="d-1")
    assert [i.game.id for i in feed.poll()] == [first.id]
    second = in_state(mm, GameState.CREATED)
    reap_all(mm)

    assert [i.game.id for i in feed.poll()] == [first.id]
    feed.ack(feed.poll())
    assert [i.game.id for i in feed.poll()] == [second.id]


def test_count_limits_a_poll(mm):
    for _ in range(5):
        in_state(mm, GameState.CREATED)
    reap_all(mm)
    feed = mm.reaped_feed()
    got = []
    while items := feed.poll(count=2):
        assert len(items) <= 2
        got.extend(i.game.id for i in items)
        feed.ack(items)
    assert len(got) == len(set(got)) == 5


def test_a_reader_started_after_the_reap_still_gets_it(url, gd_namespace):
    # The matchmaker that reaped crashed before telling anyone: a new process learns it.
    janitor = game_data.connect(url, namespace=gd_namespace)
    game = in_state(janitor, GameState.CREATOR_JOINED)
    reap_all(janitor)
    del janitor

    later = game_data.connect(url, namespace=gd_namespace)
    assert [i.game.id for i in later.reaped_feed(name="fresh").poll()] == [game.id]


def test_each_group_gets_every_item(mm):
    game = in_state(mm, GameState.IN_PROGRESS)
    reap_all(mm)
    deleter = mm.reaped_feed(group="deleter")
    auditor = mm.reaped_feed(group="auditor")
    assert [i.game.id for i in deleter.poll()] == [game.id]
    deleter.ack(deleter.poll())
    assert [i.game.id for i in auditor.poll()] == [game.id]


def test_another_reader_takes_over_what_a_reader_left_unacknowledged(url, gd_namespace):
    mm = game_data.connect(url, namespace=gd_namespace)
    games = {in_state(mm, GameState.CREATED).id for _ in range(3)}
    reap_all(mm)
    crashed = mm.reaped_feed(group="deleter", name="d-crashed", claim_idle_ms=50)
    assert {i.game.id for i in crashed.poll()} == games  # read, never acknowledged

    other = game_data.connect(url, namespace=gd_namespace).reaped_feed(
        group="deleter", name="d-alive", claim_idle_ms=50)
    taken = wait_for(lambda: other.poll(count=10), timeout=10, what="the idle items to be claimed")

    assert {i.game.id for i in taken} == games
    assert other.ack(taken) == 3
    assert crashed.poll() == [], "claimed away from the crashed reader, and acknowledged"
    assert other.poll() == []


def test_items_are_not_taken_over_before_claim_idle_ms(mm):
    in_state(mm, GameState.CREATED)
    reap_all(mm)
    busy = mm.reaped_feed(name="d-busy", claim_idle_ms=600_000)
    assert len(busy.poll()) == 1
    assert mm.reaped_feed(name="d-other", claim_idle_ms=600_000).poll() == []


def test_a_blocking_poll_returns_as_soon_as_a_game_is_reaped(mm):
    feed = mm.reaped_feed(name="d-1")
    assert feed.poll(block_ms=0) == []  # the group exists from here on
    game = in_state(mm, GameState.CREATED)
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(feed.poll(block_ms=10_000)))
    reader.start()
    reap_all(mm)
    reader.join(timeout=10)
    assert not reader.is_alive(), "the blocking poll did not return"
    assert [i.game.id for i in got] == [game.id]


def test_ack_of_nothing_is_zero(mm):
    assert mm.reaped_feed().ack([]) == 0


def test_an_ack_trims_what_every_group_has_acknowledged(mm):
    for _ in range(4):
        in_state(mm, GameState.CREATED)
    reap_all(mm)
    deleter = mm.reaped_feed(group="deleter", name="d-1")
    audit = mm.reaped_feed(group="audit", name="a-1", trim_interval_ms=0)
    assert mm.stream_length(deleter.stream) == 4
    assert audit.ack(audit.poll(count=1)) == 1
    assert mm.stream_length(deleter.stream) == 4, "trim_interval_ms=0: ack never trims"

    assert deleter.ack(deleter.poll(count=100)) == 4  # the first ack of a feed trims

    assert mm.stream_length(deleter.stream) == 3, "only what both groups acknowledged"
    assert len(audit.poll(count=100)) == 3, "nothing a group still needs was removed"


def test_trim_acknowledged_removes_only_acknowledged_entries(mm):
    for _ in range(3):
        in_state(mm, GameState.CREATED)
    reap_all(mm)
    feed = mm.reaped_feed(group="deleter", name="d-1", trim_interval_ms=0)
    items = feed.poll(count=100)
    assert feed.trim_acknowledged() == 0, "read, not acknowledged"
    assert mm.stream_length(feed.stream) == 3
    feed.ack(items[:2])
    assert feed.trim_acknowledged() == 2
    assert mm.stream_length(feed.stream) == 1
    assert [i.game.id for i in feed.poll(count=100)] == [items[2].game.id], "delivered again"
    feed.ack(items[2:])
    assert feed.trim_acknowledged() == 1
    assert mm.stream_length(feed.stream) == 0


def test_a_stream_no_group_reads_is_not_trimmed(mm):
    in_state(mm, GameState.CREATED)
    reap_all(mm)
    feed = mm.reaped_feed()  # no group until it polls or acknowledges
    assert feed.trim_acknowledged() == 0
    assert mm.stream_length(feed.stream) == 1


def test_the_default_reader_name_is_unique_per_feed_and_process(mm):
    names = [mm.reaped_feed().name, mm.reaped_feed().name]
    assert names[0] != names[1]
    for name in names:
        assert re.fullmatch(rf"{re.escape(short_host())}-{os.getpid()}-[0-9a-f]{{6}}", name), name


def test_readers_left_idle_with_nothing_pending_are_removed_from_the_group(redis_url, gd_namespace):
    import redis

    mm = game_data.connect(redis_url, namespace=gd_namespace)
    in_state(mm, GameState.CREATED)
    reap_all(mm)
    dead = mm.reaped_feed()  # a process that read, acknowledged and died
    dead.ack(dead.poll())
    busy = mm.reaped_feed(claim_idle_ms=3_600_000)
    in_state(mm, GameState.CREATED)
    reap_all(mm)
    assert len(busy.poll()) == 1  # left pending: kept however idle
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        def readers() -> set[str]:
            return {c["name"] for c in client.xinfo_consumers(dead.stream, "deleter")}

        assert readers() == {dead.name, busy.name}
        live = mm.reaped_feed(remove_idle_consumers_ms=50)
        wait_for(lambda: live.poll(block_ms=10) == [] and dead.name not in readers(),
                 what="the dead reader to be removed")
        assert readers() == {busy.name, live.name}
    finally:
        client.close()


@pytest.mark.parametrize("kwargs", [{"group": "bad group"}, {"name": ""}, {"claim_idle_ms": 0},
                                    {"claim_idle_ms": True}, {"trim_interval_ms": -1},
                                    {"trim_interval_ms": 24 * 3600 * 1000 + 1},
                                    {"remove_idle_consumers_ms": -1},
                                    {"remove_idle_consumers_ms": 7 * 24 * 3600 * 1000 + 1}], ids=repr)
def test_bad_feed_arguments_are_invalid(mm, kwargs):
    with pytest.raises(game_data.InvalidArgumentError):
        mm.reaped_feed(**kwargs)


@pytest.mark.parametrize("kwargs", [{"count": 0}, {"count": 10_001}, {"block_ms": -1}], ids=repr)
def test_bad_poll_arguments_are_invalid(mm, kwargs):
    with pytest.raises(game_data.InvalidArgumentError):
        mm.reaped_feed().poll(**kwargs)


def test_a_reaped_stream_no_feed_reads_keeps_its_newest_retention_entries(url, gd_namespace):
    mm = game_data.connect(url, namespace=gd_namespace, reaped_retention=3)
    ids = [mm.create_game(creator_id="alice", capacity=2, server_id=SERVER).id for _ in range(5)]
    reaped, _now = reap_all(mm)
    assert {g.id for g in reaped} == set(ids), "every game is still reaped and returned"
    assert mm.stats()["game_data_reaped_dropped_total"] == 2
    feed = mm.reaped_feed(group="late")
    items = feed.poll(count=10, block_ms=0)
    assert len(items) == 3, "the newest three were kept for a feed that starts later"
    assert {i.game.id for i in items} <= set(ids)


@pytest.mark.parametrize("bad", [-1, "3", 2.5])
def test_reaped_retention_must_be_a_count(bad):
    with pytest.raises((game_data.InvalidArgumentError, TypeError)):
        game_data.connect("memory://", reaped_retention=bad)
