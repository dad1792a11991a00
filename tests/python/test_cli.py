"""The `game-data` command line: simulate (deterministic, self-checking) and consume."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

import game_data
from game_data import GameState
from game_data.cli import default_consumer_name, main
from game_data.simulate import SimulationOptions, run_simulation
from game_data.testing import wait_for
from game_data.testing import RedisServer

from conftest import STREAM_BACKENDS

CLI = [sys.executable, "-m", "game_data.cli"]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def deterministic_lines(summary: str) -> list[str]:
    """The summary without the timing lines, which differ from run to run."""
    timing = ("events per second", "wall time")
    return [line for line in summary.splitlines() if not line.strip().startswith(timing)]


class _LineReader:
    """Collects a child's stderr lines on a thread, so the test can wait for one."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=5)


def test_simulate_twice_with_one_seed_prints_identical_summaries():
    first = run_cli("simulate", "--games", "200", "--seed", "7")
    second = run_cli("simulate", "--games", "200", "--seed", "7")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert deterministic_lines(first.stdout) == deterministic_lines(second.stdout)
    assert first.stderr == ""  # no progress bar when stderr is not a terminal, no noise


def test_simulate_prints_the_summary_table():
    result = run_cli("simulate", "--games", "200", "--seed", "7")

    out = result.stdout
    for row in ("ended normally", "reaped from pending", "reaped from lobby", "reaped from active",
                "still live in pending", "applied", "duplicate", "rejected", "dead-lettered",
                "events per second", "wall time (s)"):
        assert f"  {row}" in out, row
    assert "all hold" in out.splitlines()[-1]
    total = next(line for line in out.splitlines() if line.strip().startswith("total"))
    assert total.split()[-1] == "200"


def test_another_seed_gives_other_counts():
    seven = run_simulation(SimulationOptions(games=200, seed=7))
    eight = run_simulation(SimulationOptions(games=200, seed=8))
    assert seven.ok and eight.ok
    assert seven.deterministic() != eight.deterministic()


def test_counts_do_not_depend_on_wave_size_or_fleet_size():
    base = run_simulation(SimulationOptions(games=300, seed=3, batch=500, servers=20))
    small_waves = run_simulation(SimulationOptions(games=300, seed=3, batch=37, servers=20))
    big_fleet = run_simulation(SimulationOptions(games=300, seed=3, batch=500, servers=101))
    assert base.deterministic() == small_waves.deterministic() == big_fleet.deterministic()


def test_simulation_accounts_for_every_game_and_every_event():
    result = run_simulation(SimulationOptions(games=500, seed=11, abandon_rate=0.3, bad_rate=0.2))

    assert result.ok, result.failures
    games, events = result.games, result.events
    assert games["created"] == 500
    assert sum(v for k, v in games.items() if k != "created") == 500
    assert min(games["reaped from pending"], games["reaped from lobby"], games["reaped from active"]) > 0
    assert events["applied"] + events["duplicate"] + events["rejected"] == events["published"]
    assert events["dead-lettered"] == events["rejected"] == events["deliberate bad entries"] > 0
    assert events["duplicate"] > 0


def test_joins_overtaking_the_leave_that_frees_their_seat_end_in_the_servers_rosters():
    # Every joiner leaves at once, and the leave is sent after the next player's join: when
    # that join finds the game full it is held until the leave arrives. The run's invariants
    # check each full game's roster against its server's, in seat order, that no game ever
    # holds more players than its capacity, and that no join stays held.
    result = run_simulation(SimulationOptions(games=400, seed=4, leave_rate=1.0, out_of_order_rate=1.0))

    assert result.ok, result.failures
    assert result.held_joins > 0
    assert result.events["rejected"] == result.events["deliberate bad entries"]


def test_simulate_json_output_is_machine_readable():
    result = run_cli("simulate", "--games", "50", "--seed", "1", "--json")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["failures"] == []
    assert data["games"]["created"] == 50
    assert data["options"]["seed"] == 1


def test_simulate_exits_non_zero_when_an_invariant_fails(capsys):
    # A stray event nobody in the simulation sent, already waiting on the stream: the run
    # dead-letters it, which is not one of its deliberate bad entries.
    url, namespace = "memory://cli-invariant", "stray"
    mm = game_data.connect(url, namespace=namespace)
    mm.publisher("gs-stray").heartbeat("a-game-nobody-created")

    code = main(["simulate", "--games", "20", "--url", url, "--namespace", namespace])

    out, err = capsys.readouterr()
    assert code == 1
    assert "FAILED" in out
    assert "invariant failed" in err


def test_progress_bar_only_on_request():
    quiet = run_cli("simulate", "--games", "100")
    shown = run_cli("simulate", "--games", "100", "--progress")

    assert quiet.stderr == ""
    assert "simulate [" in shown.stderr and "100/100 games" in shown.stderr
    assert deterministic_lines(quiet.stdout)[0] == deterministic_lines(shown.stdout)[0]


def test_ten_thousand_games_finish_well_under_a_minute():
    started = time.monotonic()
    result = run_simulation(SimulationOptions(games=10_000, seed=5))
    elapsed = time.monotonic() - started

    assert result.ok, result.failures
    assert elapsed < 30


@pytest.mark.parametrize("args", [["--games", "0"], ["--batch", "0"], ["--abandon-rate", "2"]])
def test_bad_simulate_arguments_exit_with_usage_error(args):
    result = run_cli("simulate", *args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"game-data {game_data.__version__}"


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "game-data"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert result.stdout.startswith("game-data ")


def test_unreachable_backend_is_a_clean_error():
    result = run_cli("simulate", "--games", "10", "--url", "bogus://nowhere")
    assert result.returncode == 1
    assert result.stderr.startswith("game-data simulate: error:")
    assert "Traceback" not in result.stderr


@contextlib.contextmanager
def spawned_consumer(url: str, namespace: str, name: str | None) -> Iterator[tuple[subprocess.Popen, _LineReader]]:
    """`game-data consume` as a child process (default name when `name` is None); killed on
    the way out if still running."""
    naming = [] if name is None else ["--name", name]
    proc = subprocess.Popen(
        [*CLI, "consume", "--url", url, "--namespace", namespace, *naming,
         "--block-ms", "50", "--claim-idle-ms", "1000", "--log-level", "INFO"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    reader = _LineReader(proc.stderr)
    try:
        yield proc, reader
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        reader.join()
        proc.stdout.close()
        proc.stderr.close()


def test_consume_stops_cleanly_on_sigterm():
    with spawned_consumer("memory://", "gd", "c-term") as (proc, reader):
        wait_for(lambda: "reading gd:events" in reader.text(), what="the consumer to start")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        reader.join()
        assert proc.stdout.read() == ""
    assert "stopped" in reader.text()


def test_consume_stops_cleanly_on_sigint():
    with spawned_consumer("memory://", "gd", "c-int") as (proc, reader):
        wait_for(lambda: "reading" in reader.text(), what="the consumer to start")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    assert "stopped" in reader.text()
    assert "Traceback" not in reader.text()


def test_consume_rejects_a_bad_consumer_name():
    result = run_cli("consume", "--url", "memory://", "--name", "has space")
    assert result.returncode == 1
    assert "consumer name" in result.stderr


if "redis" in STREAM_BACKENDS:

    def test_consume_on_redis_applies_events_and_exits_with_nothing_pending(redis_url, gd_namespace):
        mm = game_data.connect(redis_url, namespace=gd_namespace)
        game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
        with spawned_consumer(redis_url, gd_namespace, "daemon-1") as (proc, reader):
            pub = mm.publisher("gs-1")
            pub.creator_joined(game.id, "alice")
            pub.player_joined(game.id, "bob")
            pub.all_players_joined(game.id)
            pub.game_started(game.id)
            pub.heartbeat(game.id)
            pub.publish_raw({"type": "game_exploded", "game_id": game.id, "server_id": "gs-1"})

            wait_for(lambda: (g := mm.get_game(game.id)) is not None and g.state is GameState.IN_PROGRESS,
                     what="the daemon to apply the events")
            wait_for(lambda: mm.stream_length(f"{mm.default_stream}:dead") == 1, what="the dead letter")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0

        info = mm.consumer(name="inspector").group_info()
        assert info == {"pending": 0, "lag": 0}
        assert mm.get_game(game.id).players == ["alice", "bob"]
        assert "applied=5" in reader.text() and "rejected=1" in reader.text()

    def test_consume_rides_out_an_out_of_memory_redis_and_catches_up(gd_namespace):
        # A private server: the shared one must not run out of memory under other tests.
        with RedisServer() as server:
            mm = game_data.connect(server.url, namespace=gd_namespace)
            game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
            mm.consumer(name="daemon").poll(block_ms=0)  # an earlier run created the group
            pub = mm.publisher("gs-1")
            pub.creator_joined(game.id, "alice")
            pub.game_started(game.id)
            server.command("CONFIG", "SET", "maxmemory", "1")  # policy noeviction: writes refused
            with spawned_consumer(server.url, gd_namespace, "daemon") as (proc, reader):
                wait_for(lambda: reader.text().count("out of memory") >= 3,
                         what="the daemon to retry the out-of-memory Redis")
                assert proc.poll() is None, reader.text()  # alive, retrying with backoff
                assert mm.get_game(game.id).state is GameState.CREATED
                server.command("CONFIG", "SET", "maxmemory", "0")
                wait_for(lambda: mm.get_game(game.id).state is GameState.IN_PROGRESS,
                         what="the daemon to catch up once Redis has room")
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=10) == 0
            assert "retrying in" in reader.text()
            assert mm.consumer(name="inspector").group_info() == {"pending": 0, "lag": 0}

    def test_consume_keeps_one_consumer_name_per_host_across_restarts(redis_url, gd_namespace):
        import redis

        mm = game_data.connect(redis_url, namespace=gd_namespace)
        game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        for run in (1, 2):
            mm.publisher("gs-1").heartbeat(game.id)  # applied only once the daemon has joined
            with spawned_consumer(redis_url, gd_namespace, None) as (proc, reader):
                wait_for(lambda: "reading" in reader.text(), what="the daemon to start")
                wait_for(lambda: (info := client.xinfo_groups(mm.default_stream)[0])["entries-read"] == run
                         and info["pending"] == 0, what="the daemon to apply the heartbeat")
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=10) == 0
        names = [c["name"] for c in client.xinfo_consumers(mm.default_stream, "matchmaker")]
        client.close()
        assert names == [default_consumer_name()]
        assert default_consumer_name().endswith("-consume")

    def test_simulate_with_a_private_redis_server():
        result = run_cli("simulate", "--games", "100", "--seed", "7", "--redis-server", timeout=120)
        memory = run_cli("simulate", "--games", "100", "--seed", "7")

        assert result.returncode == 0, result.stdout + result.stderr
        assert "redis://" in result.stdout.splitlines()[0]
        assert deterministic_lines(result.stdout)[1:] == deterministic_lines(memory.stdout)[1:]
