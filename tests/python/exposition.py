"""Test support: scrape a /metrics endpoint and check the text against the Prometheus text
exposition format (version 0.0.4) rules, independently of the library that wrote it; then
parse it with prometheus_client's own parser as well."""

from __future__ import annotations

import math
import re
import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
LABEL_PAIR = re.compile(r'\s*([^=\s]+)\s*=\s*"((?:[^"\\\n]|\\[\\"n])*)"\s*(?:,|$)')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
# The sample names a family of each type may have (0.0.4; `_created` as prometheus_client adds).
SUFFIXES = {"counter": ("", "_created"), "gauge": ("",), "untyped": ("",),
            "histogram": ("_bucket", "_sum", "_count", "_created"), "summary": ("", "_sum", "_count", "_created")}

Labels = tuple[tuple[str, str], ...]


@dataclass
class Family:
    name: str
    type: str = ""
    help: str | None = None
    samples: list[tuple[str, Labels, float]] = field(default_factory=list)


def scrape(url: str, timeout: float = 10) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        assert response.status == 200
        content_type = response.headers["Content-Type"]
        assert content_type.startswith("text/plain") and "version=0.0.4" in content_type, content_type
        return str(response.read().decode("utf-8"))


def _value(text: str) -> float:
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    return float(text)


def _labels(body: str, line: str) -> Labels:
    pairs, pos = [], 0
    while pos < len(body):
        m = LABEL_PAIR.match(body, pos)
        assert m, f"bad labels in {line!r}"
        name, raw = m.group(1), m.group(2)
        assert LABEL_NAME.fullmatch(name) and not name.startswith("__"), f"bad label name {name!r}"
        pairs.append((name, re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), raw)))
        pos = m.end()
    names = [n for n, _ in pairs]
    assert len(names) == len(set(names)), f"repeated label in {line!r}"
    return tuple(sorted(pairs))


def check_exposition(text: str) -> dict[str, Family]:
    """Checks `text` against the format's rules and returns its families by name:

    - every line is a HELP, a TYPE, a comment, blank, or a sample `name{labels} value [ts]`;
    - a family has at most one HELP and one TYPE, both before its first sample, and here (as
      we require of our exporter) always both;
    - every sample belongs to the family declared last, by a name its type allows, so a
      family's samples are contiguous; no sample (name and labels) appears twice;
    - names and label names are valid, values are floats; counters are not negative;
    - per histogram series: `le` buckets in increasing order with non-decreasing counts, a
      `+Inf` bucket equal to `_count`, and a `_sum`.
    Also checks that prometheus_client's parser reads the same families.
    """
    families: dict[str, Family] = {}
    current: Family | None = None
    seen: set[tuple[str, Labels]] = set()
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                assert METRIC_NAME.fullmatch(name), f"bad metric name in {line!r}"
                fam = families.setdefault(name, Family(name))
                assert not fam.samples, f"{parts[1]} of {name} after its samples"
                if parts[1] == "HELP":
                    assert fam.help is None, f"second HELP for {name}"
                    fam.help = parts[3] if len(parts) > 3 else ""
                else:
                    assert not fam.type, f"second TYPE for {name}"
                    assert len(parts) == 4 and parts[3] in TYPES, f"bad TYPE line {line!r}"
                    fam.type = parts[3]
                current = fam
            continue
        m = re.fullmatch(r"([^\s{]+)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?", line)
        assert m, f"not a sample line: {line!r}"
        name, body, value = m.group(1), m.group(2) or "", _value(m.group(3))
        assert METRIC_NAME.fullmatch(name), f"bad metric name in {line!r}"
        labels = _labels(body, line)
        assert current is not None and current.type, f"sample {name} before any TYPE"
        assert name in {current.name + s for s in SUFFIXES[current.type]}, (
            f"sample {name} is not of family {current.name} ({current.type}): families interleaved "
            "or undeclared")
        assert (name, labels) not in seen, f"duplicate sample {line!r}"
        seen.add((name, labels))
        if current.type == "counter":
            assert value >= 0, f"negative counter {line!r}"
        current.samples.append((name, labels, value))
    for fam in families.values():
        assert fam.type and fam.help is not None, f"{fam.name}: HELP and TYPE both required"
        if fam.type == "histogram":
            _check_histogram(fam)
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    for fam in families.values():
        base = fam.name[: -len("_total")] if fam.type == "counter" and fam.name.endswith("_total") else fam.name
        assert base in parsed and parsed[base].type == fam.type, f"prometheus_client reads {fam.name} differently"
        assert len(parsed[base].samples) == len(fam.samples)
    return families


def _check_histogram(fam: Family) -> None:
    series: dict[Labels, dict[str, object]] = {}
    for name, labels, value in fam.samples:
        key = tuple(p for p in labels if p[0] != "le")
        entry = series.setdefault(key, {"buckets": []})
        if name == fam.name + "_bucket":
            le = dict(labels).get("le")
            assert le is not None, f"{fam.name}_bucket without le"
            entry["buckets"].append((_value(le), value))  # type: ignore[attr-defined]
        elif name in (fam.name + "_sum", fam.name + "_count"):
            entry[name[len(fam.name):]] = value
    assert series, f"histogram {fam.name} has no series"
    for key, entry in series.items():
        buckets: list[tuple[float, float]] = entry["buckets"]  # type: ignore[assignment]
        bounds = [b for b, _ in buckets]
        assert bounds == sorted(bounds) and len(set(bounds)) == len(bounds), f"{fam.name}{key}: le out of order"
        counts = [c for _, c in buckets]
        assert counts == sorted(counts), f"{fam.name}{key}: buckets not cumulative: {buckets}"
        assert bounds and math.isinf(bounds[-1]), f"{fam.name}{key}: no +Inf bucket"
        assert "_count" in entry and "_sum" in entry, f"{fam.name}{key}: _count and _sum required"
        assert counts[-1] == entry["_count"], f"{fam.name}{key}: +Inf bucket {counts[-1]} != _count"


def samples(families: dict[str, Family]) -> dict[str, float]:
    """Every sample as `name{label="value",...}` (labels sorted) -> value."""
    out = {}
    for fam in families.values():
        for name, labels, value in fam.samples:
            key = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else "")
            out[key] = value
    return out


def series(name: str, **labels: str) -> str:
    """The key `samples()` uses: labels sorted by name."""
    return name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
