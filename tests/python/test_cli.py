"""The `game-data` command line: simulate (deterministic, self-checking) and consume. The
simulation's own invariants are shown to fail when the run meets a broken result."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

import game_data
from game_data import GameState
from game_data.cli import default_consumer_name, main
from game_data.simulate import SEATS_HEADING, SimulationOptions, run_simulation
from game_data.testing import wait_for
from game_data.testing import RedisServer
from game_data.testing.redis_server import free_port

from cli_daemons import CLI, LineReader, spawned
from conftest import STREAM_BACKENDS


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def deterministic_lines(summary: str) -> list[str]:
    """The summary without what depends on timing: the timing lines, and the seats block
    (which game a quick_join picks depends on the games' ages on the matchmaker's clock)."""
    timing = ("events per second", "wall time")
    out, in_seats = [], False
    for line in summary.splitlines():
        if line == SEATS_HEADING:
            in_seats = True
        elif not line:
            in_seats = False
        if not in_seats and not line.strip().startswith(timing):
            out.append(line)
    return out


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
                "delivered", "redelivered after a crash", "deleted on their servers",
                "reserved by quick_join", "reserved from get_open_games", "consumed by player_joined",
                "cancelled by the player", "no-shows expired, seat freed", "bounced off dead servers",
                "stale listing: full", "quick_join found no game", "refusals probed",
                "events per second", "wall time (s)"):
        assert f"  {row}" in out, row
    assert SEATS_HEADING in out.splitlines()
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


def test_joins_overtaking_a_leave_end_in_the_servers_rosters_and_are_never_held():
    # Every joiner leaves at once, and the leave is sent after the next player's join. That
    # join took a seat the matchmaker had reserved for it while the leaver still held theirs,
    # so it is never held. The run's invariants check each full game's roster against its
    # server's, in seat order, and that no game ever holds more players plus live reservations
    # than its capacity.
    result = run_simulation(SimulationOptions(games=400, seed=4, leave_rate=1.0, out_of_order_rate=1.0))

    assert result.ok, result.failures
    assert result.overtaken_leaves > 0
    assert result.held_joins == 0
    assert result.events["rejected"] == result.events["deliberate bad entries"]


def test_a_run_takes_every_road_to_a_seat_and_checks_each():
    # Most players browsing: listings shared by several of them go stale, so some reserve_seat
    # calls find the seat taken.
    result = run_simulation(SimulationOptions(games=500, seed=12, browse_rate=0.6))

    assert result.ok, result.failures
    seats = result.seats
    for road in ("reserved by quick_join", "reserved from get_open_games", "cancelled by the player",
                 "no-shows expired, seat freed", "bounced off dead servers",
                 "stale listing: full", "quick_join found no game", "refusals probed"):
        assert seats[road] > 0, road
    # Each no-show's seat was seen free again, unless their game was reaped first.
    assert seats["no-shows"] == seats["no-shows expired, seat freed"] + seats["no-shows reaped with the game"]
    # Every join the servers sent consumed its player's reservation.
    assert seats["consumed by player_joined"] > seats["reserved by quick_join"] // 2


def test_every_reaped_game_is_delivered_by_the_reaped_feed_and_deleted_on_its_server():
    result = run_simulation(SimulationOptions(games=400, seed=9, abandon_rate=0.3))

    assert result.ok, result.failures
    reaped = sum(n for name, n in result.games.items() if name.startswith("reaped from"))
    feed = result.reaped_feed
    assert feed["delivered"] == feed["deleted on their servers"] == reaped > 0
    assert 0 < feed["redelivered after a crash"] < reaped  # lost acknowledgements, delivered again


def test_gatecrashers_are_refused_while_the_free_seats_are_reserved():
    # bad_rate 1: every game that fills also gets a join from a player without a reservation,
    # sent while the only free seat is reserved for the player who fills it.
    result = run_simulation(SimulationOptions(games=100, seed=2, bad_rate=1.0, abandon_rate=0.0))

    assert result.ok, result.failures
    # Per game: a garbage entry, a wrong-server event, and the gatecrasher.
    assert result.events["rejected"] == result.events["deliberate bad entries"] == 300


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


def test_simulate_fails_when_the_reaped_feed_delivers_a_game_the_run_never_reaped(capsys):
    # A game reaped in the namespace before the run: its item waits in the reaped stream, and
    # the run's deleter is handed it with the run's own.
    url, namespace = "memory://cli-feed-invariant", "stray-reaped"
    mm = game_data.connect(url, namespace=namespace)
    stray = mm.create_game(creator_id="alice", capacity=2, server_id="gs-0", game_id="stray-1")
    assert [g.id for g in mm.reap(now=mm.now() + 10**9)] == [stray.id]

    code = main(["simulate", "--games", "50", "--url", url, "--namespace", namespace])

    out, err = capsys.readouterr()
    assert code == 1
    assert "stray-1: delivered by the reaped feed but no reap of this run returned it" in out
    assert "invariant failed" in err


class _Broken:
    """A matchmaker whose answers a test breaks one way; everything else is the real one."""

    def __init__(self, mm: game_data.Matchmaker, **overrides) -> None:
        self._mm = mm
        self.__dict__.update(overrides)

    def __getattr__(self, name: str):
        return getattr(self._mm, name)


def run_broken(monkeypatch, games: int = 200, **overrides_of):
    """run_simulation against a matchmaker broken by overrides_of[name](real_mm) -> function."""
    real_connect = game_data.connect

    def connect(*args, **kwargs):
        mm = real_connect(*args, **kwargs)
        return _Broken(mm, **{name: make(mm) for name, make in overrides_of.items()})

    monkeypatch.setattr(game_data, "connect", connect)
    return run_simulation(SimulationOptions(games=games, seed=3, reservation_ttl_ms=2_000))


def failed(result, text: str) -> bool:
    return any(text in f for f in result.failures)


def test_simulate_fails_when_a_cancel_does_not_free_the_seat(monkeypatch):
    result = run_broken(monkeypatch, cancel_reservation=lambda mm: lambda game_id, player_id: True)

    assert failed(result, "times a game's live reservations were not the players'")


def test_simulate_fails_when_a_game_reads_over_capacity(monkeypatch):
    def get_game(mm):
        def read(game_id):
            g = mm.get_game(game_id)
            if g is None:
                return None
            return game_data.Game.from_dict(g.to_dict() | {"reservations": {"ghost": 2**50}})
        return read

    result = run_broken(monkeypatch, get_game=get_game)

    assert failed(result, "times a game held more players plus live reservations than its capacity")
    assert failed(result, "times a game's live reservations were not the players'")


def test_simulate_fails_when_quick_join_ignores_the_filters(monkeypatch):
    def quick_join(mm):
        return lambda player_id, filters=None, ttl_ms=15_000: mm.quick_join(player_id, ttl_ms=ttl_ms)

    result = run_broken(monkeypatch, quick_join=quick_join)

    assert failed(result, "wrong answers from quick_join, reserve_seat or cancel_reservation")


def test_simulate_fails_when_the_reaped_feed_forgets_acknowledgements(monkeypatch):
    class ForgetfulFeed:
        def __init__(self, feed) -> None:
            self._feed = feed

        def poll(self, count=100, block_ms=0):
            return self._feed.poll(count=count, block_ms=block_ms)

        def ack(self, items):
            return len(items)  # claims success, acknowledges nothing

    def reaped_feed(mm):
        return lambda group="deleter", name="mm-1", claim_idle_ms=30_000: ForgetfulFeed(
            mm.reaped_feed(group=group, name=name, claim_idle_ms=claim_idle_ms))

    result = run_broken(monkeypatch, games=100, reaped_feed=reaped_feed)

    assert failed(result, "delivered again after it was acknowledged")
    assert failed(result, "the reaped feed kept delivering")


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
def spawned_consumer(url: str, namespace: str, name: str | None) -> Iterator[tuple[subprocess.Popen, LineReader]]:
    """`game-data consume` as a child process (default name when `name` is None); killed on
    the way out if still running."""
    naming = [] if name is None else ["--name", name]
    with spawned(["consume", "--url", url, "--namespace", namespace, *naming, "--block-ms", "50",
                  "--claim-idle-ms", "1000", "--log-level", "INFO"]) as (proc, reader):
        yield proc, reader


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

    def test_consume_started_before_redis_waits_for_it_then_applies_events(gd_namespace):
        server = RedisServer()
        server.port = free_port()  # nothing listens there yet; start() takes this port
        url = f"redis://127.0.0.1:{server.port}/0"
        try:
            with spawned_consumer(url, gd_namespace, "early") as (proc, reader):
                wait_for(lambda: "backend unavailable at start" in reader.text() or proc.poll() is not None,
                         what="the daemon to wait for the backend")
                assert proc.poll() is None, reader.text()  # waiting, not exited
                server.start()
                mm = game_data.connect(url, namespace=gd_namespace)
                game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
                mm.publisher("gs-1").creator_joined(game.id, "alice")
                wait_for(lambda: mm.get_game(game.id).state is GameState.CREATOR_JOINED,
                         what="the daemon to connect and apply the event")
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=10) == 0
            assert "reading" in reader.text()
        finally:
            server.close()

    def test_consume_gives_up_after_its_wait_timeout_with_a_clear_message():
        result = run_cli("consume", "--url", f"redis://127.0.0.1:{free_port()}/0", "--wait-timeout", "0.3")
        assert result.returncode == 1, result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("game-data consume: error: the backend is still unavailable after 0.3 s "
                               "(--wait-timeout)"), result.stderr
        assert "Traceback" not in result.stderr

    def test_simulate_with_a_private_redis_server():
        result = run_cli("simulate", "--games", "100", "--seed", "7", "--redis-server", timeout=120)
        memory = run_cli("simulate", "--games", "100", "--seed", "7")

        assert result.returncode == 0, result.stdout + result.stderr
        assert "redis://" in result.stdout.splitlines()[0]
        assert deterministic_lines(result.stdout)[1:] == deterministic_lines(memory.stdout)[1:]
