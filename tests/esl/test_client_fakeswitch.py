"""EslClient over a real socket against the FreeSWITCH simulator."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import gevent
import gevent.event
import pytest
from esl_support import EVENTS, ClientFactory, Recorder, SignallingRandom, sample

from esl_recorder.esl.client import EslClient
from esl_recorder.esl.frames import Event
from esl_recorder.testing.fakeswitch import FakeSwitch

ORIGINATE = "originate loopback/tone_b/rectest tone_a XML rectest"


@pytest.fixture
def fs(tmp_path: Any) -> Iterator[FakeSwitch]:
    switch = FakeSwitch(recordings_root=str(tmp_path))
    switch.start()
    yield switch
    switch.stop()


def _up(make_client: ClientFactory, fs: FakeSwitch, recorder: Recorder,
        **kw: Any) -> EslClient:
    client = make_client(fs.address, **kw)
    client.start()
    assert client.wait_connected(5)
    recorder.wait(lambda: recorder.count("connect") >= 1)
    return client


def _events_for(recorder: Recorder, uuid: str, name: str) -> list[Event]:
    return [e for e in recorder.events if e.name == name and e.unique_id == uuid]


def test_subscribes_to_exactly_the_named_events(make_client: ClientFactory, fs: FakeSwitch,
                                                recorder: Recorder) -> None:
    _up(make_client, fs, recorder)
    assert fs.wait_for_command("event ") == "event plain " + " ".join(EVENTS)
    assert fs.commands[0] == "auth ClueCon"


def test_api_round_trip(make_client: ClientFactory, fs: FakeSwitch,
                        recorder: Recorder) -> None:
    client = _up(make_client, fs, recorder)
    uuid = fs.originate()
    assert client.api(f"uuid_exists {uuid}") == "true"
    assert client.api("uuid_exists 00000000-0000-0000-0000-000000000000") == "false"
    assert client.api("uuid_kill 00000000-0000-0000-0000-000000000000") == \
        "-ERR No such channel!\n"
    assert client.api("show channels as json").startswith('{"row_count":')


def test_bgapi_round_trip_and_events(make_client: ClientFactory, fs: FakeSwitch,
                                     recorder: Recorder) -> None:
    client = _up(make_client, fs, recorder)
    body = client.bgapi(ORIGINATE)
    assert body.startswith("+OK ") and body.endswith("\n")
    uuid = body[4:].strip()
    recorder.wait(lambda: bool(_events_for(recorder, uuid, "CHANNEL_ANSWER")))
    jobs = [e for e in recorder.events if e.name == "BACKGROUND_JOB"]
    assert jobs and jobs[-1].body == body
    assert client.bgapi("uuid_kill nope") == "-ERR No such channel!\n"


def test_recording_events_carry_path(make_client: ClientFactory, recorder: Recorder,
                                     tmp_path: Any) -> None:
    with FakeSwitch(clock="manual", recordings_root=str(tmp_path)) as fs:
        client = _up(make_client, fs, recorder)
        uuid = fs.originate()
        path = f"{tmp_path}/x.wav"
        assert client.api(f"uuid_record {uuid} start {path}") == "+OK Success\n"
        fs.advance(1.0)
        recorder.wait(lambda: bool(_events_for(recorder, uuid, "RECORD_START")))
        assert client.api(f"uuid_record {uuid} stop {path}") == "+OK Success\n"
        recorder.wait(lambda: bool(_events_for(recorder, uuid, "RECORD_STOP")))
        stop = _events_for(recorder, uuid, "RECORD_STOP")[0]
        assert stop.get("Record-File-Path") == path
        assert stop.get("Record-Completion-Cause") == "success-maxtime"
        assert stop.get("variable_record_ms") == "1000"
        client.stop()


def test_reconnect_after_drop_resubscribes_and_events_flow(
        make_client: ClientFactory, fs: FakeSwitch, recorder: Recorder, metrics: Any) -> None:
    client = _up(make_client, fs, recorder)
    fs.drop_connections()
    recorder.wait(lambda: recorder.count("connect") == 2)
    assert recorder.log[:3] == ["connect", "disconnect", "connect"]
    assert fs.commands.count("event plain " + " ".join(EVENTS)) == 2
    assert client.wait_connected(5)
    uuid = fs.originate()
    recorder.wait(lambda: bool(_events_for(recorder, uuid, "CHANNEL_CREATE")))
    assert sample(metrics, "esl_reconnects", node="fs1") >= 1
    assert sample(metrics, "esl_connected", node="fs1") == 1


def test_exit_from_the_switch_side_reconnects(make_client: ClientFactory, fs: FakeSwitch,
                                              recorder: Recorder) -> None:
    client = _up(make_client, fs, recorder)
    assert client.command("exit") == "+OK bye"  # FreeSWITCH says goodbye and closes
    recorder.wait(lambda: recorder.count("connect") == 2)


def test_wrong_password_then_fixed(make_client: ClientFactory, fs: FakeSwitch,
                                   recorder: Recorder, metrics: Any,
                                   esl_caplog: pytest.LogCaptureFixture) -> None:
    fs.password = "s3cret-pass"
    rng = SignallingRandom()
    client = make_client(fs.address, password="ClueCon", rng=rng)
    client.start()
    rng.wait_draws(4)
    assert not client.connected
    assert client.last_error == f"authentication refused by {fs.address[0]}:{fs.address[1]}"
    refusals = [r for r in esl_caplog.records if "authentication refused" in r.getMessage()]
    assert [r.levelno for r in refusals].count(logging.ERROR) == 1
    assert sample(metrics, "esl_auth_failures", node="fs1") >= 4
    assert not any("ClueCon" in r.getMessage() for r in esl_caplog.records)
    fs.password = "ClueCon"
    assert client.wait_connected(5)
    recorder.wait(lambda: recorder.count("connect") == 1)
    assert client.last_error is None


def test_malformed_injection_drops_reconnects_and_events_continue(
        make_client: ClientFactory, fs: FakeSwitch, recorder: Recorder, metrics: Any,
        esl_caplog: pytest.LogCaptureFixture) -> None:
    client = _up(make_client, fs, recorder)
    fs.inject_raw(b"this is not ESL\n\n")
    recorder.wait(lambda: recorder.count("connect") == 2)
    assert client.wait_connected(5)
    uuid = fs.originate()
    recorder.wait(lambda: bool(_events_for(recorder, uuid, "CHANNEL_ANSWER")))
    assert sample(metrics, "esl_malformed_frames", node="fs1") == 1
    assert recorder.log[:3] == ["connect", "disconnect", "connect"]
    assert any(r.levelno == logging.WARNING and "fs1" in r.getMessage()
               and "malformed" in r.getMessage() for r in esl_caplog.records)


def test_slow_handler_does_not_delay_api(make_client: ClientFactory, fs: FakeSwitch,
                                         recorder: Recorder, metrics: Any) -> None:
    release = gevent.event.Event()
    blocked = gevent.event.Event()

    def slow(client: EslClient, event: Event) -> None:
        blocked.set()
        release.wait(10)
        recorder.on_event(client, event)

    client = _up(make_client, fs, recorder, on_event=slow)
    uuid = fs.originate()
    assert blocked.wait(5)
    with gevent.Timeout(2):
        assert client.api(f"uuid_exists {uuid}") == "true"
        assert client.bgapi(f"uuid_exists {uuid}") == "true"
    assert client.queue_depth > 0
    assert sample(metrics, "esl_event_queue_depth", node="fs1") > 0
    release.set()
    recorder.wait(lambda: bool(_events_for(recorder, uuid, "CHANNEL_ANSWER")))
    assert sum(sample(metrics, "esl_events", event=n) for n in EVENTS) >= len(recorder.events)


def test_on_connect_resync_via_api_before_events(make_client: ClientFactory, fs: FakeSwitch,
                                                 recorder: Recorder) -> None:
    existing = fs.originate()
    seen: list[str] = []

    def on_connect(client: EslClient) -> None:
        rows = client.api("show channels as json")
        seen.append("resync:" + ("has-call" if existing in rows else "empty"))
        recorder.on_connect(client)

    def on_event(client: EslClient, event: Event) -> None:
        seen.append(event.name)
        recorder.on_event(client, event)

    _up(make_client, fs, recorder, on_connect=on_connect, on_event=on_event)
    fs.hangup(existing)
    recorder.wait(lambda: bool(_events_for(recorder, existing, "CHANNEL_HANGUP_COMPLETE")))
    assert seen[0] == "resync:has-call"
    assert "CHANNEL_HANGUP_COMPLETE" in seen[1:]


def test_stop_says_exit(make_client: ClientFactory, fs: FakeSwitch, recorder: Recorder) -> None:
    client = _up(make_client, fs, recorder)
    client.stop()
    fs.wait_for_command("exit")
    assert not client.connected
