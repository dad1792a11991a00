"""The Grafana dashboard (examples/grafana/game-data.json): every metric its PromQL uses is one
the exporter serves, with the labels it groups by, and it has the panels an operator needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import game_data
from game_data import prometheus
from game_data.testing import drain

from exposition import check_exposition, scrape

DASHBOARD = Path(__file__).resolve().parents[2] / "examples" / "grafana" / "game-data.json"
METRIC = re.compile(r"\bgame_data_[a-z_]+\b")
BY = re.compile(r"\bby\s*\(([^)]*)\)")
# What an operator wants to see (issue 10), as the families that show it.
REQUIRED = {
    "events by status": "game_data_events_total",
    "set sizes": "game_data_games",
    "consumer lag": "game_data_consumer_lag",
    "consumer pending": "game_data_consumer_pending",
    "dead letters": "game_data_dead_letters_total",
    "apply latency": "game_data_apply_seconds_bucket",
    "reaped": "game_data_reaped_total",
    "reservations": "game_data_reservations_total",
}


def load() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target."""
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


@pytest.fixture(scope="module")
def served() -> dict[str, set[str]]:
    """Sample name -> label names, from a scrape of an exporter whose consumer has run."""
    mm = game_data.connect("memory://", namespace="dash")
    game = mm.create_game(creator_id="alice", capacity=2, server_id="gs-1")
    mm.publisher("gs-1").creator_joined(game.id, player_id="alice")
    consumer = mm.consumer(name="mm-1")
    drain(consumer)
    with prometheus.start(mm, before_scrape=(consumer.group_info,)) as exporter:
        families = check_exposition(scrape(exporter.url))
    out: dict[str, set[str]] = {}
    for fam in families.values():
        for name, labels, _ in fam.samples:
            out.setdefault(name, set()).update(k for k, _ in labels)
    return out


def test_the_dashboard_is_valid_grafana_json_with_unique_panel_ids():
    dashboard = load()
    assert dashboard["title"] and dashboard["uid"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all(panel["targets"] and panel["datasource"]["uid"] == "${datasource}" for panel in dashboard["panels"])
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "instance"}


def test_every_metric_the_dashboard_queries_is_exported(served):
    for title, expr in expressions(load()):
        names = METRIC.findall(expr)
        assert names, f"{title}: {expr} queries no game_data metric"
        for name in names:
            assert name in served, f"{title}: {name} is not exported"


def test_every_label_the_dashboard_groups_by_is_on_the_metrics_it_groups(served):
    for title, expr in expressions(load()):
        labels = set().union(*(served[name] for name in METRIC.findall(expr)))
        for group in BY.findall(expr):
            for label in (g.strip() for g in group.split(",")):
                assert label in labels, f"{title}: by ({label}) but {expr} has labels {labels}"


def test_the_dashboard_shows_what_an_operator_needs():
    used = {name for _, expr in expressions(load()) for name in METRIC.findall(expr)}
    for what, name in REQUIRED.items():
        assert name in used, f"no panel shows {what} ({name})"
    quantiles = [expr for _, expr in expressions(load()) if "histogram_quantile" in expr]
    assert len(quantiles) >= 2 and all("game_data_apply_seconds_bucket" in q and "le" in q for q in quantiles)
