"""`game-data games`, `game ID`, `dead-letters [--replay]` and `stats` (SPEC section 11),
against a live redis-server: readable tables, stable --json, exit status 0 / 1 (not found) /
2 (usage)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

import game_data
from game_data import Event, EventType, GameState
from game_data.inspection import format_table
from game_data.testing import drain

from cli_daemons import CLI

SERVER = "gs-1"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


def run_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def target(redis_url: str, gd_namespace: str) -> tuple[str, ...]:
    return ("--url", redis_url, "--namespace", gd_namespace)


@pytest.fixture
def mm(redis_url: str, gd_namespace: str) -> game_data.Matchmaker:
    return game_data.connect(redis_url, namespace=gd_namespace)


def join(mm: game_data.Matchmaker, game: Any, player: str) -> None:
    mm.apply(Event(type=EventType.CREATOR_JOINED if player == game.creator_id else EventType.PLAYER_JOINED,
                   game_id=game.id, server_id=SERVER, player_id=player))


def three_games(mm: game_data.Matchmaker) -> dict[str, Any]:
    """One game in each set: pending, lobby (with a reservation), active."""
    pending = mm.create_game(creator_id="ann", capacity=2, server_id=SERVER, game_id="g-pending")
    lobby = mm.create_game(creator_id="bea", capacity=4, server_id=SERVER, game_id="g-lobby",
                           metadata={"mode": "duel"})
    active = mm.create_game(creator_id="cid", capacity=2, server_id=SERVER, game_id="g-active")
    join(mm, lobby, "bea")
    mm.reserve_seat(lobby.id, "dan", ttl_ms=600_000)
    join(mm, active, "cid")
    mm.apply(Event(type=EventType.GAME_STARTED, game_id=active.id, server_id=SERVER))
    return {"pending": pending, "lobby": lobby, "active": active}


# ---- tables ----------------------------------------------------------------------------------

def test_format_table_pads_columns_and_right_aligns_the_ones_asked():
    assert format_table(["A", "NUM", "C"], [["x", "7", "long cell"], ["yyyy", "12", ""]], right=(1,)).splitlines() == [
        "A     NUM  C",
        "x       7  long cell",
        "yyyy   12",
    ]


# ---- games -----------------------------------------------------------------------------------

def test_games_lists_every_set_as_an_aligned_table(mm, target):
    three_games(mm)
    result = run("games", *target)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0].split()
    assert header[:4] == ["SET", "ID", "STATE", "PLAYERS"]
    rows = {line.split()[1]: line.split() for line in lines[1:4]}
    assert rows["g-pending"][:4] == ["pending", "g-pending", "created", "0/2"]
    assert rows["g-lobby"][:6] == ["lobby", "g-lobby", "creator_joined", "1/4", "1", "2"]
    assert rows["g-active"][:4] == ["active", "g-active", "in_progress", "1/2"]
    assert [line.split()[0] for line in lines[1:4]] == ["pending", "lobby", "active"]
    # Columns are aligned: each header starts where its cells start.
    state_col = lines[0].index("STATE")
    assert all(line[state_col:].split()[0] in ("created", "creator_joined", "in_progress") for line in lines[1:4])
    assert lines[4].startswith("3 games in pending, lobby, active")


def test_games_json_has_stable_keys_and_follows_set_and_limit(mm, target):
    three_games(mm)
    # Games made in the same millisecond are ordered by id: these ids sort after "g-pending".
    extra = [mm.create_game(creator_id="eve", capacity=2, server_id=SERVER, game_id=f"g-queued-{i}") for i in range(2)]
    doc = run_json("games", *target, "--set", "pending", "--limit", "2")
    assert doc["sets"] == ["pending"] and doc["limit"] == 2 and doc["namespace"] == target[3]
    assert [g["id"] for g in doc["games"]] == ["g-pending", extra[0].id]  # oldest first
    keys = {"id", "state", "set", "entered_set_at", "creator_id", "capacity", "server_id", "players",
            "reservations", "free_seats", "held", "metadata", "created_at", "updated_at"}
    assert all(keys <= set(g) for g in doc["games"])
    lobby = run_json("games", *target, "--set", "lobby")["games"]
    assert [(g["id"], g["set"], g["players"], list(g["reservations"]), g["free_seats"], g["metadata"])
            for g in lobby] == [("g-lobby", "lobby", ["bea"], ["dan"], 2, {"mode": "duel"})]
    assert lobby[0]["entered_set_at"] == mm.set_entry("g-lobby")[1]


def test_games_of_an_empty_namespace_lists_none(target):
    doc = run_json("games", *target)
    assert doc["games"] == []
    assert run("games", *target).stdout.splitlines()[-1].startswith("0 games")


def test_games_usage_errors_exit_2(target):
    assert run("games", *target, "--set", "ended").returncode == 2
    assert run("games", *target, "--limit", "-1").returncode == 2
    assert run("games", *target, "--limit", "10001").returncode == 2


# ---- game ID ---------------------------------------------------------------------------------

def test_game_shows_one_game(mm, target):
    three_games(mm)
    result = run("game", "g-lobby", *target)
    assert result.returncode == 0, result.stderr
    fields = {line.split("  ", 1)[0]: line.split("  ", 1)[1].strip() for line in result.stdout.splitlines()}
    assert fields["id"] == "g-lobby"
    assert fields["state"] == "creator_joined"
    assert fields["set"].startswith("lobby since ")
    assert fields["players"] == "1/4: bea"
    assert fields["reservations"].startswith("dan (expires in ")
    assert fields["free seats"] == "2"
    assert json.loads(fields["metadata"]) == {"mode": "duel"}


def test_game_json_is_the_record_with_its_set(mm, target):
    games = three_games(mm)
    doc = run_json("game", "g-active", *target)
    assert doc["id"] == "g-active" and doc["state"] == "in_progress" and doc["set"] == "active"
    assert doc["players"] == ["cid"] and doc["capacity"] == 2
    assert doc["created_at"] == games["active"].created_at


def test_game_not_found_exits_1_and_a_bad_id_exits_2(target):
    missing = run("game", "no-such-game", *target)
    assert missing.returncode == 1
    assert "no live game 'no-such-game'" in missing.stderr and missing.stdout == ""
    bad = run("game", "not valid!", *target)
    assert bad.returncode == 2 and "game_id" in bad.stderr
    assert run("game", *target).returncode == 2  # no ID


# ---- dead-letters ----------------------------------------------------------------------------

def dead_letter_something(mm: game_data.Matchmaker) -> None:
    pub = mm.publisher(SERVER)
    pub.creator_joined("g-late", player_id="ann")  # no such game yet: dead-lettered
    pub.publish_raw({"type": "teleported", "game_id": "g-late", "server_id": SERVER, "error": "theirs"})
    drain(mm.consumer(name="mm-1"))


def test_dead_letters_lists_them_with_their_reason(mm, target):
    dead_letter_something(mm)
    result = run("dead-letters", *target)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "ERROR", "TYPE", "GAME", "SERVER", "OTHER", "FIELDS"]
    assert "unknown game" in lines[1] and "creator_joined" in lines[1] and "player_id=ann" in lines[1]
    # The other fields are the entry's own: its `error` under its own name.
    assert "teleported" in lines[2] and "error=theirs" in lines[2] and "orig_" not in lines[2]
    assert lines[3] == f"2 of 2 dead letters in {target[3]}:events:dead (oldest first)"


def test_dead_letters_json_and_limit(mm, target):
    dead_letter_something(mm)
    doc = run_json("dead-letters", *target, "--limit", "1")
    assert doc["total"] == 2 and doc["stream"] == f"{target[3]}:events"
    assert doc["dead_letter_stream"] == f"{target[3]}:events:dead"
    [letter] = doc["dead_letters"]
    assert letter["error"] == "unknown game"
    assert letter["fields"]["game_id"] == "g-late" and letter["fields"]["error"] == "unknown game"
    assert letter["id"] == mm.stream_entries(doc["dead_letter_stream"])[0][0]


def test_dead_letters_show_the_entrys_own_fields_named_like_the_added_ones(mm, target):
    mm.publisher(SERVER).publish_raw([("type", "teleported"), ("game_id", "g-x"), ("server_id", SERVER),
                                      ("error", "E1"), ("orig_error", "O1")])
    drain(mm.consumer(name="mm-1"))
    result = run("dead-letters", *target)
    assert result.returncode == 0, result.stderr
    row = result.stdout.splitlines()[1]
    assert row.split()[-2:] == ["error=E1", "orig_error=O1"] and "orig_orig" not in row
    [letter] = run_json("dead-letters", *target)["dead_letters"]
    assert letter["fields"] == {"type": "teleported", "game_id": "g-x", "server_id": SERVER,
                                "orig_error": "E1", "orig_orig_error": "O1", "error": letter["error"]}
    assert letter["original_fields"] == {"type": "teleported", "game_id": "g-x", "server_id": SERVER,
                                         "error": "E1", "orig_error": "O1"}


def test_replay_sends_a_dead_letter_back_and_a_fixed_consumer_applies_it(mm, target):
    consumer = mm.consumer(name="mm-1")
    mm.publisher(SERVER).creator_joined("g-late", player_id="ann")
    [rejected] = drain(consumer)
    assert rejected.reason == "unknown game"
    dead_stream = f"{mm.default_stream}:dead"
    [(dead_id, dead_fields)] = mm.stream_entries(dead_stream)

    mm.create_game(creator_id="ann", capacity=2, server_id=SERVER, game_id="g-late")  # the fix
    result = run("dead-letters", *target, "--replay")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"replayed 1 dead letters from {dead_stream} to {mm.default_stream}"
    assert mm.stream_length(dead_stream) == 0
    new_id, fields = mm.stream_entries(mm.default_stream)[-1]
    assert new_id in result.stdout and dead_id in result.stdout
    assert fields == {k: v for k, v in dead_fields.items() if k != "error"}  # the original fields

    [applied] = drain(consumer)
    assert applied.status is game_data.ApplyStatus.APPLIED and applied.entry_id == new_id
    assert mm.get_game("g-late").state is GameState.CREATOR_JOINED
    assert mm.stream_length(dead_stream) == 0


def test_replay_by_ids_moves_only_those_and_reports_missing_ones(mm, target):
    dead_letter_something(mm)
    dead_stream = f"{mm.default_stream}:dead"
    first, second = (entry_id for entry_id, _ in mm.stream_entries(dead_stream))
    doc = run_json("dead-letters", *target, "--replay", "--ids", second)
    assert [r["dead_letter_id"] for r in doc["replayed"]] == [second] and doc["missing"] == []
    assert [entry_id for entry_id, _ in mm.stream_entries(dead_stream)] == [first]
    # The replayed entry carried its own `error`: it is back under its own name.
    assert mm.stream_entries(mm.default_stream)[-1][1]["error"] == "theirs"

    missing = run("dead-letters", *target, "--replay", "--ids", first, "1-1")
    assert missing.returncode == 1
    assert "not in" in missing.stderr and "1-1" in missing.stderr
    assert mm.stream_length(dead_stream) == 0  # the one that existed was replayed


def test_ids_without_replay_is_a_usage_error(target):
    result = run("dead-letters", *target, "--ids", "1-1")
    assert result.returncode == 2 and "--ids needs --replay" in result.stderr


# ---- stats -----------------------------------------------------------------------------------

def test_stats_reports_sets_streams_and_the_group(mm, target):
    three_games(mm)
    dead_letter_something(mm)  # consumer group "matchmaker" read both entries
    mm.publisher(SERVER).heartbeat("g-lobby")  # not read yet: lag 1
    doc = run_json("stats", *target)
    ns = target[3]
    assert doc == {
        "namespace": ns,
        "games": {"pending": 1, "lobby": 1, "active": 1},
        "events": {"stream": f"{ns}:events", "length": 3},
        "group": {"name": "matchmaker", "lag": 1, "pending": 0},
        "dead_letters": {"stream": f"{ns}:events:dead", "length": 2},
        "reaped": {"stream": f"{ns}:{{0}}:reaped", "length": 0},
        "eviction_risk": False,
    }
    text = run("stats", *target)
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert lines[0] == f"namespace {ns}"
    assert any(line.split()[-2:] == ["total", "3"] for line in lines)
    assert any("matchmaker: lag 1, pending 0" in line for line in lines)


def test_stats_of_a_namespace_without_a_group_creates_none(mm, target):
    doc = run_json("stats", *target, "--group", "nobody")
    assert doc["group"] is None
    assert "no such consumer group" in run("stats", *target, "--group", "nobody").stdout
    assert run_json("stats", *target, "--group", "nobody")["group"] is None  # still none
