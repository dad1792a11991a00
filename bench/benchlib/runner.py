"""What every bench/*.py script does around its measurements: the printed and kept lines, the
checks that fail the run, the sections run one by one (a failing one is reported and the others
still give their rows), and the end of the report and its file."""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from benchlib.table import loadavg

__all__ = ["Report"]


class Report:
    """The lines a benchmark prints (and writes to its file), its notes and its failed checks."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.notes: list[str] = []
        self.failures: list[str] = []
        self.section_load: dict[str, str] = {}  # section name -> 1-min load average at its start

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def progress(self, text: str) -> None:
        print(f"  .. {text}", file=sys.stderr, flush=True)

    def section(self, name: str, text: str) -> None:
        self.section_load[name] = loadavg().split()[0]
        self.progress(text)

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)
            print(f"VERIFY FAILED: {what}", file=sys.stderr, flush=True)

    def say_heading(self, title: str, load0: str, software: str, quick: bool) -> None:
        """The title, then when and where it ran: date, host, CPUs, load, `software` versions."""
        self.say(f"## {title}")
        self.say()
        self.say(f"{time.strftime('%Y-%m-%d %H:%M:%S')}, {platform.node()}, {os.cpu_count()} CPUs, "
                 f"load average {load0} at start, {loadavg()} at end; {software}"
                 f"{' (--quick)' if quick else ''}")
        self.say()

    def run_sections(self, sections: Sequence[tuple[str, Callable[[], None]]]) -> None:
        """Each section in turn; one that raises is a failed check, and the rest still run."""
        for name, run in sections:
            try:
                run()
            except Exception as err:  # noqa: BLE001 - report it, keep the other sections' rows
                traceback.print_exc()
                self.check(False, f"section {name} failed: {type(err).__name__}: {err}")

    def say_run_details(self, started: float) -> None:
        """The last lines of the details: load at each section, notes, failures, total time."""
        self.say("- load average (1 min) at the start of each section: "
                 + ", ".join(f"{k} {v}" for k, v in self.section_load.items()))
        for note in self.notes:
            self.say(f"- note: {note}")
        for failure in self.failures:
            self.say(f"- VERIFY FAILED: {failure}")
        self.say(f"- total {time.monotonic() - started:.0f}s")

    def write(self, path: Path) -> int:
        """Write the lines to `path`; the exit status: 1 when a check failed, else 0."""
        path.write_text("\n".join(self.lines) + "\n")
        print(f"(written to {path})", file=sys.stderr)
        return 1 if self.failures else 0
