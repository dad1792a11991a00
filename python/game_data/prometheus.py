"""The Prometheus exporter: ``GET /metrics`` in the Prometheus text format, read from
:meth:`game_data.Matchmaker.stats` at each scrape (SPEC section 8).

    from game_data import prometheus
    exporter = prometheus.start(mm, "127.0.0.1", 9108)   # serves http://127.0.0.1:9108/metrics
    ...
    exporter.close()

The counters are counted in the C++ core, so a scrape shows what this process's handle did:
``game-data consume --metrics-port N`` and ``game-data reap --metrics-port N`` serve their
own. The format is written by the ``prometheus_client`` package through a custom collector;
the families' kinds and help texts come from the core's table (``_core.METRIC_FAMILIES``).
The exporter is a plug-in: :func:`register` hands :func:`start` to a plug-in registry.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from prometheus_client import start_http_server
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    UnknownMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from . import _core
from .errors import GameDataError

__all__ = ["Exporter", "ExporterStart", "MatchmakerCollector", "parse_series", "register", "start"]

log = logging.getLogger(__name__)

#: Family name -> (kind, help), from the core: "counter", "gauge" or "histogram".
FAMILIES: Mapping[str, tuple[str, str]] = {name: (kind, text) for name, kind, text in _core.METRIC_FAMILIES}

_HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')
_UNESCAPE = re.compile(r"\\(.)")


def parse_series(key: str) -> tuple[str, dict[str, str]]:
    """A key of ``stats()``, ``name{label="value",...}``, as ``(name, labels)``; label values
    unescaped as the text format escapes them (``\\\\``, ``\\"``, ``\\n``)."""
    name, brace, rest = key.partition("{")
    if not brace:
        return key, {}
    if not rest.endswith("}"):
        raise ValueError(f"malformed series name {key!r}")
    body, labels, pos = rest[:-1], {}, 0
    while pos < len(body):
        match = _LABEL.match(body, pos)
        if match is None:
            raise ValueError(f"malformed labels in {key!r}")
        labels[match.group(1)] = _UNESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1),
                                               match.group(2))
        pos = match.end()
    return name, labels


def _family_of(name: str) -> tuple[str, str]:
    """(family, part): a histogram's ``h_bucket`` / ``h_sum`` / ``h_count`` belong to ``h``."""
    for part in _HISTOGRAM_PARTS:
        base = name[: -len(part)]
        if name.endswith(part) and FAMILIES.get(base, ("",))[0] == "histogram":
            return base, part
    return name, ""


class MatchmakerCollector(Collector):
    """Reads ``mm.stats()`` at each collect and yields one family per metric name.

    ``before_scrape`` callables run first, for gauges read at scrape time (a consumer's
    ``group_info``, which refreshes ``game_data_consumer_lag`` / ``_pending``); one that fails
    is logged and skipped, so the scrape still serves everything else."""

    def __init__(self, mm: _core.Matchmaker, before_scrape: tuple[Callable[[], object], ...] = ()) -> None:
        self._mm = mm
        self._before_scrape = before_scrape

    def collect(self) -> Iterator[Metric]:
        for refresh in self._before_scrape:
            try:
                refresh()
            except GameDataError as err:
                log.debug("metrics: %r failed before the scrape: %s", refresh, err)
        series: dict[str, list[tuple[str, dict[str, str], float]]] = {}
        for key, value in self._mm.stats().items():
            name, labels = parse_series(key)
            family, part = _family_of(name)
            series.setdefault(family, []).append((part, labels, float(value)))
        for family, samples in sorted(series.items()):
            yield _family(family, samples)


def _family(name: str, samples: list[tuple[str, dict[str, str], float]]) -> Metric:
    kind, text = FAMILIES.get(name, ("unknown", f"{name} (not in the core's table of families)"))
    # The labels in the core's order (`{type,status}` as SPEC section 8 writes them).
    label_names = list(dict.fromkeys(k for _, labels, _ in samples for k in labels if k != "le"))
    metric: CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily | UnknownMetricFamily
    if kind == "histogram":
        metric = HistogramMetricFamily(name, text, labels=label_names)
        by_labels: dict[tuple[str, ...], tuple[list[tuple[str, float]], float]] = {}
        for part, labels, value in samples:
            values = tuple(labels.get(k, "") for k in label_names)
            buckets, total = by_labels.get(values, ([], 0.0))
            if part == "_bucket":
                buckets.append((labels["le"], value))
            elif part == "_sum":
                total = value
            by_labels[values] = (buckets, total)
        for values, (buckets, total) in by_labels.items():
            buckets.sort(key=lambda b: float(b[0]))
            metric.add_metric(list(values), buckets, total)  # _count is the +Inf bucket
        return metric
    if kind == "counter":
        metric = CounterMetricFamily(name, text, labels=label_names)
    elif kind == "gauge":
        metric = GaugeMetricFamily(name, text, labels=label_names)
    else:
        metric = UnknownMetricFamily(name, text, labels=label_names)
    for _, labels, value in samples:
        metric.add_metric([labels.get(k, "") for k in label_names], value)
    return metric


class Exporter:
    """A running exporter (made by :func:`start`): an HTTP server on its own daemon thread."""

    def __init__(self, mm: _core.Matchmaker, host: str, port: int,
                 before_scrape: tuple[Callable[[], object], ...]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(MatchmakerCollector(mm, before_scrape))
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        self._closed = threading.Event()

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port served on (the one the system picked when started with port 0)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stops serving and waits for the server thread; idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def start(mm: _core.Matchmaker, host: str = "127.0.0.1", port: int = 0, *,
          before_scrape: tuple[Callable[[], object], ...] = ()) -> Exporter:
    """Serves ``mm``'s metrics at ``http://host:port/metrics`` (port 0: any free port, see
    :attr:`Exporter.port`) until :meth:`Exporter.close`. Every scrape runs ``before_scrape``,
    then reads ``mm.stats()``; nothing is cached between scrapes. ``OSError`` when the port
    cannot be bound."""
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0..65535, not {port}")
    exporter = Exporter(mm, host, port, tuple(before_scrape))
    log.info("serving metrics at %s", exporter.url)
    return exporter


class ExporterStart(Protocol):
    """What a plug-in registry's ``add_exporter`` is given: :func:`start`'s signature."""

    def __call__(self, mm: _core.Matchmaker, host: str = ..., port: int = ..., *,
                 before_scrape: tuple[Callable[[], object], ...] = ...) -> Exporter: ...


class _ExporterRegistry(Protocol):
    def add_exporter(self, name: str, start: ExporterStart) -> None: ...


def register(registry: _ExporterRegistry) -> None:
    """Plug-in entry point (group ``game_data.plugins``): offers this exporter as
    ``"prometheus"``."""
    registry.add_exporter("prometheus", start)
