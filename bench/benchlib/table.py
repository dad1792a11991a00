"""The table every bench/*.py prints: one row per project figure, beside the comparison it is
judged against, both measured in the same run (see "Benchmarks" in the README)."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["HEADER", "Row", "at_least", "at_most", "f_rate", "f_us", "loadavg", "pct", "ratio",
           "render_table"]

HEADER = ("measurement", "project", "compared with", "its figure", "ratio", "target", "result")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[int(p * (len(s) - 1))] if s else float("nan")


def f_rate(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def f_us(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.1f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


@dataclass
class Row:
    name: str
    project: str
    against: str
    figure: str
    ratio: float | None
    target: str = "-"
    passed: bool | None = None  # None: no target (info) or not measured

    def cells(self) -> list[str]:
        r = "n/a" if self.ratio is None else f"{self.ratio:.2f}x"
        if self.target == "-":
            result = "info"
        elif self.passed is None:
            result = "n/a"
        else:
            result = "PASS" if self.passed else "FAIL"
        return [self.name, self.project, self.against, self.figure, r, self.target, result]


def render_table(rows: list[Row]) -> list[str]:
    cells = [list(HEADER)] + [r.cells() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    numeric = {1, 3, 4}

    def line(c: list[str]) -> str:
        return "| " + " | ".join(x.rjust(w) if i in numeric else x.ljust(w)
                                 for i, (x, w) in enumerate(zip(c, widths))) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if i in numeric else "-" * (w + 2)
                         for i, w in enumerate(widths)) + "|"
    return [line(cells[0]), sep] + [line(c) for c in cells[1:]]


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"
