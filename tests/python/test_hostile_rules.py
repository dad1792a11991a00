"""Issue 16, found under hostile testing: one clock decides (Redis's, whatever the clocks of
the processes), a namespace's stored config is validated and an empty declaration is none, and
a commit that cannot apply writes nothing (keys of the wrong type) and is reported.

The clock tests run real processes whose clock is shifted by libfaketime (Debian's package,
installed by ./dev) against one private redis-server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

import game_data
from game_data import Event, GameState

FAKETIME_LIBS = [Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
                 Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1")]


def faketime_lib() -> Path:
    for lib in FAKETIME_LIBS:
        if lib.exists():
            return lib
    raise AssertionError("libfaketime is missing: ./dev installs Debian's faketime package")


def run_shifted(shift: str, code: str, **values: object) -> dict:
    """Runs `code` in a Python process whose wall clock is shifted by `shift` ("+20s"); the
    code gets `values` as globals and sets `out` (a dict), which comes back."""
    env = dict(os.environ, LD_PRELOAD=str(faketime_lib()), FAKETIME=shift,
               FAKETIME_DONT_FAKE_MONOTONIC="1", FAKETIME_NO_CACHE="1")
    prelude = "import json, sys, time, game_data\nvalues = json.loads(sys.argv[1])\nglobals().update(values)\nout = {}\n"
    epilogue = "\nprint(json.dumps(out))\n"
    proc = subprocess.run([sys.executable, "-c", prelude + code + epilogue, json.dumps(values)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def lobby_game(mm: game_data.Matchmaker, gid: str, capacity: int = 2) -> None:
    mm.create_game(creator_id="alice", capacity=capacity, server_id="gs-1", game_id=gid)
    assert mm.apply(Event(type="creator_joined", game_id=gid, server_id="gs-1",
                          player_id="alice")).status.value == "applied"


# ---- one clock --------------------------------------------------------------------------------

SHIFT_CHECK = """
mem = game_data.connect("memory://")
out["local_ahead_ms"] = int(time.time() * 1000) - real_ms
out["core_ahead_ms"] = mem.now() - real_ms
mm = game_data.connect(url, namespace=ns)
out["redis_ahead_ms"] = mm.now() - real_ms
"""


@pytest.mark.parametrize("shift", ["+20s", "-20s"])
def test_the_shim_shifts_the_process_but_not_the_time_that_decides(redis_url, gd_namespace, shift):
    # The shim works on both Python's and the C++ core's clock (memory:// has only that one);
    # on Redis the time that decides is Redis's own.
    out = run_shifted(shift, SHIFT_CHECK, url=redis_url, ns=gd_namespace, real_ms=int(time.time() * 1000))
    sign = 1 if shift.startswith("+") else -1
    assert sign * out["local_ahead_ms"] > 18_000
    assert sign * out["core_ahead_ms"] > 18_000
    assert abs(out["redis_ahead_ms"]) < 5_000


def test_a_process_ahead_cannot_take_a_seat_another_player_holds(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace)
    lobby_game(mm, "g1")  # one free seat
    mm.reserve_seat("g1", "bob", ttl_ms=15_000)
    out = run_shifted("+20s", """
mm = game_data.connect(url, namespace=ns)
try:
    mm.reserve_seat("g1", "carol", ttl_ms=15_000)
    out["carol"] = "reserved"
except game_data.SeatUnavailableError as e:
    out["carol"] = e.reason
""", url=redis_url, ns=gd_namespace)
    assert out["carol"] == "full"
    assert set(mm.get_game("g1").reservations) == {"bob"}, "bob's seat is still his"


def test_a_process_behind_grants_reservations_that_last_their_ttl_for_everyone(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace)
    lobby_game(mm, "g1", capacity=2)
    before = mm.now()
    out = run_shifted("-20s", """
mm = game_data.connect(url, namespace=ns)
out["expires_at"] = mm.reserve_seat("g1", "dave", ttl_ms=15_000).expires_at
""", url=redis_url, ns=gd_namespace)
    assert before + 15_000 <= out["expires_at"] <= mm.now() + 15_000
    game = mm.get_game("g1")
    assert set(game.reservations) == {"dave"}, "live for every other process"
    assert game.free_seats == 0
    assert mm.get_open_games(10) == []


def test_a_janitor_ahead_does_not_reap_a_game_made_a_moment_ago(redis_url, gd_namespace):
    mm = game_data.connect(redis_url, namespace=gd_namespace)
    mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id="fresh")
    out = run_shifted("+61s", """
mm = game_data.connect(url, namespace=ns, max_age_ms={"pending": 60_000, "lobby": 60_000, "active": 60_000})
out["reaped"] = [g.id for g in mm.reap()]
""", url=redis_url, ns=gd_namespace)
    assert out["reaped"] == []
    assert mm.get_game("fresh") is not None


def test_games_are_scored_and_stamped_by_redis_time(redis_url, gd_namespace):
    out = run_shifted("+300s", """
mm = game_data.connect(url, namespace=ns)
g = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id="g1")
out["created_at"] = g.created_at
""", url=redis_url, ns=gd_namespace)
    mm = game_data.connect(redis_url, namespace=gd_namespace)
    assert abs(out["created_at"] - mm.now()) < 5_000
    assert mm.get_game("g1").created_at == out["created_at"]


def test_an_explicit_now_still_decides_the_reap_it_is_given(backend_url, gd_namespace):
    mm = game_data.connect(backend_url, namespace=gd_namespace,
                           max_age_ms={"pending": 1_000, "lobby": 1_000, "active": 1_000})
    mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id="g1")
    assert mm.reap(now=mm.now()) == []
    assert [g.id for g in mm.reap(now=mm.now() + 1_001)] == ["g1"]


# ---- the namespace config ----------------------------------------------------------------------

def test_an_empty_declaration_never_locks_the_namespace(backend_url, gd_namespace):
    first = game_data.connect(backend_url, namespace=gd_namespace, filter_keys=())
    assert first.filter_keys == []
    app = game_data.connect(backend_url, namespace=gd_namespace, filter_keys=("mode",))
    assert app.filter_keys == ["mode"]


def test_an_empty_config_stored_by_an_older_version_is_no_declaration(redis_server, gd_namespace):
    r = redis.Redis(host=redis_server.host, port=redis_server.port)
    r.hset(f"{gd_namespace}:{{0}}:config", "filter_keys", "")
    app = game_data.connect(redis_server.url, namespace=gd_namespace, filter_keys=("mode",))
    assert app.filter_keys == ["mode"]
    assert r.hget(f"{gd_namespace}:{{0}}:config", "filter_keys") == b"mode"


@pytest.mark.parametrize("garbage", ["a b", "a:{x}", "mode,mode", "region,mode", ",mode", "mode,"])
def test_a_stored_config_is_validated_when_read(redis_server, gd_namespace, garbage):
    r = redis.Redis(host=redis_server.host, port=redis_server.port)
    r.hset(f"{gd_namespace}:{{0}}:config", "filter_keys", garbage)
    for keys in (None, ("mode",)):
        with pytest.raises(game_data.GameDataError, match="namespace config"):
            game_data.connect(redis_server.url, namespace=gd_namespace, filter_keys=keys)


# ---- all-or-nothing commits ------------------------------------------------------------------

def corrupt(server, key: str) -> redis.Redis:
    """Turns `key` into a stream, as one stray XADD by a user with +xadd ~* does."""
    r = redis.Redis(host=server.host, port=server.port)
    r.delete(key)
    r.xadd(key, {"x": "y"})
    return r


def test_a_commit_that_meets_a_key_of_another_type_writes_nothing(redis_server, gd_namespace):
    mm = game_data.connect(redis_server.url, namespace=gd_namespace)
    mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id="g1")
    before = mm.get_game("g1")
    r = corrupt(redis_server, f"{gd_namespace}:{{0}}:lobby")
    record_before = r.hgetall(f"{gd_namespace}:{{0}}:game:g1")
    result = mm.apply(Event(type="creator_joined", game_id="g1", server_id="gs-1", player_id="alice"))
    assert result.status.value == "rejected"
    assert result.reason.startswith(game_data._core.REASON_STORAGE_REFUSED)
    assert f"{gd_namespace}:{{0}}:lobby" in result.reason and "stream" in result.reason
    assert r.hgetall(f"{gd_namespace}:{{0}}:game:g1") == record_before, "nothing written"
    assert mm.get_game("g1") == before
    assert r.zscore(f"{gd_namespace}:{{0}}:pending", "g1") is not None, "still in its set"
    # Once the key is mended the same event applies: nothing was half-done.
    r.delete(f"{gd_namespace}:{{0}}:lobby")
    again = mm.apply(Event(type="creator_joined", game_id="g1", server_id="gs-1", player_id="alice"))
    assert again.status.value == "applied"
    assert mm.get_game("g1").state is GameState.CREATOR_JOINED


def test_create_game_against_a_corrupted_set_raises_and_takes_no_id(redis_server, gd_namespace):
    mm = game_data.connect(redis_server.url, namespace=gd_namespace)
    r = corrupt(redis_server, f"{gd_namespace}:{{0}}:pending")
    with pytest.raises(game_data.GameDataError, match="storage refused the write"):
        mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id="g1")
    assert not r.exists(f"{gd_namespace}:{{0}}:game:g1")
    r.delete(f"{gd_namespace}:{{0}}:pending")
    assert mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id="g1").id == "g1"


def test_one_corrupted_game_does_not_stop_a_batch_or_a_consumer(redis_server, gd_namespace):
    mm = game_data.connect(redis_server.url, namespace=gd_namespace)
    for gid in ("g1", "g2"):
        mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id=gid)
    r = corrupt(redis_server, f"{gd_namespace}:{{0}}:game:g1")  # its record key is a stream now
    pub = mm.publisher(server_id="gs-1")
    pub.creator_joined("g1", player_id="alice")
    pub.creator_joined("g2", player_id="alice")
    consumer = mm.consumer()
    results = consumer.poll(count=10, block_ms=0)
    assert [x.status.value for x in results] == ["rejected", "applied"]
    assert results[0].reason.startswith("storage refused the write")
    dead = r.xrange(f"{gd_namespace}:events:dead")
    assert len(dead) == 1
    assert "storage refused the write" in dead[0][1][b"error"].decode()
    assert mm.get_game("g2").state is GameState.CREATOR_JOINED
    assert consumer.poll(count=10, block_ms=0) == [], "acknowledged, not redelivered"


def test_a_corrupted_record_hides_only_its_own_game_from_open_queries(redis_server, gd_namespace):
    mm = game_data.connect(redis_server.url, namespace=gd_namespace, filter_keys=("mode",))
    for gid in ("g1", "g2"):
        mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", game_id=gid,
                       metadata={"mode": "duel"})
        mm.apply(Event(type="creator_joined", game_id=gid, server_id="gs-1", player_id="alice"))
    corrupt(redis_server, f"{gd_namespace}:{{0}}:game:g1")
    assert [g.id for g in mm.get_open_games(10)] == ["g2"]
    assert mm.quick_join("bob", filters={"mode": "duel"}).game_id == "g2"
    with pytest.raises(game_data.GameDataError, match="storage refused the write"):
        mm.get_game("g1")


def test_a_corrupted_open_index_refuses_the_read_and_writes_nothing(redis_server, gd_namespace):
    mm = game_data.connect(redis_server.url, namespace=gd_namespace)
    lobby_game(mm, "g1")
    seat = mm.reserve_seat("g1", "bob", ttl_ms=1)  # the last seat: g1 moves to the reserved twin
    r = redis.Redis(host=redis_server.host, port=redis_server.port)
    twin = f"{gd_namespace}:{{0}}:reserved"
    assert r.zscore(twin, "g1") is not None
    corrupt(redis_server, f"{gd_namespace}:{{0}}:open")
    while mm.now() <= seat.expires_at:  # Redis's clock past the reservation: its entry is due
        pass
    with pytest.raises(game_data.GameDataError, match="not a sorted set"):
        mm.get_open_games(10)
    assert r.zscore(twin, "g1") is not None, "the twin entry was not moved into nowhere"
