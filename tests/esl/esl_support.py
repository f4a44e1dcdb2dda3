"""Helpers for the ESL adapter tests, shared by conftest.py and the test modules.

`MiniSwitch` is a deliberately small event-socket server speaking the captured wire format.
It exists for the cases a full simulator should not have to offer (a server that never
answers, a bare connection that never sends auth/request) and as a second, independent
peer for the client.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
from gevent.server import StreamServer

from esl_recorder.esl.client import EslClient
from esl_recorder.esl.frames import Event, serialize_plain_event
from esl_recorder.metrics import Metrics

GOODBYE = (b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n"
           b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")


def reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def api_response(body: str) -> bytes:
    raw = body.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(raw) + raw


class MiniSwitch:
    """A tiny ESL server: auth, event plain, api, bgapi, exit; scripted from the test."""

    def __init__(self, password: str = "ClueCon") -> None:
        self.password = password
        self.commands: list[str] = []
        self.api_answers: dict[str, str] = {}  # api command -> body ("+OK\n" otherwise)
        self.silent = False  # read commands, never answer them
        self._socks: list[Any] = []
        self._subscribed: list[Any] = []
        self._new_command = gevent.event.Event()
        self._server = StreamServer(("127.0.0.1", 0), self._serve)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(timeout=1)
        self.drop_connections()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.address[:2]
        return host, port

    def drop_connections(self) -> None:
        for sock in list(self._socks):
            sock.close()
        self._socks.clear()
        self._subscribed.clear()

    def inject_raw(self, data: bytes) -> None:
        for sock in list(self._subscribed):
            try:
                sock.sendall(data)
            except OSError:  # a connection the client just dropped
                self._subscribed.remove(sock)

    def emit(self, headers: dict[str, str], body: str | None = None) -> None:
        self.inject_raw(serialize_plain_event(headers, body))

    def wait_for_command(self, pred: Callable[[str], bool], timeout: float = 5.0) -> str:
        self.wait_until(lambda: any(pred(c) for c in self.commands), timeout)
        return next(c for c in self.commands if pred(c))

    def wait_until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait, without polling, until `cond()` holds after some command arrived."""
        with gevent.Timeout(timeout, AssertionError(f"timed out; commands={self.commands}")):
            while not cond():
                self._new_command.clear()
                self._new_command.wait()

    def _serve(self, sock: Any, addr: Any) -> None:
        self._socks.append(sock)
        buf = b""
        authed = False
        try:
            sock.sendall(b"Content-Type: auth/request\n\n")
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
                while b"\n\n" in buf:
                    raw, buf = buf.split(b"\n\n", 1)
                    cmd = raw.decode()
                    self.commands.append(cmd)
                    self._new_command.set()
                    if self.silent:
                        continue
                    authed = self._answer(sock, cmd, authed)
        except OSError:
            return
        finally:
            if sock in self._subscribed:
                self._subscribed.remove(sock)

    def _answer(self, sock: Any, cmd: str, authed: bool) -> bool:
        if cmd.startswith("auth "):
            if cmd[5:] == self.password:
                sock.sendall(reply("+OK accepted"))
                return True
            sock.sendall(reply("-ERR invalid") + GOODBYE)
            sock.close()
            return False
        if not authed:
            sock.sendall(reply("-ERR command not found"))
        elif cmd.startswith("event plain "):
            sock.sendall(reply("+OK event listener enabled plain"))
            self._subscribed.append(sock)
        elif cmd.startswith("api "):
            sock.sendall(api_response(self.api_answers.get(cmd[4:], "+OK\n")))
        elif cmd.startswith("bgapi "):
            self._bgapi(sock, cmd)
        elif cmd == "exit":
            sock.sendall(reply("+OK bye") + GOODBYE)
            sock.close()
        else:
            sock.sendall(reply("-ERR command not found"))
        return authed

    def _bgapi(self, sock: Any, cmd: str) -> None:
        first, _, hdr = cmd.partition("\nJob-UUID: ")
        job = hdr or "server-chosen"
        sock.sendall(reply(f"+OK Job-UUID: {job}")[:-1] + f"Job-UUID: {job}\n\n".encode())
        body = self.api_answers.get(first[6:], "+OK done\n")
        # another job's event first: the client must ignore it
        self.emit({"Event-Name": "BACKGROUND_JOB", "Job-UUID": "someone-else"}, "-ERR other\n")
        self.emit({"Event-Name": "BACKGROUND_JOB", "Job-UUID": job,
                   "Job-Command": first[6:].split(" ")[0]}, body)


def sample(metrics: Metrics, attr: str, **labels: str) -> float:
    """Current value of the Metrics field `attr` for `labels` (0 when absent)."""
    for family in getattr(metrics, attr).collect():
        for s in family.samples:
            if s.labels == labels and not s.name.endswith("_created"):
                return float(s.value)
    return 0.0


class Recorder:
    """on_event / on_connect / on_disconnect sink with waitable state."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.log: list[str] = []
        self.changed = gevent.event.Event()

    def on_event(self, client: EslClient, event: Event) -> None:
        self.events.append(event)
        self.log.append(f"event:{event.name}")
        self.changed.set()

    def on_connect(self, client: EslClient) -> None:
        self.log.append("connect")
        self.changed.set()

    def on_disconnect(self, client: EslClient) -> None:
        self.log.append("disconnect")
        self.changed.set()

    def wait(self, pred: Callable[[], bool], timeout: float = 5.0) -> None:
        with gevent.Timeout(timeout, AssertionError(f"timed out; log={self.log}")):
            while not pred():
                self.changed.clear()
                self.changed.wait()

    def count(self, item: str) -> int:
        return self.log.count(item)


EVENTS = ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE", "RECORD_START",
          "RECORD_STOP", "BACKGROUND_JOB")

ClientFactory = Callable[..., EslClient]


class SignallingRandom(random.Random):
    """A seeded Random that reports each backoff draw (one per failed attempt)."""

    def __init__(self, seed: int = 7) -> None:
        super().__init__(seed)
        self.draws = 0
        self._drawn = gevent.event.Event()

    def random(self) -> float:
        self.draws += 1
        self._drawn.set()
        return super().random()

    def wait_draws(self, n: int, timeout: float = 5.0) -> None:
        with gevent.Timeout(timeout, AssertionError(f"only {self.draws} backoff draws")):
            while self.draws < n:
                self._drawn.clear()
                self._drawn.wait()
