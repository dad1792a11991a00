"""examples/: the C++ game server (built against the installed C++ package) and the Python
matchmaker run together on one private redis-server, and every game ends where its script
says: played to the end (ended), running (active), waiting (lobby, served as open), creator
never connected (reaped from pending, delivered by the reaped feed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import game_data
from cpp_package import ROOT, build_project, run
from game_data import GameState
from game_data.testing import RedisServer

MATCHMAKER = ROOT / "examples" / "python_matchmaker" / "matchmaker.py"
GAME_SERVER = ROOT / "examples" / "cpp_game_server"


def test_the_python_matchmaker_and_the_cpp_game_server_run_together(cpp_prefix: Path, tmp_path: Path) -> None:
    build_project(GAME_SERVER, tmp_path / "build", cpp_prefix)
    with RedisServer() as redis:
        url = redis.url
        ids = run([sys.executable, str(MATCHMAKER), "--url", url, "create", "--games", "4",
                   "--server-id", "gs-1"]).split()
        assert len(ids) == 4
        # The creator of the 4th game never connects: it is reaped once pending this long,
        # which leaves the game server ample time to connect the others' creators.
        serve = subprocess.Popen(
            [sys.executable, str(MATCHMAKER), "--url", url, "serve", "--pending-max-age-ms", "8000",
             "--until-settled", "--timeout-s", "120"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            played = run([str(tmp_path / "build" / "cpp_game_server"), url, "gs-1", *ids])
            out, err = serve.communicate(timeout=150)
        finally:
            serve.kill()
            serve.wait()
        assert serve.returncode == 0, err
        assert played.splitlines() == [f"{ids[0]} played to the end", f"{ids[1]} running",
                                       f"{ids[2]} waiting in the lobby", f"{ids[3]} creator never came"]
        summary = json.loads(out)
        assert summary == {"counts": {"pending": 0, "lobby": 1, "active": 1}, "open": [ids[2]],
                           "ended": [ids[0]], "reaped": [ids[3]], "dead_lettered": 0}
        assert f"delete {ids[3]} on gs-1 (reaped from pending)" in err

        mm = game_data.connect(url)
        assert mm.get_game(ids[0]) is None
        running = mm.get_game(ids[1])
        assert running is not None and running.state is GameState.IN_PROGRESS
        assert running.players == ["player-1", f"{ids[1]}-p1"]
        waiting = mm.get_game(ids[2])
        assert waiting is not None and waiting.state is GameState.CREATOR_JOINED
        assert mm.get_game(ids[3]) is None
        assert mm.stream_length("gd:events:dead") == 0
