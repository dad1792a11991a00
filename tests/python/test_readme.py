"""Every code block of README.md runs, as written, so the documentation cannot rot.

The convention (also in README "Developing"):

- Blocks are found by scanning README.md for fenced blocks; nothing here lists them, so a new
  section is tested as soon as it is written. Each block is one test, named after its language
  and first line (``python-L125``).
- ```` ```python ````: run as a script by this venv's Python, in an empty temporary folder. A
  block that defines top-level ``test_*`` functions is a pytest file instead: it is run with
  pytest (the installed game_data plugin gives it its fixtures) and every test must pass.
- ```` ```cpp ````: a complete program. All C++ blocks are compiled together as one CMake
  project that does ``find_package(game_data CONFIG REQUIRED)`` and links
  ``game_data::game_data`` against this tree's C++ package installed into a scratch prefix
  (see ``cpp_prefix`` below), then each is run and must exit 0.
- ```` ```sh ```` / ```` ```bash ````: run with ``bash -e -o pipefail`` in an empty temporary
  folder, this venv's ``bin`` first on PATH (so ``game-data`` and ``python3`` are this
  package's). Every command must succeed.
- Blocks must check what they show (an ``assert``, a non-zero exit) and must end by
  themselves: a daemon runs in the background and is stopped by the block.
- **Redis.** A block that mentions ``127.0.0.1:6379`` or ``redis-cli`` gets a private
  redis-server of its own (started for it, removed after). It is reached by rewriting, before
  the block runs, every ``127.0.0.1:6379`` in the block's text to that server's address, and,
  for shell blocks, by a ``redis-cli`` first on PATH that is the real one with ``-p <port>``;
  ``$GAME_DATA_URL`` (the CLI daemons' default URL) is set to the server's URL. Nothing else
  of the text is changed. See ``redis_rewrite``.
- **Not run.** A block that cannot run as a test is preceded, on the line right above its
  opening fence, by ``<!-- not run: REASON -->`` (an HTML comment: visible in the Markdown,
  not in the rendered page). The reason is required. Any other language (``text``, an
  unlabelled fence) must carry the marker too, so no code block is left out by accident.
- **Excerpts.** A block that shows part of a source file the tests build and run elsewhere (a
  plug-in is a shared library, not a program) is preceded by ``<!-- excerpt of PATH -->``
  (PATH relative to the repository root). Its lines, stripped, must appear in that file in the
  same order (other lines of the file may come in between); a line that is only ``...``,
  ``// ...`` or ``/* ... */`` (with any words after the dots) marks a cut and is not looked
  up. So the excerpt cannot drift from the code that is tested.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from game_data.testing import RedisServer

from cpp_package import build_cpp_consumer

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RUNNERS = ("python", "cpp", "sh", "bash")
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<reason>\S.*?)\s*-->\s*$")
EXCERPT = re.compile(r"^<!--\s*excerpt of\s+(?P<path>\S+)\s*-->\s*$")
CUT = re.compile(r"^(\.\.\.|//\s*\.\.\.|/\*\s*\.\.\.).*$")
FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<info>[^`\s]*)")
DEFAULT_REDIS = "127.0.0.1:6379"
SHELL = ["bash", "-e", "-o", "pipefail", "-c"]  # a shell block fails at its first failing command
BLOCK_TIMEOUT = 300  # seconds: a block that takes longer is broken, or a daemon left running


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    not_run: str | None  # the reason given by a <!-- not run: ... --> marker
    excerpt_of: str | None = None  # the file named by a <!-- excerpt of PATH --> marker

    @property
    def id(self) -> str:
        return f"{self.language or 'plain'}-L{self.line}"

    @property
    def needs_redis(self) -> bool:
        return DEFAULT_REDIS in self.code or "redis-cli" in self.code

    @property
    def is_pytest_file(self) -> bool:
        return self.language == "python" and re.search(r"^def test_\w*\(", self.code, re.M) is not None


def readme_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence = opening["fence"]
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"README.md:{start + 1}: code block never closed")
        marker = NOT_RUN.match(lines[start - 1]) if start > 0 else None
        excerpt = EXCERPT.match(lines[start - 1]) if start > 0 else None
        blocks.append(Block(start + 1, opening["info"].lower(), "\n".join(body) + "\n",
                            marker["reason"] if marker else None,
                            excerpt["path"] if excerpt else None))
        i += 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
RUN = [b for b in BLOCKS if b.not_run is None and b.excerpt_of is None]
EXCERPTS = [b for b in BLOCKS if b.excerpt_of is not None]


def redis_rewrite(code: str, server: RedisServer) -> str:
    """The one change made to a block's text: the default address becomes the private server's."""
    return code.replace(DEFAULT_REDIS, f"{server.host}:{server.port}")


def block_env(bin_dir: Path, server: RedisServer | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("PYTEST_ADDOPTS", None)
    if server is not None:
        env["GAME_DATA_URL"] = server.url
    return env


def redis_cli_shim(bin_dir: Path, server: RedisServer) -> None:
    """A ``redis-cli`` that is the real one aimed at the private server."""
    real = shutil.which("redis-cli")
    assert real is not None, "redis-cli not found (Debian package redis-tools; ./dev setup installs it)"
    shim = bin_dir / "redis-cli"
    shim.write_text(f'#!/bin/sh\nexec {real} -h {server.host} -p {server.port} "$@"\n')
    shim.chmod(0o755)


def run_checked(argv: list[str], block: Block, *, cwd: Path, env: dict[str, str]) -> str:
    try:
        out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                             timeout=BLOCK_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"README.md:{block.line} ({block.id}) still running after "
                             f"{BLOCK_TIMEOUT}s; a block must end by itself") from err
    assert out.returncode == 0, (
        f"README.md:{block.line} ({block.id}) failed with exit {out.returncode}\n"
        f"--- stdout\n{out.stdout}\n--- stderr\n{out.stderr}")
    return out.stdout


# -- the checks of the convention itself --------------------------------------------------------

def test_the_readme_has_blocks_of_every_kind_the_harness_runs() -> None:
    languages = {b.language for b in RUN}
    assert {"python", "cpp", "sh"} <= languages, languages


def test_every_block_is_run_or_says_why_not() -> None:
    unmarked = [f"README.md:{b.line} ({b.language or 'no language'})" for b in BLOCKS
                if b.not_run is None and b.excerpt_of is None and b.language not in RUNNERS]
    assert not unmarked, (
        "these blocks are neither of a language the harness runs "
        f"({', '.join(RUNNERS)}) nor marked <!-- not run: REASON --> on the line above: {unmarked}")


def excerpt_missing(block: Block, source: str) -> list[str]:
    """The lines of an excerpt block not found, in order, among the source's lines."""
    wanted = [ln.strip() for ln in block.code.splitlines() if ln.strip() and not CUT.match(ln.strip())]
    have = iter(ln.strip() for ln in source.splitlines())
    return [ln for ln in wanted if not any(ln == h for h in have)]


@pytest.mark.parametrize("block", EXCERPTS, ids=[b.id for b in EXCERPTS])
def test_an_excerpt_is_in_its_file_as_written(block: Block) -> None:
    assert block.excerpt_of is not None
    path = ROOT / block.excerpt_of
    assert path.is_file(), f"README.md:{block.line}: excerpt of {block.excerpt_of}, no such file"
    missing = excerpt_missing(block, path.read_text(encoding="utf-8"))
    assert not missing, (f"README.md:{block.line}: these lines of the excerpt are not in "
                         f"{block.excerpt_of} (in this order): {missing}")


def test_an_excerpt_that_drifted_is_caught() -> None:
    source = "int f() {\n    return 1;\n}\nint g() {\n    return 2;\n}\n"
    good = Block(1, "cpp", "int f() {\n    return 1;\n}\n// ...\nint g() {\n", None, "x")
    drifted = Block(1, "cpp", "int f() {\n    return 3;\n}\n", None, "x")
    out_of_order = Block(1, "cpp", "int g() {\nint f() {\n", None, "x")
    assert excerpt_missing(good, source) == []
    assert excerpt_missing(drifted, source) == ["return 3;", "}"]
    assert excerpt_missing(out_of_order, source) == ["int f() {"]


def test_the_not_run_list_stays_short() -> None:
    # A reminder, not a rule of Markdown: every block kept out of the run must earn it.
    skipped = [f"README.md:{b.line}: {b.not_run}" for b in BLOCKS if b.not_run is not None]
    assert len(skipped) <= 8, "\n".join(skipped)


def test_the_block_scanner_reads_markers_languages_and_bodies() -> None:
    text = "intro\n```python\nprint(1)\n```\n<!-- not run: needs a cluster -->\n```sh\nx\n```\n```\nplain\n```\n"
    blocks = readme_blocks(text)
    assert [(b.line, b.language, b.code, b.not_run) for b in blocks] == [
        (2, "python", "print(1)\n", None), (6, "sh", "x\n", "needs a cluster"), (9, "", "plain\n", None)]


def test_a_block_whose_first_command_fails_fails_its_test(tmp_path: Path) -> None:
    block = Block(1, "sh", "false\necho still here\n", None)
    with pytest.raises(AssertionError, match="failed with exit 1"):
        run_checked([*SHELL, block.code], block, cwd=tmp_path, env=block_env(tmp_path, None))


# -- running the blocks -------------------------------------------------------------------------

@pytest.mark.parametrize("block", [b for b in RUN if b.language == "python"], ids=lambda b: b.id)
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    with private_redis(block) as server:
        code = redis_rewrite(block.code, server) if server else block.code
        env = block_env(tmp_path, server)
        if block.is_pytest_file:
            path = tmp_path / f"test_readme_l{block.line}.py"
            path.write_text(code)
            out = run_checked([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
                              block, cwd=tmp_path, env=env)
            defined = len(re.findall(r"^def test_\w*\(", code, re.M))
            assert f"{defined} passed" in out, out
        else:
            path = tmp_path / "block.py"
            path.write_text(code)
            run_checked([sys.executable, str(path)], block, cwd=tmp_path, env=env)


@pytest.mark.parametrize("block", [b for b in RUN if b.language in ("sh", "bash")], ids=lambda b: b.id)
def test_shell_block_runs(block: Block, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    with private_redis(block) as server:
        code = block.code
        if server is not None:
            redis_cli_shim(bin_dir, server)
            code = redis_rewrite(code, server)
        run_checked([*SHELL, code], block, cwd=work,
                    env=block_env(bin_dir, server))


@pytest.mark.parametrize("block", [b for b in RUN if b.language == "cpp"], ids=lambda b: b.id)
def test_cpp_block_compiles_and_runs(block: Block, cpp_blocks_built: dict[int, Path],
                                     cpp_redis: RedisServer, tmp_path: Path) -> None:
    if block.needs_redis:
        cpp_redis.command("FLUSHALL")  # each block meets an empty server, as if it were its own
    run_checked([str(cpp_blocks_built[block.line])], block, cwd=tmp_path,
                env=block_env(tmp_path, cpp_redis if block.needs_redis else None))


@contextlib.contextmanager
def private_redis(block: Block) -> Iterator[RedisServer | None]:
    """A private redis-server for a block that needs one (removed afterwards); None otherwise."""
    if not block.needs_redis:
        yield None
        return
    with RedisServer() as server:
        yield server


# -- C++: the installed package, then one consumer project with every block -----------------------

@pytest.fixture(scope="session")
def cpp_redis() -> Iterator[RedisServer]:
    """The C++ blocks' redis-server: the address is compiled in, so all of them share one
    (started before they are built), emptied before each runs."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def cpp_blocks_built(cpp_prefix: Path, cpp_redis: RedisServer,
                     tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Every C++ block compiled once against the installed package: line -> executable."""
    programs = {f"readme_l{b.line}": redis_rewrite(b.code, cpp_redis) if b.needs_redis else b.code
                for b in RUN if b.language == "cpp"}
    built = build_cpp_consumer(programs, cpp_prefix, tmp_path_factory.mktemp("readme-cpp"))
    return {int(name.removeprefix("readme_l")): exe for name, exe in built.items()}


def test_the_cpp_harness_fails_a_fragment(cpp_prefix: Path, tmp_path: Path) -> None:
    # A block without main() is what the README had before: it must not pass as compiled.
    fragment = '#include <game_data/game_data.hpp>\nauto mm = game_data::connect("memory://");\n'
    with pytest.raises(AssertionError, match="main"):
        build_cpp_consumer({"fragment": fragment}, cpp_prefix, tmp_path)
