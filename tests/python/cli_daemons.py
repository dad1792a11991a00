"""Running `game-data` daemons (`consume`, `reap`) as child processes in tests: one reader of
their stderr and one clean-up, shared by the CLI test files; and the same with a metrics
endpoint on a free port."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence

from game_data.testing import wait_for

CLI = [sys.executable, "-m", "game_data.cli"]
SERVING = re.compile(r"serving metrics at (http://\S+/metrics)")


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


@contextlib.contextmanager
def spawned_with_metrics(args: Sequence[str]) -> Iterator[tuple[subprocess.Popen, LineReader, str]]:
    """`spawned`, with `--metrics-port 0`: yields once the daemon serves its metrics, with their
    URL (the port the daemon picked, read from its "serving metrics at" line)."""
    with spawned([*args, "--metrics-port", "0"]) as (proc, reader):
        found = wait_for(lambda: SERVING.search(reader.text()) or proc.poll() is not None,
                         what="the daemon to serve its metrics")
        assert isinstance(found, re.Match), f"the daemon exited:\n{reader.text()}"
        yield proc, reader, found.group(1)
