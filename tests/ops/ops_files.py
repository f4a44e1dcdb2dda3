"""Where the operations files live, and the PromQL expressions they hold."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
PROMETHEUS = DOCKER / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS / "prometheus.yml"
RULE_TESTS = PROMETHEUS / "tests"
DASHBOARDS = DOCKER / "grafana" / "dashboards"
UNIT = ROOT / "conf" / "esl_recorder.service"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rule_files() -> list[Path]:
    """The rule files prometheus.yml loads (its globs, relative to its own directory)."""
    config = load_yaml(PROMETHEUS_CONFIG)
    return sorted(p for pattern in config.get("rule_files", [])
                  for p in PROMETHEUS_CONFIG.parent.glob(pattern))


def alert_expressions() -> Iterator[tuple[str, str]]:
    """(where, expr) for every rule in the rule files."""
    for path in rule_files():
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                yield f"{path.name}:{name}", rule["expr"]


def _panel_targets(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for panel in panels:
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield panel["title"], target["expr"]
        yield from _panel_targets(panel.get("panels", []))


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    """(where, expr) for every panel target and template-variable query of every dashboard."""
    for path in sorted(DASHBOARDS.glob("*.json")):
        doc = json.loads(path.read_text())
        for title, expr in _panel_targets(doc.get("panels", [])):
            yield f"{path.name}:{title}", expr
        for var in doc.get("templating", {}).get("list", []):
            query = var.get("query")
            expr = query.get("query") if isinstance(query, dict) else query
            if var.get("type") == "query" and expr:
                yield f"{path.name}:${var['name']}", expr


def tool(name: str) -> str:
    """The path of a Prometheus tool; skips the test when absent, fails under CI=true."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                  else None)
    if path is None:
        reason = (f"{name} is not installed (Debian package 'prometheus': "
                  "apt-get install --no-install-recommends prometheus)")
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must install it (.ci/run does)")
        pytest.skip(reason)
    return path


def check_config(env: dict[str, str], drop: tuple[str, ...] = ("ESL_RECORDER_",)
                 ) -> subprocess.CompletedProcess[str]:
    """`esl-recorder check-config` of conf/esl_recorder.yaml with `env` on top of this
    process's environment less the variables starting with `drop`; asserts it exits 0 with no
    warning."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    out = subprocess.run([sys.executable, "-m", "esl_recorder", "check-config", "-c",
                          str(ROOT / "conf" / "esl_recorder.yaml")],
                         env={**clean, **env}, capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr.lower(), out.stderr
    return out
