"""A real Prometheus scrapes the daemon (against the simulator, and started by its CLI against
the live FreeSWITCH), loads the alert rules, and its query API shows the recording the test
made as completed."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gevent
import pytest
import requests
import yaml
from api.compat_helpers import LAML, LAML_AUTH, json_of, wait_done
from api.conftest import Api, api  # noqa: F401
from daemon.conftest import daemon_factory, switch  # noqa: F401
from integration.conftest import FreeSwitchAddress, freeswitch  # noqa: F401 (fixture)
from integration.live import LAML as LIVE_LAML
from integration.live import LAML_AUTH as LIVE_LAML_AUTH
from integration.live import DaemonProcess, Esl, eventually
from store_backends import Backends

from esl_recorder.domain.recording import State

from .ops_files import rule_files, tool

T = TypeVar("T")
DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Prometheus:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def until(self, what: str, probe: Callable[[], T | None]) -> T:
        """Poll `probe` until it returns a value; between polls, wait on the process (so a
        Prometheus that exits fails the test at once, with its log)."""
        deadline = time.monotonic() + DEADLINE
        while True:
            result = probe()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; log:\n{self.tail()}")
            try:
                code = self.process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"prometheus exited with {code}; log:\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def get(self, path: str, **params: str) -> Any:
        try:
            r = requests.get(self.url + path, params=params, timeout=5)
        except requests.ConnectionError:
            return None
        return r.json() if r.status_code == 200 else None

    def query(self, promql: str) -> list[dict[str, Any]]:
        doc = self.get("/api/v1/query", query=promql)
        assert doc is None or doc["status"] == "success", doc
        return [] if doc is None else doc["data"]["result"]


@contextlib.contextmanager
def running_prometheus(target: str, tmp_path: Path) -> Iterator[Prometheus]:
    """A Prometheus on 127.0.0.1 scraping `target` (host:port) every second, with the rules."""
    binary = tool("prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files()],
        "scrape_configs": [{"job_name": "esl_recorder",
                            "static_configs": [{"targets": [target]}]}],
    }))
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        yield Prometheus(process, f"http://127.0.0.1:{port}", log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def prometheus(api: Api, tmp_path: Path) -> Iterator[Prometheus]:  # noqa: F811
    with running_prometheus(api.url.split("//")[1], tmp_path) as prom:
        yield prom


def completed(prom: Prometheus) -> float:
    rows = prom.query('sum(esl_recorder_recordings_finished_total{state="completed"})')
    return float(rows[0]["value"][1]) if rows else 0.0


def test_prometheus_scrapes_the_daemon_and_sees_the_completed_recording(
        api: Api, prometheus: Prometheus) -> None:  # noqa: F811
    prom = prometheus
    prom.until("the daemon's target up", lambda: prom.query('up{job="esl_recorder"} == 1'))
    prom.until("a scrape with the connected node",
               lambda: prom.query('esl_recorder_esl_connected{node="fs1"} == 1'))
    assert completed(prom) == 0.0

    uuid = api.call()
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH, data={})
    sid = json_of(r, 200)["sid"]
    api.switch.advance(2.0)
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings/{sid}.json", headers=LAML_AUTH,
                    data={"Status": "stopped"})
    json_of(r, 200)
    assert wait_done(api, sid).state is State.COMPLETED

    assert prom.until("the completed recording in Prometheus",
                      lambda: completed(prom)) == 1.0
    rows = prom.query("esl_recorder_recording_duration_seconds_count")
    assert [float(row["value"][1]) for row in rows] == [1.0]


def test_prometheus_evaluates_every_alert_rule_without_error(
        api: Api, prometheus: Prometheus) -> None:  # noqa: F811
    prom = prometheus

    def evaluated() -> list[dict[str, Any]] | None:
        doc = prom.get("/api/v1/rules")
        rules = [] if doc is None else [r for g in doc["data"]["groups"] for r in g["rules"]]
        return rules if rules and all(r["health"] != "unknown" for r in rules) else None

    rules = prom.until("every rule evaluated once", evaluated)
    assert len(rules) >= 10
    assert {r["name"]: (r["health"], r.get("lastError", "")) for r in rules} == {
        r["name"]: ("ok", "") for r in rules}


def test_prometheus_scrapes_the_daemon_on_the_live_freeswitch(
        freeswitch: FreeSwitchAddress, tmp_path: Path,  # noqa: F811
        backends: Backends) -> None:
    """The same with the daemon started by its CLI against the real FreeSWITCH and a real
    call recorded (2 s of tones) through LaML."""
    tool("prometheus")  # skip (or fail under CI) before starting anything
    (tmp_path / "daemon").mkdir()
    daemon = DaemonProcess(freeswitch, tmp_path / "daemon",
                           backends.sections(tmp_path / "daemon")).start()
    esl = Esl(freeswitch)
    try:
        with running_prometheus(daemon.url.split("//")[1], tmp_path) as prom:
            prom.until("a scrape with the connected node",
                       lambda: prom.query('esl_recorder_esl_connected{node="fs1"} == 1'))
            assert completed(prom) == 0.0
            uuid = esl.call()
            doc = daemon.create_when_tracked(f"{LIVE_LAML}/Calls/{uuid}/Recordings.json",
                                             LIVE_LAML_AUTH)
            gevent.sleep(2.0)  # audio: a real call takes real time
            esl.hangup(uuid)
            until_done = f"{LIVE_LAML}/Recordings/{doc['sid']}.json"
            eventually(lambda: daemon.request("GET", until_done, headers=LIVE_LAML_AUTH)
                       .json().get("status") == "completed", 20, "the recording to complete")
            assert prom.until("the completed recording in Prometheus",
                              lambda: completed(prom)) == 1.0
    finally:
        esl.close()
        daemon.stop()
