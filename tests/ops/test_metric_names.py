"""Every metric the alert rules and the Grafana dashboard name is one the daemon exports, with
the labels they match on or group by: a renamed metric or label breaks this test, not a page
at 3 a.m."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from esl_recorder.metrics import make_metrics

from .ops_files import alert_expressions, dashboard_expressions
from .promql import parse

# Labels Prometheus adds to every scraped series; not the daemon's to declare.
TARGET_LABELS = {"instance", "job"}

# Named by issue 14 for the alerts and the dashboard; metrics.py does not export them yet.
NOT_YET_EXPORTED: set[str] = set()

SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}


def _metric_objects(metrics: Any) -> Iterable[Any]:
    if dataclasses.is_dataclass(metrics):
        return [getattr(metrics, f.name) for f in dataclasses.fields(metrics)]
    return list(vars(metrics).values())


def _family_names(obj: Any) -> list[str]:
    families = obj.describe() if hasattr(obj, "describe") else list(obj.collect())
    return [family.name for family in families]


def exported() -> tuple[dict[str, str], dict[str, set[str]]]:
    """(series name -> family name, family name -> label names) of the daemon's registry,
    built as the daemon builds it."""
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    series: dict[str, str] = {}
    labels: dict[str, set[str]] = {}
    for family in registry.collect():
        for suffix in SAMPLE_SUFFIXES[family.type]:
            series[family.name + suffix] = family.name
        labels[family.name] = {name for s in family.samples for name in s.labels} - {"le"}
    # A labelled metric with no child yet has no samples to show its label names:
    # prometheus_client keeps them in _labelnames; a one-label custom collector in .label.
    for obj in _metric_objects(metrics):
        names = getattr(obj, "_labelnames", None)
        if names is None and isinstance(getattr(obj, "label", None), str):
            names = (obj.label,)
        for family in _family_names(obj):
            labels.setdefault(family, set()).update(names or ())
    return series, labels


def references() -> dict[str, dict[str, Any]]:
    """series name -> the label names used with it and where it is used."""
    refs: dict[str, dict[str, Any]] = {}
    for where, expr in [*alert_expressions(), *dashboard_expressions()]:
        query = parse(expr)
        grouping = query.grouping - query.made_labels
        for name, matched in query.matchers.items():
            ref = refs.setdefault(name, {"labels": set(), "where": []})
            ref["labels"] |= matched | grouping
            ref["where"].append(where)
    return refs


REFS = references()
SERIES, LABELS = exported()


def test_the_rules_and_the_dashboard_name_metrics() -> None:
    assert len(REFS) >= 20
    assert set(REFS) >= NOT_YET_EXPORTED, "a not-yet-exported metric is no longer used"


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason="metric not yet exported"))
    if name in NOT_YET_EXPORTED else name
    for name in sorted(REFS)
])
def test_metric_exists_with_the_labels_used(name: str) -> None:
    ref = REFS[name]
    family = SERIES.get(name)
    assert family is not None, f"{name} (used in {ref['where']}) is not exported"
    used = ref["labels"] - TARGET_LABELS - ({"le"} if name.endswith("_bucket") else set())
    missing = used - LABELS[family]
    assert not missing, (f"{name} has no label {sorted(missing)} (it has {sorted(LABELS[family])});"
                         f" used in {ref['where']}")
