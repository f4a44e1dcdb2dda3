"""SIGTERM to `esl-recorder run` (a real process) during a burst of requests: the listener
closes, every request already accepted is answered, recordings keep running on FreeSWITCH,
the process exits 0 within lifecycle.grace_period; the next start reconciles them."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import gevent
import gevent.event
import pytest
import requests
import yaml
from api.conftest import ACCOUNTS, ACME_LAML, basic
from daemon.conftest import DaemonFactory, process_config

from esl_recorder.domain.recording import State
from esl_recorder.testing.fakeswitch import FakeSwitch

ROOT = Path(__file__).resolve().parents[2]
GRACE = 5.0
LAML = f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}"
AUTH = basic(*ACME_LAML)


class Process:
    def __init__(self, proc: subprocess.Popen[str], port: int, config: Path) -> None:
        self.proc = proc
        self.port = port
        self.config = config
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self._more = gevent.event.Event()
        gevent.spawn(self._read)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            self._more.set()

    def wait_line(self, pattern: str, timeout: float = 5.0) -> str:
        with gevent.Timeout(timeout, AssertionError(f"no {pattern!r} in {self.lines}")):
            while True:
                self._more.clear()
                found = next((x for x in self.lines if re.search(pattern, x)), None)
                if found:
                    return found
                self._more.wait()


@pytest.fixture
def daemon_process(switch: FakeSwitch, tmp_path: Path, store_section: dict[str, Any],
                   media_section: dict[str, Any]) -> Iterator[Process]:
    config = process_config(tmp_path, switch, store=store_section, media=media_section,
                            http={"port": 0, "access_log": False}, accounts=ACCOUNTS,
                            lifecycle={"grace_period": GRACE})
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESL_RECORDER_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "esl_recorder", "run", "-c", str(config)],
                            env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        with gevent.Timeout(20, AssertionError("the daemon did not come up")):
            while not (up := re.search(r"http on 127\.0\.0\.1:(\d+)", proc.stderr.readline())):
                pass
        daemon = Process(proc, int(up.group(1)), config)
        with gevent.Timeout(10, AssertionError("the daemon never got ready")):
            while requests.get(f"{daemon.url}/readyz", timeout=5).status_code != 200:
                gevent.sleep(0.05)
        yield daemon
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start_recording(daemon: Process, switch: FakeSwitch) -> tuple[str, str]:
    """An answered call of acme on the simulator, and a LaML recording of it."""
    uuid = switch.inbound_call("tone_a", {"esl_recorder_account_id": "acme"}, answered=True)
    url = f"{daemon.url}{LAML}/Calls/{uuid}/Recordings.json"
    with gevent.Timeout(10, AssertionError("the daemon never saw the call")):
        while (got := requests.post(url, headers={"Authorization": AUTH}, timeout=5)
               ).status_code == 404:
            gevent.sleep(0.05)  # the call's events are on their way to the daemon
    assert got.status_code == 200, got.text
    return uuid, got.json()["sid"]


def burst(url: str, answered: list[int], refused: list[str]) -> None:
    """GETs on fresh connections until the daemon stops accepting them."""
    while True:
        try:
            got = requests.get(url, headers={"Authorization": AUTH, "Connection": "close"},
                               timeout=10)
        except requests.ConnectionError as exc:
            refused.append(type(exc).__name__)
            return
        assert got.status_code < 500, got.text
        answered.append(got.status_code)


def listener_closed(port: int) -> bool:
    """Refused: closed. Reset: it closed with this connection still in its backlog (not yet
    known to be closed for the next one: ask again)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False
    return False


def test_sigterm_answers_accepted_requests_exits_0_and_the_restart_reconciles(
        daemon_process: Process, switch: FakeSwitch, daemon_factory: DaemonFactory) -> None:
    # the second call first: once the first one's recording starts, the daemon has seen both
    second = switch.inbound_call("tone_a", {"esl_recorder_account_id": "acme"}, answered=True)
    uuid, first_sid = start_recording(daemon_process, switch)
    # a request in flight when SIGTERM comes: its body is only half sent
    body = urlencode({"RecordingChannels": "dual"}).encode()
    slow = http.client.HTTPConnection("127.0.0.1", daemon_process.port, timeout=30)
    slow.putrequest("POST", f"{LAML}/Calls/{second}/Recordings.json")
    slow.putheader("Authorization", AUTH)
    slow.putheader("Content-Type", "application/x-www-form-urlencoded")
    slow.putheader("Content-Length", str(len(body)))
    slow.endheaders(body[:5])
    answered: list[int] = []
    refused: list[str] = []
    clients = [gevent.spawn(burst, f"{daemon_process.url}{LAML}/Recordings.json",
                            answered, refused) for _ in range(8)]
    with gevent.Timeout(10, AssertionError("the burst never got answers")):
        while len(answered) < 20:
            gevent.sleep(0.01)

    daemon_process.proc.send_signal(signal.SIGTERM)
    with gevent.Timeout(GRACE, AssertionError("the listener stayed open")):
        while not listener_closed(daemon_process.port):
            gevent.sleep(0.02)
    gevent.joinall(clients, timeout=GRACE, raise_error=True)
    assert len(refused) == len(clients) and set(answered) == {200}
    slow.send(body[5:])  # the rest of the accepted request, after the listener closed
    reply = slow.getresponse()
    assert reply.status == 200, reply.read()
    second_sid = _json(reply.read())["sid"]
    assert daemon_process.proc.wait(timeout=GRACE + 1) == 0

    running = {r.path for r in switch.recordings}
    assert len(running) == 2, "recordings must keep running on FreeSWITCH"
    daemon = daemon_factory(accounts=ACCOUNTS)
    assert daemon.app.clients["fs1"].wait_connected(5)
    for sid in (first_sid, second_sid):
        rec = daemon.wait_state(sid, State.IN_PROGRESS)
        assert rec.path in running
    switch.advance(1.0)
    switch.hangup(uuid)
    daemon.wait_state(first_sid, State.COMPLETED)


def test_sighup_reloads_the_log_level_and_keeps_serving(daemon_process: Process) -> None:
    config = yaml.safe_load(daemon_process.config.read_text())
    daemon_process.config.write_text(yaml.safe_dump({**config, "log": {"level": "DEBUG"}}))
    daemon_process.proc.send_signal(signal.SIGHUP)
    daemon_process.wait_line(r"reloaded: log level DEBUG")
    assert requests.get(f"{daemon_process.url}/healthz", timeout=5).status_code == 200
    daemon_process.config.write_text("log: [not, a, mapping\n")
    daemon_process.proc.send_signal(signal.SIGHUP)
    daemon_process.wait_line(r"reload refused, keeping the running settings")
    assert daemon_process.proc.poll() is None
    daemon_process.proc.send_signal(signal.SIGTERM)
    assert daemon_process.proc.wait(timeout=GRACE + 1) == 0


def _json(data: bytes) -> dict[str, Any]:
    import json

    doc: dict[str, Any] = json.loads(data)
    return doc
