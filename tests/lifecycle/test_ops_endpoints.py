"""/metrics, /healthz and /readyz over a real port: prometheus-client's exposition with
content negotiation, the build info, the outbox age computed at scrape time, the optional
metrics port."""

from __future__ import annotations

import platform
import socket
from collections.abc import Callable
from typing import Any

import requests
from api.conftest import ACCOUNTS, ACME_LAML
from daemon.conftest import Daemon, DaemonFactory
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from esl_recorder import __version__
from esl_recorder.app import build_app
from esl_recorder.domain.recording import State
from esl_recorder.testing.fakeswitch import FakeSwitch

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def base(daemon: Daemon) -> str:
    assert daemon.app.http is not None
    return f"http://127.0.0.1:{daemon.app.http.server_port}"


def test_metrics_are_openmetrics_when_asked_and_text_otherwise(daemon: Daemon) -> None:
    text = requests.get(f"{base(daemon)}/metrics", timeout=5)
    assert text.status_code == 200
    assert text.headers["Content-Type"].startswith("text/plain")
    assert not text.text.rstrip().endswith("# EOF")
    om = requests.get(f"{base(daemon)}/metrics", timeout=5,
                      headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.status_code == 200
    assert om.headers["Content-Type"].startswith(OPENMETRICS)
    assert om.text.endswith("# EOF\n")
    assert "esl_recorder_recordings_active" in om.text


def test_build_info_names_the_version_and_python(daemon: Daemon) -> None:
    text = requests.get(f"{base(daemon)}/metrics", timeout=5).text
    info = {s.name: s for f in text_string_to_metric_families(text) for s in f.samples}
    sample = info["esl_recorder_build_info"]
    assert sample.labels == {"version": __version__, "python": platform.python_version()}
    assert sample.value == 1


def test_outbox_oldest_pending_age_is_read_from_the_store_at_scrape_time(
        tmp_settings: Callable[..., Any]) -> None:
    now = [1000.0]
    app = build_app(tmp_settings(), clock=lambda: now[0])
    try:
        def age() -> float:
            text = generate_latest(app.prometheus).decode()
            return next(s.value for f in text_string_to_metric_families(text)
                        for s in f.samples
                        if s.name == "esl_recorder_outbox_oldest_pending_age_seconds")

        assert age() == 0
        app.store.enqueue("callback", "k1", "http://127.0.0.1:9", {}, now=900.0)
        app.store.enqueue("callback", "k2", "http://127.0.0.1:9", {}, now=990.0)
        assert age() == 100
        now[0] = 1060.0
        assert age() == 160
    finally:
        app.store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_metrics_port_serves_the_ops_paths_only(daemon_factory: DaemonFactory) -> None:
    port = free_port()
    daemon = daemon_factory(http={"metrics_port": port})
    assert daemon.app.clients["fs1"].wait_connected(5)
    ops = f"http://127.0.0.1:{port}"
    assert "esl_recorder_build_info" in requests.get(f"{ops}/metrics", timeout=5).text
    assert requests.get(f"{ops}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{ops}/readyz", timeout=5).status_code == 200
    assert requests.get(f"{ops}/openapi.json", timeout=5).status_code == 404
    assert requests.get(f"{base(daemon)}/metrics", timeout=5).status_code == 200


def test_recordings_are_counted_by_the_dialect_that_asked(daemon_factory: DaemonFactory,
                                                           switch: FakeSwitch) -> None:
    daemon = daemon_factory(accounts=ACCOUNTS)
    assert daemon.app.clients["fs1"].wait_connected(5)
    uuid = switch.inbound_call("tone_a", {"esl_recorder_account_id": "acme"}, answered=True)
    daemon.wait_call(uuid)
    created = requests.post(
        f"{base(daemon)}/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}/Calls/{uuid}/"
        "Recordings.json", auth=ACME_LAML, timeout=5)
    assert created.status_code == 200, created.text
    switch.advance(1.0)
    switch.hangup(uuid)
    daemon.wait_state(created.json()["sid"], State.COMPLETED)

    def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = requests.get(f"{base(daemon)}/metrics", timeout=5).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for f in text_string_to_metric_families(text) for s in f.samples}

    def finished(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]
                 ) -> list[tuple[str, str, float]]:
        return [(dict(labels)["dialect"], dict(labels)["state"], value)
                for (name, labels), value in samples.items()
                if name == "esl_recorder_recordings_finished_total" and value]

    # Counted once its final state is committed: the state in memory comes first (a
    # PostgreSQL commit lets other greenlets, this test's included, run meanwhile)
    def counted() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
        samples = scrape()
        return samples if finished(samples) else None

    samples = daemon.wait_until(counted, what="the finished recording to be counted")
    started = ("esl_recorder_recordings_started_total",
               (("dialect", "laml"), ("format", "wav")))
    assert samples[started] == 1
    assert finished(samples) == [("laml", "completed", 1)]
