"""Running `game-data` daemons (`consume`, `reap`) as child processes in tests: one reader of
their stderr and one clean-up, shared by the CLI test files."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence

CLI = [sys.executable, "-m", "game_data.cli"]


class LineReader:
    """Collects a child's stderr lines on a thread, so the test can wait for one."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self._thread.start()

    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=5)


@contextlib.contextmanager
def spawned(args: Sequence[str]) -> Iterator[tuple[subprocess.Popen, LineReader]]:
    """`game-data ARGS...` as a child process with its stderr read by a LineReader; killed on
    the way out if still running, its pipes closed."""
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader = LineReader(proc.stderr)
    try:
        yield proc, reader
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        reader.join()
        proc.stdout.close()
        proc.stderr.close()
