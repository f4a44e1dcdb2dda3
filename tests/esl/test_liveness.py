"""Liveness: a node that says nothing is declared dead within esl.liveness_timeout, dropped,
reconnected and resynced; an idle node is probed with `api status`; HEARTBEAT keeps a quiet
node alive without probes. Against MiniSwitch and the simulator made silent."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from esl_support import EVENTS, ClientFactory, MiniSwitch, Recorder, sample

from esl_recorder.esl.client import EslClient
from esl_recorder.testing.fakeswitch import FakeSwitch
from esl_recorder.testing.transcripts import read_blocks, wire_dir

LIVENESS = 1.0  # seconds; the default is 30


@pytest.fixture
def fs(tmp_path: Path) -> Iterator[FakeSwitch]:
    switch = FakeSwitch(recordings_root=str(tmp_path), heartbeat_interval=None)
    switch.start()
    yield switch
    switch.stop()


def _up(make_client: ClientFactory, address: tuple[str, int], recorder: Recorder,
        **kw: Any) -> EslClient:
    kw.setdefault("liveness_timeout", LIVENESS)
    client = make_client(address, **kw)
    client.start()
    assert client.wait_connected(5)
    recorder.wait(lambda: recorder.count("connect") == 1)
    return client


def _wait_unready(client: EslClient, recorder: Recorder, within: float) -> float:
    """Seconds from now until the client reported the node gone (fails after `within`)."""
    started = gevent.get_hub().loop.now()
    recorder.wait(lambda: recorder.count("disconnect") == 1, timeout=within)
    assert not client.connected
    return gevent.get_hub().loop.now() - started


def test_silent_switch_is_declared_dead_then_back_when_it_answers(
        make_client: ClientFactory, fs: FakeSwitch, recorder: Recorder, metrics: Any,
        esl_caplog: pytest.LogCaptureFixture) -> None:
    client = _up(make_client, fs.address, recorder)
    assert (client.silent_for or 0.0) < LIVENESS
    fs.go_silent()  # TCP stays open; nothing written, nothing answered
    _wait_unready(client, recorder, within=LIVENESS + 1.0)
    assert sample(metrics, "esl_connected", node="fs1") == 0
    assert client.silent_for is None
    dead = [r.getMessage() for r in esl_caplog.records if "declaring it dead" in r.getMessage()]
    assert len(dead) == 1 and "fs1" in dead[0] and r"liveness_timeout 1 s" in dead[0]
    assert not client.wait_connected(0.3)  # the switch still hangs: no way back in
    fs.speak_again()
    assert client.wait_connected(5)
    recorder.wait(lambda: recorder.count("connect") == 2)  # on_connect again: the resync
    assert recorder.log[:3] == ["connect", "disconnect", "connect"]
    assert sample(metrics, "esl_connected", node="fs1") == 1
    assert sample(metrics, "esl_reconnects", node="fs1") >= 1
    uuid = fs.originate()
    recorder.wait(lambda: any(e.unique_id == uuid for e in recorder.events))


def test_peer_that_reads_but_never_answers_is_probed_then_dropped(
        make_client: ClientFactory, mini: MiniSwitch, recorder: Recorder) -> None:
    client = _up(make_client, mini.address, recorder)
    mini.silent = True
    mini.wait_for_command(lambda c: c == "api status", timeout=LIVENESS)  # the probe
    _wait_unready(client, recorder, within=LIVENESS + 1.0)


def test_idle_but_healthy_node_is_probed_and_kept(
        make_client: ClientFactory, mini: MiniSwitch, recorder: Recorder) -> None:
    client = _up(make_client, mini.address, recorder)
    # no event for several liveness periods: each probe's answer keeps the node alive
    mini.wait_until(lambda: mini.commands.count("api status") >= 6, timeout=4 * LIVENESS)
    assert client.connected
    assert recorder.log == ["connect"]


def test_heartbeats_keep_a_quiet_node_alive_without_probes(
        make_client: ClientFactory, tmp_path: Path, recorder: Recorder, metrics: Any) -> None:
    with FakeSwitch(recordings_root=str(tmp_path), heartbeat_interval=0.05) as switch:
        # a probe would go out after a second without a byte: heartbeats come 20 times as often
        client = _up(make_client, switch.address, recorder, events=(*EVENTS, "HEARTBEAT"),
                     liveness_timeout=3.0)
        recorder.wait(lambda: recorder.count("event:HEARTBEAT") >= 40, timeout=10)
        assert client.connected and recorder.log.count("connect") == 1
        assert "status" not in switch.commands  # HEARTBEAT was enough: never probed
    assert sample(metrics, "esl_events", event="HEARTBEAT") >= 40


def test_simulated_heartbeat_is_the_captured_one(fs: FakeSwitch) -> None:
    captured = next(b.payload for b in read_blocks(wire_dir() / "heartbeat.txt")
                    if b.kind == "RECV" and b"Event-Name: HEARTBEAT" in b.payload)
    body = captured.split(b"\n\n", 1)[1].decode()
    names = [line.split(": ", 1)[0] for line in body.splitlines() if line]
    event = fs.core.heartbeat()
    assert [name for name, _ in event.headers] == names
    assert event.get("Event-Info") == "System Ready"
    assert event.get("Event-Calling-Function") == "send_heartbeat"
    assert event.get("Core-UUID") == fs.core.core_uuid
    assert (event.get("Up-Time") or "").startswith("0 years, 0 days, 0 hours, 0 minutes, ")
    assert (event.get("Uptime-msec") or "").isdigit()


def test_event_metrics_last_event_time_and_lag(
        make_client: ClientFactory, fs: FakeSwitch, recorder: Recorder, metrics: Any) -> None:
    _up(make_client, fs.address, recorder)
    before = gevent.get_hub().loop.now()
    wall = time.time()
    uuid = fs.originate()
    recorder.wait(lambda: any(e.unique_id == uuid for e in recorder.events))
    assert sample(metrics, "esl_last_event_timestamp", node="fs1") >= wall - 1
    lag = {s.name.rsplit("_", 1)[-1]: s.value for family in metrics.esl_event_lag.collect()
           for s in family.samples if s.labels == {"node": "fs1"}}
    assert lag["count"] >= 1
    assert 0 <= lag["sum"] / lag["count"] < gevent.get_hub().loop.now() - before + 1


def test_dead_node_log_and_reason_without_events_subscribed(
        make_client: ClientFactory, fs: FakeSwitch, recorder: Recorder,
        esl_caplog: pytest.LogCaptureFixture) -> None:
    client = _up(make_client, fs.address, recorder, events=())
    fs.go_silent()
    _wait_unready(client, recorder, within=LIVENESS + 1.0)
    assert client.last_error is not None and "silent for" in client.last_error
    assert any(r.levelno == logging.WARNING and "fs1" in r.getMessage()
               and "silent for" in r.getMessage() for r in esl_caplog.records)
