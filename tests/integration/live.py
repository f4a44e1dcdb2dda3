"""Drivers for the live tests, all through public surfaces: the daemon as a process started
with its CLI (`python -m esl_recorder run -c FILE`), its HTTP API, raw ESL to FreeSWITCH, a TCP
relay that can cut the daemon's event-socket connection, and the recordings on disk.

Waits poll a condition with a deadline (`eventually`); they never sleep a fixed time to wait
for a state. Real calls take real time: `gevent.sleep(seconds)` is used only to let audio
accumulate in a recording.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import gevent
import gevent.server
import requests
import yaml
from api.conftest import ACCOUNTS, ACME_BW, ACME_LAML, ACME_TEXML, basic
from fakeswitch.wireclient import WireClient

from .conftest import FreeSwitchAddress

T = TypeVar("T")
ACCOUNT_VARIABLE = "esl_recorder_account_id"
LAML = f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}"
LAML_AUTH = {"Authorization": basic(*ACME_LAML)}
TEXML = f"/v2/texml/Accounts/{ACME_TEXML[0]}"
TEXML_AUTH = {"Authorization": f"Bearer {ACME_TEXML[1]}"}
BW = f"/v1/users/{ACME_BW[0]}"
BW_AUTH = {"Authorization": basic(ACME_BW[1], ACME_BW[2])}
SETUP_ATTEMPTS = 3
# What the rectest extensions run once answered (freeswitch/dialplan/rectest.xml).
EXTENSION_APPLICATIONS = {"tone_a": ("playback",), "tone_b": ("playback",),
                          "silence": ("park",), "echo": ("echo",)}


def eventually(check: Callable[[], T | None], timeout: float = 10.0, what: str = "it",
               interval: float = 0.05) -> T:
    """The first truthy result of `check`, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        gevent.sleep(interval)


def freeswitch_log(fs: FreeSwitchAddress, needle: str) -> list[str]:
    """Lines of the live server's log (fsctl.py keeps it, at debug level) that mention
    `needle`; empty when the server was not started by fsctl."""
    path = Path(fs.run_dir, "log", "freeswitch.log") if fs.run_dir else None
    if path is None or not path.exists():
        return []
    with path.open(errors="replace") as log:
        return [line.rstrip() for line in log if needle in line]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def running_its_extension(api: Callable[[str], str], uuid: str, ext: str,
                          timeout: float = 5.0) -> bool:
    """Whether the A leg of a rectest call got to its extension's application. Under load
    FreeSWITCH now and then leaves a freshly transferred loopback leg asleep in ROUTING (its
    log says "State ROUTING going to sleep"): such a call sends no audio, and a test about the
    daemon must not start on it."""
    wanted = EXTENSION_APPLICATIONS.get(ext)
    if wanted is None:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api(f"uuid_getvar {uuid} current_application").strip() in wanted:
            return True
        gevent.sleep(0.05)
    return False


class Esl:
    """A raw inbound ESL connection to the live server (our own, not the daemon's)."""

    def __init__(self, fs: FreeSwitchAddress, timeout: float = 10.0) -> None:
        self.fs = fs
        self.wire = WireClient((fs.host, fs.port), timeout=timeout).login(fs.password)
        self.placed: list[str] = []

    def api(self, command: str) -> str:
        return self.wire.api(command)

    def call(self, ext: str = "tone_a", account: str | None = "acme", leg: str = "tone_b",
             **variables: str) -> str:
        """`originate {vars}loopback/<leg>/rectest <ext> XML rectest` with a uuid we choose:
        the A leg sends <ext>'s tone (tone_a: 440 Hz) and hears <leg>'s (tone_b: 880 Hz)."""
        for _ in range(SETUP_ATTEMPTS):
            uuid = str(uuid_module.uuid4())
            block = ",".join(f"{k}={v}" for k, v in {
                "origination_uuid": uuid, **variables,
                **({ACCOUNT_VARIABLE: account} if account else {})}.items())
            reply = self.api(f"originate {{{block}}}loopback/{leg}/rectest {ext} XML rectest")
            assert reply.startswith("+OK "), reply
            self.placed.append(uuid)
            if running_its_extension(self.api, uuid, ext):
                return uuid
            self.hangup(uuid)
        raise AssertionError(f"FreeSWITCH left {SETUP_ATTEMPTS} calls to {ext} in ROUTING")

    def exists(self, uuid: str) -> bool:
        return self.api(f"uuid_exists {uuid}").strip() == "true"

    def hangup(self, uuid: str) -> None:
        self.api(f"uuid_kill {uuid}")
        eventually(lambda: not self.exists(uuid), 10, f"call {uuid} to end")

    def close(self) -> None:
        """Hang up what we placed and is still up (a failed test leaves no call behind)."""
        for uuid in self.placed:
            if not self.wire.eof and self.exists(uuid):
                self.api(f"uuid_kill {uuid}")
        self.wire.close()


class Relay:
    """127.0.0.1:<port> -> the event socket. `cut()` closes every relayed connection, as a
    network failure would; while `holding`, new connections are closed at once."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.holding = False
        self.accepted = 0
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._server = gevent.server.StreamServer(("127.0.0.1", 0), self._handle)
        self._server.start()
        self.port = int(self._server.server_port)

    def _handle(self, client: socket.socket, _addr: Any) -> None:
        if self.holding:
            client.close()
            return
        self.accepted += 1
        upstream = socket.create_connection(self.target)
        self._pairs.append((client, upstream))
        a = gevent.spawn(self._pump, client, upstream)
        b = gevent.spawn(self._pump, upstream, client)
        gevent.joinall([a, b], count=1)
        for s in (client, upstream):
            s.close()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.cut()
        self._server.stop(timeout=1)


@dataclass
class DaemonProcess:
    """esl_recorder started by its CLI with a YAML config; HTTP on a port picked here."""

    fs: FreeSwitchAddress
    workdir: Path
    backends: dict[str, dict[str, Any]]  # store and media sections (fixture `backends`)
    esl_port: int | None = None  # default: the server's own port (else e.g. a Relay)
    extra: dict[str, Any] = field(default_factory=dict)
    http_port: int = 0  # default: a free one

    def __post_init__(self) -> None:
        self.http_port = self.http_port or free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.config = self.workdir / "esl_recorder.yaml"
        self.log = self.workdir / "daemon.log"
        # one directory per daemon, inside the directory FreeSWITCH writes to
        self.recordings = Path(self.fs.recordings) / self.workdir.name
        self.config.write_text(yaml.safe_dump(self._settings()))
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = requests.Session()

    def _settings(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nodes": [{"name": "fs1", "host": self.fs.host,
                       "port": self.esl_port or self.fs.port, "password": self.fs.password}],
            "recording": {"root": str(self.recordings)},
            **self.backends,
            "http": {"host": "127.0.0.1", "port": self.http_port},
            "esl": {"connect_timeout": 2, "command_timeout": 5,
                    "reconnect_initial_delay": 0.1, "reconnect_max_delay": 0.5},
            "delivery": {"initial_delay": 0.05, "max_delay": 0.2,
                         "allowed_networks": ["127.0.0.0/8"]},  # the tests' receivers
            "accounts": ACCOUNTS,
            # `&echo()` runs on the A leg at once; an extension would go through a transfer
            # that, on a busy machine, once left the leg asleep in CS_ROUTING with no media
            # (FreeSWITCH log: "State ROUTING going to sleep"; the recording came out empty)
            "bandwidth": {"dial_string": "loopback/{to}/rectest", "application": "&echo()",
                          "transfer_context": "rectest"},
        }
        for name, values in self.extra.items():
            data[name] = {**data.get(name, {}), **values}
        return data

    def start(self, timeout: float = 20.0) -> DaemonProcess:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "esl_recorder", "run", "-c", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        eventually(self._ready, timeout, f"the daemon to be ready ({self.log})")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}: "
                                 f"{self.log.read_text()[-2000:]}")
        try:
            return self.http.get(self.url + "/readyz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.http.close()

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        assert self.proc.returncode == -signal.SIGKILL

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else self.url + path
        return self.http.request(method, url, timeout=15, **kwargs)

    def json(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        r = self.request(method, path, **kwargs)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        return r.json()

    def create_when_tracked(self, path: str, headers: dict[str, str],
                            **data: str) -> dict[str, Any]:
        """POST a create once the daemon knows the call (404 until its events arrive)."""
        def attempt() -> dict[str, Any] | None:
            r = self.request("POST", path, headers=headers, data=data)
            if r.status_code == 404:
                return None
            assert r.status_code == 200, r.text
            doc: dict[str, Any] = r.json()
            return doc
        doc = eventually(attempt, 10, f"the daemon to track the call of {path}")
        if doc["status"] == "queued":  # the daemon saw the call before its answer
            item = f"{path.removesuffix('.json')}/{doc['sid']}.json"
            doc = eventually(lambda: (d := self.json("GET", item, headers=headers))["status"]
                             != "queued" and d, 10, f"{item} to start")
        return doc


def recording_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".wav", ".mp3"))
