"""The package is typed, and its types are true: `mypy --strict` passes over game_data (the
testing helpers and the pytest plugin included), and `stubtest` finds the hand-written stub of
the compiled module (python/game_data/_core/__init__.pyi, shipped in the wheel) in step with
the bindings. Both check the installed package, the one users get."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ALLOWLIST = HERE / "stubtest_allowlist.txt"

HOW_TO_FIX = """
How to fix:
- A binding was added or changed in bindings/*.cpp: write the same signature in the one stub
  file of the compiled module, python/game_data/_core/__init__.pyi (names, argument names,
  defaults, keyword-only markers, return types), then `./dev setup` and run this test again.
- A Python module of the package (python/game_data/**.py) fails mypy --strict: annotate every
  function and argument; narrow Optional values before use; no implicit Any.
- A difference stubtest cannot see through, that is right on purpose: add one line to
  tests/python/stubtest_allowlist.txt with the name and a comment saying why. Keep it short.
"""


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    # From this folder, so the installed package is checked, not the source tree.
    return subprocess.run(argv, cwd=HERE, capture_output=True, text=True, timeout=600)


def test_mypy_strict_passes_over_the_package() -> None:
    out = run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "game_data"])
    assert out.returncode == 0, f"mypy --strict failed:\n{out.stdout}{out.stderr}{HOW_TO_FIX}"


def test_stubtest_finds_the_stubs_in_step_with_the_runtime() -> None:
    out = run([sys.executable, "-m", "mypy.stubtest", "game_data", "--allowlist", str(ALLOWLIST)])
    assert out.returncode == 0, f"stubtest failed:\n{out.stdout}{out.stderr}{HOW_TO_FIX}"


def test_every_allowlist_entry_says_why() -> None:
    for number, line in enumerate(ALLOWLIST.read_text().splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition("#")
            assert name.strip() and reason.strip(), f"stubtest_allowlist.txt:{number}: give a reason after '#'"


def test_the_stub_ships_with_the_package() -> None:
    import game_data

    package = Path(game_data.__file__).parent
    assert (package / "_core" / "__init__.pyi").is_file()
    assert (package / "py.typed").is_file()
