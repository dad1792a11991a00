"""bench/header_cost.py runs and prints its table; its line counts do not depend on the machine,
so the two targets on preprocessed lines (close to the standard-library floor, well below the
old include of nlohmann/json) are asserted here too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "header_cost.py"


def test_header_cost_prints_its_rows_and_the_line_targets_pass(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines()
            if line.startswith("| game_data.hpp")}
    assert set(rows) == {
        "game_data.hpp preprocessed lines vs std floor",
        "game_data.hpp preprocessed lines vs with nlohmann",
        "game_data.hpp front-end ms vs std floor",
        "game_data.hpp front-end ms vs with nlohmann",
    }
    for name, line in rows.items():
        if "lines" in name:
            assert line.rstrip(" |").endswith("PASS"), line
    assert (tmp_path / "header_cost.txt").read_text().splitlines()[1:] == done.stdout.splitlines()[1:]
