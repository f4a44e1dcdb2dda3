"""promtool accepts the Prometheus config and the rules, and the rules' unit tests pass;
every alert has a unit test that fires it and one that must not."""

from __future__ import annotations

import subprocess

from .ops_files import PROMETHEUS_CONFIG, RULE_TESTS, load_yaml, rule_files, tool


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_promtool_check_config() -> None:
    out = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_check_rules() -> None:
    out = promtool("check", "rules", *map(str, rule_files()))
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_test_rules() -> None:
    tests = sorted(RULE_TESTS.glob("*.yml"))
    assert tests
    out = promtool("test", "rules", *map(str, tests))
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    alerts = {rule["alert"] for path in rule_files() for group in load_yaml(path)["groups"]
              for rule in group["rules"] if "alert" in rule}
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS.glob("*.yml"):
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts - fired == set(), "alerts no unit test fires"
    assert alerts - quiet == set(), "alerts no unit test shows quiet"
