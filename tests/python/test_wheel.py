"""The manylinux wheel (./dev wheel) works where none of its libraries are installed.

The wheel under test is this tree's, built by ./dev from the sdist and repaired by auditwheel
(./dev test passes it in GAME_DATA_TEST_WHEEL and rebuilds it only when the sources changed;
by hand, ``./dev test-wheel`` builds or reuses it). It is installed into a fresh venv and run:

- in a private mount namespace (``unshare --mount``) where every system copy of hiredis,
  spdlog, fmt, libssl and libcrypto is bind-mounted over with /dev/null, so any attempt to load
  one fails just as on a machine without them; the smoke script first proves that loading them
  does fail there, then uses the redis-servers of this test run (plain and rediss://) and checks
  in /proc/self/maps that every such library it loaded came from the wheel's game_data.libs.
- with one of the wheel's own libraries deleted: the ImportError names it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import TESTS_DIR, TlsServer

ROOT = TESTS_DIR.parent
# Libraries the wheel must bring along (or link statically): none may come from the system.
BUNDLED = ("libhiredis", "libspdlog", "libfmt", "libssl", "libcrypto")
# What a manylinux wheel may take from the system (auditwheel's policy, the part we use).
SYSTEM_OK = re.compile(r"^(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|ld-linux-x86-64)\.so")


@pytest.fixture(scope="module")
def wheel() -> Path:
    """The repaired wheel of this tree for this interpreter (see the module docstring)."""
    path = os.environ.get("GAME_DATA_TEST_WHEEL")
    if not path:
        out = subprocess.run([str(ROOT / "dev"), "test-wheel"], check=True, capture_output=True,
                             text=True).stdout
        path = out.strip().splitlines()[-1]
    return Path(path)


def _fresh_venv(where: Path, wheel: Path) -> Path:
    """A new venv (no pip of its own) with only the wheel installed; returns its python."""
    venv.EnvBuilder(with_pip=False).create(where)
    python = where / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--disable-pip-version-check", "--no-deps", "--no-index", str(wheel)],
                   check=True)
    return python


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh venv that has the wheel installed."""
    return _fresh_venv(tmp_path_factory.mktemp("wheel-venv") / "venv", wheel)


def _site_package(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         check=True, capture_output=True, text=True).stdout
    return Path(out.strip()) / "game_data"


def _system_copies() -> tuple[list[str], list[str]]:
    """(sonames, real file paths) of the system's copies of the BUNDLED libraries."""
    out = subprocess.run(["/sbin/ldconfig", "-p"], check=True, capture_output=True, text=True).stdout
    sonames, files = set(), set()
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) \(.*\) => (\S+)$", line)
        if m and m.group(1).startswith(BUNDLED):
            sonames.add(m.group(1))
            files.add(os.path.realpath(m.group(2)))
    return sorted(sonames), sorted(files)


SMOKE = textwrap.dedent("""
    import ctypes, sys
    hidden, plain_url, tls_url, bad_ca_url = sys.argv[1].split(","), *sys.argv[2:]
    for soname in hidden:  # the hiding works: the system's copy cannot be loaded
        try:
            ctypes.CDLL(soname)
        except OSError:
            continue
        sys.exit(f"{soname} still loads")
    import game_data
    for url in (plain_url, tls_url):
        mm = game_data.connect(url, namespace="wheel-smoke")
        game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
        game_data.EventPublisher(url, server_id="gs-1", namespace="wheel-smoke").creator_joined(
            game.id, player_id="alice")
        results = mm.consumer(name="smoke").poll(count=10, block_ms=1000)
        assert [r.status for r in results] == [game_data.ApplyStatus.APPLIED], results
        assert mm.get_game(game.id).state is game_data.GameState.CREATOR_JOINED
    try:
        game_data.connect(bad_ca_url).counts()
        sys.exit("a server certificate from an unknown CA was accepted")
    except game_data.BackendConnectionError as err:
        assert "not accepted" in str(err), err
    loaded = {line.split()[-1] for line in open("/proc/self/maps") if ".so" in line}
    for path in sorted(loaded):
        name = path.rsplit("/", 1)[-1]
        if name.startswith(%r) and "/game_data.libs/" not in path:
            sys.exit(f"{path} was loaded from outside the wheel")
    print("wheel ok", game_data.__version__, sorted(p.rsplit("/", 1)[-1] for p in loaded
          if "/game_data.libs/" in p))
""" % (BUNDLED,))


def test_wheel_is_manylinux_and_self_contained(wheel: Path, installed: Path) -> None:
    assert re.search(r"-cp3\d+-cp3\d+-manylinux_2_\d+_x86_64\.whl$", wheel.name), wheel.name
    with zipfile.ZipFile(wheel) as zf:
        bundled = [n for n in zf.namelist() if n.startswith("game_data.libs/")]
    # hiredis (with TLS) is linked in statically; the others are bundled by auditwheel.
    for lib in ("libspdlog", "libfmt", "libssl", "libcrypto"):
        assert any(n.split("/")[-1].startswith(lib + "-") for n in bundled), (lib, bundled)
    core = next(_site_package(installed).glob("_core*.so"))
    dynamic = subprocess.run(["readelf", "-d", str(core)], check=True, capture_output=True,
                             text=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+)\]", dynamic)
    assert needed, dynamic
    for soname in needed:  # each either in game_data.libs (hashed name) or allowed by manylinux
        assert SYSTEM_OK.match(soname) or re.match(r"lib\w+-[0-9a-f]{8}\.so", soname), needed


def test_wheel_runs_without_the_system_libraries(
    installed: Path, redis_url: str, tls_server: TlsServer, tmp_path: Path
) -> None:
    sonames, files = _system_copies()
    assert any(s.startswith("libspdlog") for s in sonames), sonames  # there is something to hide
    smoke = tmp_path / "smoke.py"
    smoke.write_text(SMOKE)
    bad_ca = tls_server.url(ca_cert=str(tls_server.certs / "other-ca.pem"), sni="localhost")
    hide = 'for f in $GD_HIDE; do mount --bind /dev/null "$f" || exit 97; done; exec "$@"'
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", hide, "sh",
         str(installed), str(smoke), ",".join(sonames), redis_url, tls_server.verified_url(), bad_ca],
        env={"PATH": "/usr/bin:/bin", "GD_HIDE": " ".join(files)}, cwd=tmp_path,
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("wheel ok"), proc.stdout
    assert "libssl-" in proc.stdout, proc.stdout  # rediss:// used the bundled OpenSSL


def test_missing_bundled_library_is_named_in_the_import_error(
    wheel: Path, tmp_path: Path
) -> None:
    python = _fresh_venv(tmp_path / "venv", wheel)
    victim = next((_site_package(python).parent / "game_data.libs").glob("libspdlog-*.so*"))
    victim.unlink()
    proc = subprocess.run([str(python), "-c", "import game_data"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError:"), proc.stderr
    assert f"needs the shared library {victim.name}, which was not found" in last, last


def test_sdist_is_what_the_wheel_was_built_from(wheel: Path) -> None:
    # ./dev builds each wheel from the sdist beside it (pip wheel <sdist>): that it exists and
    # holds what a build needs, and nothing of a build tree, is what this checks.
    sdists = list(wheel.parent.parent.glob("game_data-*.tar.gz"))
    assert len(sdists) == 1, sdists
    version = wheel.name.split("-")[1]
    assert sdists[0].name == f"game_data-{version}.tar.gz"
    with tarfile.open(sdists[0]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for needed in ("CMakeLists.txt", "pyproject.toml", "cmake/FindGameDataHiredis.cmake",
                   "cpp/src/matchmaker.cpp", "bindings/module.cpp", "python/game_data/__init__.py"):
        assert needed in names, needed
    assert not any(n.startswith(("build/", ".venv/", "dist/")) for n in names)
