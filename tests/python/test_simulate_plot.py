"""`game-data simulate --plot FILE.png`: a PNG of the run, and the sampled series behind it in
the --json summary, consistent with the run."""

from __future__ import annotations

import json
import math
import struct
import subprocess
from pathlib import Path

from cli_daemons import CLI

GAMES, BATCH = 300, 100


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_plot_writes_a_png_of_series_consistent_with_the_run(tmp_path):
    out = tmp_path / "run.png"
    result = subprocess.run([*CLI, "simulate", "--games", str(GAMES), "--batch", str(BATCH), "--seed", "3",
                             "--plot", str(out), "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert png_size(out) == (1000, 600)

    summary = json.loads(result.stdout)
    line = summary["timeline"]
    names = ("t_s", "pending", "lobby", "active", "events", "events_per_s")
    assert set(line) == set(names)
    n = len(line["t_s"])
    assert all(len(line[name]) == n for name in names)
    waves = GAMES // BATCH
    assert n >= 5 * waves + 1  # per wave: its start, before and after each of three reaps; the end

    t = line["t_s"]
    assert all(b > a for a, b in zip(t, t[1:])) and t[0] >= 0
    assert t[-1] <= summary["wall_time_s"] + 1
    live = [p + lo + a for p, lo, a in zip(line["pending"], line["lobby"], line["active"])]
    assert all(v >= 0 for name in ("pending", "lobby", "active") for v in line[name])
    assert max(live) <= BATCH  # a wave is reaped before the next is created
    # Each wave starts with all its games created and none joined yet.
    assert line["pending"].count(BATCH) >= waves and max(line["pending"]) == BATCH
    assert max(line["lobby"]) > 0 and max(line["active"]) > 0
    assert live[-1] == 0  # everything ended or reaped

    events = line["events"]
    assert all(b >= a for a, b in zip(events, events[1:])) and events[0] == 0
    ev = summary["events"]
    assert events[-1] == ev["applied"] + ev["duplicate"] + ev["rejected"]
    rate = line["events_per_s"]
    assert rate[0] == 0
    for i in range(1, n):
        assert math.isclose(rate[i], (events[i] - events[i - 1]) / (t[i] - t[i - 1]), rel_tol=1e-9)
    assert max(rate) > 0


def test_without_plot_the_summary_has_no_timeline():
    result = subprocess.run([*CLI, "simulate", "--games", "50", "--json"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["timeline"] is None
