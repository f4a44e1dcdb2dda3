"""Status callbacks survive a receiver outage and a kill -9 of the daemon (LaML route,
real daemon, simulator, real receiver)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import requests
import yaml
from daemon.conftest import FAST_ESL, DaemonFactory
from twilio.request_validator import RequestValidator

from esl_recorder.delivery.media import UPLOAD as MEDIA_UPLOAD
from esl_recorder.settings import IdentitySettings
from esl_recorder.testing.fakeswitch import FakeSwitch

from .compat_helpers import LAML, LAML_AUTH, finish, json_of, wait_done
from .conftest import ACCOUNTS, ACME_LAML, Api
from .receiver import Received, Receiver

DRIVER = Path(__file__).with_name("delivery_driver.py")
DELIVERY = {"initial_delay": 0.05, "max_delay": 0.2, "allowed_networks": ["127.0.0.0/8"]}
EVENTS = "in-progress completed"


def signed_by_acme(got: Received) -> bool:
    return RequestValidator(ACME_LAML[1]).validate(got.url, got.form,
                                                   got.headers["X-Twilio-Signature"])


def statuses_by_recording(got: list[Received]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for g in got:
        out.setdefault(g.form["RecordingSid"], []).append(g.form["RecordingStatus"])
    return out


def test_a_receiver_down_for_a_while_then_back_gets_every_callback(
        api: Api, receiver: Receiver) -> None:
    failed: set[str] = set()
    api.daemon.app.outbox.subscribe(lambda item, result: result == "retry"
                                    and failed.add(item.key))
    receiver.stop()  # connections to its port are refused from now on
    uuids = [api.call() for _ in range(3)]
    sids = [json_of(api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json",
                                headers=LAML_AUTH,
                                data={"RecordingStatusCallback": receiver.url("/cb"),
                                      "RecordingStatusCallbackEvent": EVENTS}), 200)["sid"]
            for uuid in uuids]
    for uuid, sid in zip(uuids, sids, strict=True):
        finish(api, uuid, 1.0)
        wait_done(api, sid)  # both callbacks of each are queued
    # each recording's first callback is refused (its second waits behind it, in order)
    api.daemon.wait_until(lambda: failed == set(sids), what="callbacks refused")
    receiver.start()
    got = receiver.wait(6)
    assert statuses_by_recording(got) == {sid: ["in-progress", "completed"] for sid in sids}
    assert all(signed_by_acme(g) for g in got)
    metric = api.daemon.app.prometheus.get_sample_value
    api.daemon.wait_until(lambda: metric("esl_recorder_callbacks_pending") == 0,
                          what="nothing pending")
    assert metric("esl_recorder_callback_attempts_total", {"result": "delivered"}) == 6
    assert metric("esl_recorder_callback_attempts_total", {"result": "retry"}) >= 3
    assert metric("esl_recorder_callbacks_dead") == 0


class Driver:
    """The daemon in another process, and the JSON lines it writes (delivery_driver.py)."""

    def __init__(self, config: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, str(DRIVER), str(config)],
                                     stdout=subprocess.PIPE, text=True)

    def expect(self, predicate: Callable[[dict[str, Any]], bool], what: str,
               timeout: float = 20.0) -> dict[str, Any]:
        assert self.proc.stdout is not None
        with gevent.Timeout(timeout, AssertionError(f"driver: no {what}")):
            while True:
                line = self.proc.stdout.readline()
                assert line, f"driver exited ({self.proc.poll()}) before {what}"
                message: dict[str, Any] = json.loads(line)
                if predicate(message):
                    return message

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        assert self.proc.returncode == -signal.SIGKILL


@pytest.fixture
def driver(switch: FakeSwitch, tmp_path: Path, store_section: dict[str, Any],
           media_section: dict[str, Any]) -> Iterator[Callable[[], Driver]]:
    """Start the daemon process on the same store and recordings a daemon_factory daemon
    of this test uses."""
    config = tmp_path / "esl_recorder.yaml"
    config.write_text(yaml.safe_dump({
        "nodes": [{"name": "fs1", "host": switch.address[0], "port": switch.address[1],
                   "password": "ClueCon"}],
        "recording": {"root": str(tmp_path / "recordings")},
        "store": store_section, "media": media_section,
        "http": {"port": 0}, "esl": FAST_ESL, "delivery": DELIVERY, "accounts": ACCOUNTS,
    }))
    started: list[Driver] = []

    def start() -> Driver:
        started.append(Driver(config))
        return started[-1]

    yield start
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(timeout=10)


def test_callbacks_pending_at_a_kill_9_are_delivered_after_the_restart(
        switch: FakeSwitch, driver: Callable[[], Driver], daemon_factory: DaemonFactory,
        receiver: Receiver) -> None:
    receiver.stop()
    first = driver()
    port = first.expect(lambda m: "port" in m, "HTTP port")["port"]
    uuid = switch.inbound_call("tone_a", {IdentitySettings().account_variable: "acme"},
                               answered=True)
    first.expect(lambda m: m.get("call") == uuid and m["answered"], "answered call")
    created = requests.post(f"http://127.0.0.1:{port}{LAML}/Calls/{uuid}/Recordings.json",
                            headers=LAML_AUTH, timeout=10,
                            data={"RecordingStatusCallback": receiver.url("/cb?n=1"),
                                  "RecordingStatusCallbackEvent": EVENTS})
    sid = json_of(created, 200)["sid"]
    switch.advance(1.0)
    switch.hangup(uuid)
    seen: set[str] = set()

    def refused_and_completed(m: dict[str, Any]) -> bool:
        if m.get("outbox") == "retry" and m["key"] == sid:
            seen.add("in-progress refused")  # the completed one waits behind it
        if m.get("recording") == sid and m["state"] == "completed":
            seen.add("completed queued")
        return len(seen) == 2

    first.expect(refused_and_completed, "a refused callback and the completed one queued")
    first.kill9()  # both callbacks are in the store, undelivered

    receiver.start()
    daemon = daemon_factory(accounts=ACCOUNTS, delivery=DELIVERY)
    got = receiver.wait(2, timeout=10)
    assert statuses_by_recording(got) == {sid: ["in-progress", "completed"]}
    assert all(g.query == "n=1" and signed_by_acme(g) for g in got)
    assert got[1].form["RecordingDuration"] == "1"
    metric = daemon.app.prometheus.get_sample_value
    daemon.wait_until(lambda: metric("esl_recorder_callbacks_pending") == 0,
                      what="nothing pending after the restart")
    progress, completed = [i for i in daemon.app.outbox.items("delivered")
                           if i.kind != MEDIA_UPLOAD]
    assert (progress.key, completed.key) == (sid, sid)
    assert progress.attempts >= 2 and completed.attempts == 1  # the second waited in order
