"""game-data simulate's polish: the progress bar fits the terminal's width, and a run against
a Redis given with --url removes its keys afterwards unless --keep."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

import game_data
from game_data.testing import RedisServer

from cli_daemons import CLI


def simulate(*args: str, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if columns is not None:
        env["COLUMNS"] = str(columns)  # what shutil.get_terminal_size reads first
    out = subprocess.run([*CLI, "simulate", "--seed", "3", *args], capture_output=True, timeout=120, env=env)
    # Decoded by hand: text mode would turn the bar's carriage returns into newlines.
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(), out.stderr.decode())


def bar_lines(stderr: str) -> list[str]:
    """Each redraw of the bar (they are separated by carriage returns)."""
    return [part.rstrip("\n") for part in stderr.split("\r") if part.strip()]


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_the_progress_bar_is_one_column_narrower_than_the_terminal(columns: int) -> None:
    out = simulate("--games", "60", "--batch", "20", "--progress", columns=columns)
    assert out.returncode == 0, out.stderr
    lines = bar_lines(out.stderr)
    assert len(lines) >= 3  # one redraw per wave at least
    assert {len(line) for line in lines} == {columns - 1}, lines
    assert lines[-1].rstrip().endswith("events/s") and " 100%" in lines[-1]
    bar = re.search(r"\[([#.]*)\]", lines[-1])
    assert bar is not None and set(bar.group(1)) == {"#"}  # full at the end


def test_a_wider_terminal_gets_a_longer_bar() -> None:
    widths = {}
    for columns in (80, 200):
        out = simulate("--games", "20", "--progress", columns=columns)
        bar = re.search(r"\[([#.]*)\]", bar_lines(out.stderr)[-1])
        assert bar is not None
        widths[columns] = len(bar.group(1))
    assert widths[200] > widths[80] + 100  # 120 more columns, less any longer events/s figure


def test_a_very_narrow_terminal_keeps_the_bar_and_the_percentage() -> None:
    out = simulate("--games", "20", "--progress", columns=30)
    assert out.returncode == 0, out.stderr
    last = bar_lines(out.stderr)[-1]
    assert len(last) == 29 and last.endswith(" 100%") and "[#" in last


def namespaces(server: RedisServer) -> set[str]:
    reply = server.command("KEYS", "*").decode()
    keys = [line for line in reply.split("\r\n")[1:] if line and not line.startswith("$")]
    return {key.split(":", 1)[0] for key in keys}


def test_simulate_url_removes_its_keys_afterwards() -> None:
    with RedisServer() as server:
        server.command("SET", "other:key", "kept")  # someone else's key on the same server
        out = simulate("--games", "40", "--url", server.url)
        assert out.returncode == 0, out.stderr
        assert namespaces(server) == {"other"}
        assert server.command("GET", "other:key") == b"$4\r\nkept\r\n"


def test_simulate_url_keep_leaves_its_keys() -> None:
    with RedisServer() as server:
        out = simulate("--games", "40", "--url", server.url, "--keep", "--namespace", "sim-kept")
        assert out.returncode == 0, out.stderr
        assert namespaces(server) == {"sim-kept"}
        assert server.command("EXISTS", "sim-kept:events", "sim-kept:{0}:reaped") == b":2\r\n"


def test_removing_a_namespace_leaves_the_other_namespaces_alone(redis_url: str, gd_namespace: str) -> None:
    ours = game_data.connect(redis_url, namespace=gd_namespace, filter_keys=("mode",))
    prefix_sharer = game_data.connect(redis_url, namespace=f"{gd_namespace}-x")  # same prefix, other ns
    for mm in (ours, prefix_sharer):
        game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1", metadata={"mode": "duel"})
        mm.publisher("gs-1").creator_joined(game.id, player_id="alice")
        mm.consumer(name="t").poll(block_ms=0)
    ended = ours.create_game(creator_id="bob", capacity=2, server_id="gs-1")
    ours.publisher("gs-1").game_ended(ended.id)
    ours.consumer(name="t").poll(block_ms=0)  # leaves a tombstone too

    # record, lobby, open index and its mode index, tombstone, config, events stream
    assert ours._remove_namespace() >= 7
    assert ours._remove_namespace() == 0
    assert ours.counts() == {"pending": 0, "lobby": 0, "active": 0}
    assert ours.stream_length(ours.default_stream) == 0
    assert prefix_sharer.counts()["lobby"] == 1 and prefix_sharer.stream_length(prefix_sharer.default_stream) == 1


def test_removing_a_memory_namespace_removes_nothing() -> None:
    mm = game_data.connect("memory://")
    mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    assert mm._remove_namespace() == 0 and mm.counts()["pending"] == 1
