"""The C++ package for tests that build C++ consumers (README blocks, examples): this tree's
library installed into a scratch prefix, and small CMake projects built against it the way a
user's project is (find_package(game_data CONFIG REQUIRED), game_data::game_data)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
JOBS = os.environ.get("JOBS", "2")


def tool(name: str) -> str:
    """cmake / ninja from this venv (./dev installs them there), else from PATH."""
    local = VENV_BIN / name
    found = str(local) if local.exists() else shutil.which(name)
    assert found, f"{name} not found: run ./dev setup"
    return found


def run(argv: list[str], *, cwd: Path | None = None, timeout: float = 1800) -> str:
    env = dict(os.environ, PATH=os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]))
    out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"failed ({out.returncode}): {' '.join(argv)}\n{out.stdout}\n{out.stderr}"
    return out.stdout


def install_cpp_package(prefix: Path) -> Path:
    """Installs the C++ package into `prefix` and returns it.

    From, in order: $GAME_DATA_CPP_PREFIX (an install made elsewhere, used as is); the build
    dir $GAME_DATA_CPP_BUILD_DIR, else build/cpp (what ./dev test builds just before pytest),
    brought up to date first; else a library-only build in build/cpp-package made here."""
    given = os.environ.get("GAME_DATA_CPP_PREFIX")
    if given:
        return Path(given)
    build = Path(os.environ.get("GAME_DATA_CPP_BUILD_DIR", ROOT / "build" / "cpp"))
    if not (build / "CMakeCache.txt").exists():
        build = ROOT / "build" / "cpp-package"
        run([tool("cmake"), "-S", str(ROOT), "-B", str(build), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
             "-DGAME_DATA_BUILD_TESTS=OFF", "-DGAME_DATA_BUILD_BENCH=OFF", "-DGAME_DATA_BUILD_PYTHON=OFF"])
    run([tool("cmake"), "--build", str(build), "--target", "game_data", "-j", JOBS])
    run([tool("cmake"), "--install", str(build), "--prefix", str(prefix)])
    return prefix


CONSUMER_CMAKE = """\
cmake_minimum_required(VERSION 3.20)
project(game_data_test_consumer LANGUAGES CXX)
find_package(game_data CONFIG REQUIRED)
foreach(program {programs})
  add_executable(${{program}} src/${{program}}.cpp)
  target_link_libraries(${{program}} PRIVATE game_data::game_data)
endforeach()
"""


def build_cpp_consumer(programs: dict[str, str], prefix: Path, work: Path) -> dict[str, Path]:
    """Compiles each program (name -> complete C++ source) as an executable of one CMake
    project linked to game_data::game_data from `prefix`; returns name -> executable."""
    (work / "src").mkdir(parents=True, exist_ok=True)
    for name, code in programs.items():
        (work / "src" / f"{name}.cpp").write_text(code)
    (work / "CMakeLists.txt").write_text(CONSUMER_CMAKE.format(programs=" ".join(programs)))
    build_project(work, work / "build", prefix)
    return {name: work / "build" / name for name in programs}


def build_project(source: Path, build: Path, prefix: Path) -> None:
    """Configures and builds a CMake project against the package installed in `prefix`."""
    run([tool("cmake"), "-S", str(source), "-B", str(build), "-G", "Ninja",
         f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release"])
    run([tool("cmake"), "--build", str(build), "-j", JOBS])
