"""EslClient over a real socket against MiniSwitch (tests/esl/conftest.py)."""

from __future__ import annotations

import logging
import random
from typing import Any

import gevent
import gevent.event
import pytest
from esl_support import (
    EVENTS,
    GOODBYE,
    ClientFactory,
    MiniSwitch,
    Recorder,
    SignallingRandom,
    api_response,
    sample,
)
from gevent.server import StreamServer

from esl_recorder.errors import EslDisconnected, EslTimeout, InvalidArgument
from esl_recorder.esl.client import EslClient
from esl_recorder.esl.frames import Event
from esl_recorder.settings import EslSettings, NodeSettings


def _connected(make_client: ClientFactory, mini: MiniSwitch, **kw: Any) -> EslClient:
    client = make_client(mini.address, **kw)
    client.start()
    assert client.wait_connected(5)
    return client


def test_connect_auth_subscribe(make_client: ClientFactory, mini: MiniSwitch,
                                recorder: Recorder, metrics: Any) -> None:
    client = _connected(make_client, mini)
    assert mini.commands[:2] == ["auth ClueCon", "event plain " + " ".join(EVENTS)]
    recorder.wait(lambda: recorder.count("connect") == 1)
    assert client.connected and client.last_error is None and client.node_name == "fs1"
    assert sample(metrics, "esl_connected", node="fs1") == 1


def test_api_round_trip_and_err_not_interpreted(make_client: ClientFactory,
                                                mini: MiniSwitch) -> None:
    mini.api_answers["uuid_exists x"] = "false"
    mini.api_answers["uuid_kill nope"] = "-ERR No such channel!\n"
    client = _connected(make_client, mini)
    assert client.api("uuid_exists x") == "false"
    assert client.api("uuid_kill nope") == "-ERR No such channel!\n"
    assert client.command("filter Event-Name") == "-ERR command not found"


def test_many_concurrent_api_calls_matched_fifo(make_client: ClientFactory,
                                                mini: MiniSwitch) -> None:
    for i in range(50):
        mini.api_answers[f"echo {i}"] = f"{i}\n"
    client = _connected(make_client, mini)
    jobs = [gevent.spawn(client.api, f"echo {i}") for i in range(50)]
    gevent.joinall(jobs, timeout=5, raise_error=True)
    assert [j.value for j in jobs] == [f"{i}\n" for i in range(50)]


def test_bgapi_returns_own_job_body(make_client: ClientFactory, mini: MiniSwitch,
                                    recorder: Recorder) -> None:
    mini.api_answers["originate loopback/x"] = "+OK 09d4d763\n"
    client = _connected(make_client, mini)
    assert client.bgapi("originate loopback/x", job_uuid="job-1") == "+OK 09d4d763\n"
    sent = mini.wait_for_command(lambda c: c.startswith("bgapi "))
    assert sent == "bgapi originate loopback/x\nJob-UUID: job-1"
    body = client.bgapi("uuid_kill nope")  # client-chosen uuid4
    assert body == "+OK done\n"
    assert mini.commands[-1].split("Job-UUID: ")[1].count("-") == 4
    recorder.wait(lambda: recorder.count("event:BACKGROUND_JOB") == 4)  # handlers see all


def test_bgapi_requires_background_job_subscription(make_client: ClientFactory,
                                                    mini: MiniSwitch) -> None:
    client = _connected(make_client, mini, events=("RECORD_STOP",))
    with pytest.raises(RuntimeError):
        client.bgapi("status")


def test_commands_must_be_one_line(make_client: ClientFactory, mini: MiniSwitch) -> None:
    client = _connected(make_client, mini)
    with pytest.raises(InvalidArgument):
        client.api("status\n\nevent plain ALL")
    with pytest.raises(InvalidArgument):
        client.bgapi("status", job_uuid="a b")


def test_api_when_not_connected_fails_at_once(make_client: ClientFactory) -> None:
    client = make_client(("127.0.0.1", 1))
    with pytest.raises(EslDisconnected):
        client.api("status")


def test_command_timeout_against_silent_server(make_client: ClientFactory, mini: MiniSwitch,
                                               recorder: Recorder) -> None:
    client = _connected(make_client, mini)
    mini.silent = True
    with pytest.raises(EslTimeout):
        client.api("status", timeout=0.2)
    with pytest.raises(EslTimeout):
        client.bgapi("status", timeout=0.2)
    assert client.connected  # a late reply would still land in its own FIFO slot


def test_late_reply_goes_to_the_timed_out_slot(make_client: ClientFactory,
                                               mini: MiniSwitch) -> None:
    client = _connected(make_client, mini)
    mini.silent = True
    with pytest.raises(EslTimeout):
        client.api("first", timeout=0.1)
    mini.silent = False
    sock = mini._subscribed[0]
    sock.sendall(api_response("late answer to first\n"))
    mini.api_answers["second"] = "second\n"
    assert client.api("second") == "second\n"


def test_pending_command_fails_on_drop_and_client_reconnects(
        make_client: ClientFactory, mini: MiniSwitch, recorder: Recorder, metrics: Any) -> None:
    client = _connected(make_client, mini)
    mini.silent = True
    pending = gevent.spawn(client.api, "status", 30)
    mini.wait_for_command(lambda c: c == "api status")
    mini.silent = False
    started = gevent.get_hub().loop.now()
    mini.drop_connections()
    with pytest.raises(EslDisconnected):
        pending.get(timeout=5)
    assert gevent.get_hub().loop.now() - started < 1
    recorder.wait(lambda: recorder.log.count("connect") == 2)
    assert recorder.log == ["connect", "disconnect", "connect"]
    assert client.wait_connected(5)
    mini.emit({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "after-reconnect"})
    recorder.wait(lambda: any(e.unique_id == "after-reconnect" for e in recorder.events))
    assert sample(metrics, "esl_reconnects", node="fs1") >= 1


def test_disconnect_notice_triggers_reconnect(make_client: ClientFactory, mini: MiniSwitch,
                                              recorder: Recorder) -> None:
    _connected(make_client, mini)
    mini.inject_raw(GOODBYE)
    recorder.wait(lambda: recorder.count("connect") == 2)
    assert mini.commands.count("auth ClueCon") == 2


def test_linger_notice_keeps_connection(make_client: ClientFactory, mini: MiniSwitch,
                                        recorder: Recorder) -> None:
    client = _connected(make_client, mini)
    mini.inject_raw(b"Content-Type: text/disconnect-notice\nContent-Disposition: linger\n"
                    b"Linger-Time: 3\nContent-Length: 0\n\n")
    mini.emit({"Event-Name": "RECORD_START", "Unique-ID": "u"})
    recorder.wait(lambda: recorder.count("event:RECORD_START") == 1)
    assert client.connected and recorder.count("connect") == 1


def test_wrong_password_logged_counted_retried_then_fixed(
        make_client: ClientFactory, mini: MiniSwitch, recorder: Recorder, metrics: Any,
        esl_caplog: pytest.LogCaptureFixture) -> None:
    mini.password = "right"
    rng = SignallingRandom()
    client = make_client(mini.address, password="wrong", rng=rng)
    client.start()
    rng.wait_draws(3)
    assert not client.connected
    assert client.last_error == f"authentication refused by {mini.address[0]}:{mini.address[1]}"
    errors = [r for r in esl_caplog.records
              if r.levelno == logging.ERROR and "authentication refused" in r.getMessage()]
    assert len(errors) == 1  # once per streak
    assert sample(metrics, "esl_auth_failures", node="fs1") >= 3
    assert all("wrong" not in r.getMessage() for r in esl_caplog.records)  # no password
    mini.password = "wrong"
    assert client.wait_connected(5)
    assert client.last_error is None
    recorder.wait(lambda: recorder.count("connect") == 1)


SECRET = "payload-never-logged"


def _dropped_and_resynced(client: EslClient, mini: MiniSwitch, recorder: Recorder,
                          metrics: Any, caplog: pytest.LogCaptureFixture, what: str) -> None:
    """The bad frame was counted and logged (node, what was wrong, never the bytes), the
    connection dropped, and the client is back with on_connect run again (the resync)."""
    recorder.wait(lambda: recorder.count("connect") == 2)
    assert recorder.log[:3] == ["connect", "disconnect", "connect"]
    assert sample(metrics, "esl_malformed_frames", node="fs1") >= 1
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
             and "malformed frame" in r.getMessage()]
    assert any("fs1" in line and what in line for line in lines), lines
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    assert client.wait_connected(5)
    mini.emit({"Event-Name": "RECORD_STOP", "Unique-ID": "after-resync"})
    recorder.wait(lambda: any(e.unique_id == "after-resync" for e in recorder.events))
    assert client.api("status") == "+OK\n"


@pytest.mark.parametrize(("frame", "what"), [
    (b"Content-Length: zz\nContent-Type: text/event-plain\n\nEvent-Name: %s\n\n",
     "Content-Length"),
    (b"Content-Length: 22\nContent-Type: text/event-json\n\n{nope %s", "unparsable event"),
    (b"Content-Type: text/event-plain\nno colon here %s\n\n", "not 'Name: value'"),
])
def test_malformed_frame_drops_the_connection_and_resyncs(
        make_client: ClientFactory, mini: MiniSwitch, recorder: Recorder, metrics: Any,
        esl_caplog: pytest.LogCaptureFixture, frame: bytes, what: str) -> None:
    client = _connected(make_client, mini)
    recorder.wait(lambda: recorder.count("connect") == 1)
    mini.inject_raw(frame % SECRET.encode())
    _dropped_and_resynced(client, mini, recorder, metrics, esl_caplog, what)


def test_oversized_content_length_is_refused_before_buffering(
        make_client: ClientFactory, mini: MiniSwitch, recorder: Recorder, metrics: Any,
        esl_caplog: pytest.LogCaptureFixture) -> None:
    """An event announcing 300,000,000 bytes used to be waited for: every later event was
    swallowed, memory grew with the bytes sent, nothing was logged or counted."""
    client = _connected(make_client, mini)
    recorder.wait(lambda: recorder.count("connect") == 1)
    mini.inject_raw(b"Content-Length: 300000000\nContent-Type: text/event-plain\n\n"
                    b"Event-Name: CHANNEL_CREATE\nUnique-ID: " + SECRET.encode() + b"\n")
    _dropped_and_resynced(client, mini, recorder, metrics, esl_caplog, "Content-Length")
    assert not any(e.unique_id == SECRET for e in recorder.events)


def test_slow_handler_does_not_delay_replies(make_client: ClientFactory, mini: MiniSwitch,
                                             metrics: Any, recorder: Recorder) -> None:
    release = gevent.event.Event()
    entered = gevent.event.Event()
    seen: list[str] = []

    def slow(client: EslClient, event: Event) -> None:
        entered.set()
        seen.append(event.name)
        release.wait(10)
        recorder.on_event(client, event)

    client = _connected(make_client, mini, on_event=slow)
    for _ in range(5):
        mini.emit({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "u"})
    assert entered.wait(5)
    with gevent.Timeout(2):
        assert client.api("status") == "+OK\n"
        assert client.bgapi("status") == "+OK done\n"
    assert client.queue_depth >= 4
    assert sample(metrics, "esl_event_queue_depth", node="fs1") >= 4
    release.set()
    recorder.wait(lambda: recorder.count("event:CHANNEL_CREATE") == 5)
    assert seen[:5] == ["CHANNEL_CREATE"] * 5


def test_handler_exception_logged_and_loop_survives(
        make_client: ClientFactory, mini: MiniSwitch, recorder: Recorder,
        esl_caplog: pytest.LogCaptureFixture) -> None:
    def flaky(client: EslClient, event: Event) -> None:
        if event.unique_id == "bad":
            raise ValueError("handler bug")
        recorder.on_event(client, event)

    _connected(make_client, mini, on_event=flaky)
    mini.emit({"Event-Name": "RECORD_START", "Unique-ID": "bad"})
    mini.emit({"Event-Name": "RECORD_STOP", "Unique-ID": "good"})
    recorder.wait(lambda: recorder.count("event:RECORD_STOP") == 1)
    failed = [r for r in esl_caplog.records if "on_event failed" in r.getMessage()]
    assert failed and "RECORD_START" in failed[0].getMessage()
    assert "bad" in failed[0].getMessage() and failed[0].exc_info


def test_on_connect_runs_before_events_and_can_call_api(
        make_client: ClientFactory, mini: MiniSwitch, recorder: Recorder) -> None:
    order: list[str] = []
    mini.api_answers["show channels as json"] = '{"row_count": 0}'

    def on_connect(client: EslClient) -> None:
        order.append("connect:" + client.api("show channels as json"))

    def on_event(client: EslClient, event: Event) -> None:
        order.append(event.name)
        recorder.on_event(client, event)

    _connected(make_client, mini, on_connect=on_connect, on_event=on_event)
    mini.emit({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "u"})
    recorder.wait(lambda: len(order) == 2)
    assert order == ['connect:{"row_count": 0}', "CHANNEL_CREATE"]


def test_stop_sends_exit_and_fails_pending(make_client: ClientFactory, mini: MiniSwitch,
                                           recorder: Recorder) -> None:
    client = _connected(make_client, mini)
    client.stop()
    assert "exit" in mini.commands
    assert not client.connected
    with pytest.raises(EslDisconnected):
        client.api("status")


def test_backoff_is_capped_full_jitter() -> None:
    esl = EslSettings(reconnect_initial_delay=0.5, reconnect_max_delay=30.0)
    client = EslClient(NodeSettings(name="n", host="127.0.0.1", port=1), esl, events=(),
                       on_event=lambda c, e: None, rng=random.Random(1))
    delays = [[client._backoff(n) for _ in range(200)] for n in range(12)]
    for n, ds in enumerate(delays):
        cap = min(30.0, 0.5 * 2 ** n)
        assert all(0 <= d <= cap for d in ds)
        assert max(ds) > cap * 0.8  # really jittered across the range
    assert max(delays[-1]) <= 30.0


def test_connect_refused_sets_last_error_and_retries(make_client: ClientFactory,
                                                     metrics: Any) -> None:
    server = StreamServer(("127.0.0.1", 0), lambda s, a: None)
    server.init_socket()
    port = server.address[1]
    server.close()  # nothing listens there now
    rng = SignallingRandom()
    client = make_client(("127.0.0.1", port), rng=rng)
    client.start()
    rng.wait_draws(3)
    assert sample(metrics, "esl_reconnects", node="fs1") >= 2
    assert client.last_error is not None and "cannot connect" in client.last_error


def test_server_that_never_sends_auth_request(make_client: ClientFactory) -> None:
    server = StreamServer(("127.0.0.1", 0), lambda s, a: gevent.sleep(10))
    server.start()
    try:
        rng = SignallingRandom()
        client = make_client(server.address[:2], connect_timeout=0.2, rng=rng)
        client.start()
        rng.wait_draws(1)
        assert "no auth/request" in client.last_error
    finally:
        server.stop(timeout=0)


def test_acl_rejection_reported(make_client: ClientFactory) -> None:
    def reject(sock: Any, addr: Any) -> None:
        body = b"Access Denied, go away.\n"
        sock.sendall(b"Content-Type: text/rude-rejection\nContent-Length: %d\n\n" % len(body)
                     + body + GOODBYE)
        sock.close()

    server = StreamServer(("127.0.0.1", 0), reject)
    server.start()
    try:
        rng = SignallingRandom()
        client = make_client(server.address[:2], rng=rng)
        client.start()
        rng.wait_draws(2)
        assert client.last_error is not None and "ACL" in client.last_error
        assert not client.connected
    finally:
        server.stop(timeout=0)


def test_stop_from_inside_a_handler(make_client: ClientFactory, mini: MiniSwitch,
                                    recorder: Recorder) -> None:
    done = gevent.event.Event()

    def stopper(client: EslClient, event: Event) -> None:
        client.stop()
        done.set()

    client = _connected(make_client, mini, on_event=stopper)
    mini.emit({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "u"})
    assert done.wait(5)
    assert not client.connected and "exit" in mini.commands
