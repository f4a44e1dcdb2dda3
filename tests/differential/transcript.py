"""Run one scenario over raw ESL against a server and keep what it said: a `Transcript`.

A scenario is a function of a `Session`; it sends the same bytes to the simulator and to the
live FreeSWITCH. The session keeps every command with its reply (in order), every event (in
order of arrival) and the recordings made, keyed by a label the scenario chooses. Audio
accumulates in real time on both servers (the simulator runs its realtime clock), so a
scenario's `audio(seconds)` is the one place that sleeps; every other wait is for a message,
with a timeout.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gevent
import gevent.event
from fakeswitch.wireclient import Message, WireClient, event_headers, parse_message

# The events esl_recorder subscribes to (esl_recorder.esl.events.SUBSCRIBED) but HEARTBEAT,
# which FreeSWITCH sends every 20 s, longer than a scenario (tests/fakeswitch replays its
# capture, heartbeat.txt); and the two more it subscribes to when scripts are configured.
EVENTS = ("CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE "
          "RECORD_START RECORD_STOP DTMF BACKGROUND_JOB")
SCRIPT_EVENTS = "CHANNEL_PARK CHANNEL_EXECUTE_COMPLETE"


@dataclass
class Exchange:
    """One command and the message that answered it."""

    label: str
    command: str
    reply: Message


@dataclass
class Transcript:
    target: str  # "simulator" or "freeswitch"
    root: str  # the recordings directory of this run (normalised away)
    exchanges: list[Exchange] = field(default_factory=list)
    events: list[Message] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # label -> path
    closed: dict[str, bool] = field(default_factory=dict)  # connection label -> server closed


class Lockstep:
    """A barrier for the two sessions of one scenario: each command goes out on both servers
    at the same moment, so recordings on both span the same stretch of real time."""

    def __init__(self, parties: int = 2, timeout: float = 20.0) -> None:
        self.parties, self.timeout = parties, timeout
        self._waiting = 0
        self._release = gevent.event.Event()

    def sync(self) -> None:
        release = self._release
        self._waiting += 1
        if self._waiting == self.parties:
            self._waiting, self._release = 0, gevent.event.Event()
            release.set()
            return
        if not release.wait(self.timeout):
            raise AssertionError("the other server's session did not reach the same step")


class Session:
    """The scenario's handle on one server: raw ESL connections and a recordings directory."""

    def __init__(self, target: str, address: tuple[str, int], password: str, root: Path,
                 lockstep: Lockstep | None = None) -> None:
        self.lockstep = lockstep or Lockstep(parties=1)
        self.address = address
        self.password = password
        self.root = root
        self.transcript = Transcript(target, str(root))
        self._main: WireClient | None = None
        self._main = self.connect("main")

    @property
    def wire(self) -> WireClient:
        assert self._main is not None
        return self._main

    # -- connections --------------------------------------------------------------------------
    def connect(self, label: str, password: str | None = None) -> WireClient:
        wire = WireClient(self.address, timeout=10)
        greeting = wire.read()
        self.transcript.exchanges.append(Exchange(f"{label}: greeting", "", greeting))
        if password is not None or label == "main":
            self.send(f"{label}: auth", f"auth {password or self.password}", wire)
        return wire

    def send(self, label: str, line: str, wire: WireClient | None = None) -> Message:
        """A socket command (`auth`, `event`, `api`, `bgapi`, ...) and its reply."""
        wire = wire or self.wire
        self.lockstep.sync()
        reply = wire.command(line)
        self._collect(wire)
        self.transcript.exchanges.append(Exchange(label, line, reply))
        return reply

    def api(self, label: str, line: str) -> str:
        reply = self.send(label, f"api {line}")
        return reply.body.decode()

    def closed_by_server(self, label: str, wire: WireClient) -> None:
        """Read what the server sends until it closes the socket (e.g. a disconnect notice)."""
        closed = wire.wait_closed(5.0)
        rest = wire.pending() if not closed else []
        while (raw := wire._take()) is not None:  # whole messages left in the buffer
            rest.append(parse_message(raw))
        for n, message in enumerate(rest):
            self.transcript.exchanges.append(Exchange(f"{label}: after close {n}", "", message))
        self.transcript.closed[label] = closed

    # -- events -------------------------------------------------------------------------------
    def _collect(self, wire: WireClient) -> None:
        if wire is self._main:
            self.transcript.events.extend(wire.pending())

    def wait_event(self, name: str, match: Callable[[dict[str, str]], bool] = lambda h: True,
                   timeout: float = 10.0) -> dict[str, str]:
        """Wait for an event `name` whose headers satisfy `match` (already seen ones count)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            self._collect(self.wire)
            for message in self.transcript.events[seen:]:
                headers = dict(event_headers(message))
                if headers.get("Event-Name") == name and match(headers):
                    return headers
            seen = len(self.transcript.events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.transcript.target}: no {name} event in {timeout} s")
            with contextlib.suppress(TimeoutError):
                self.transcript.events.append(self.wire.read(min(remaining, 0.5)))

    def settle(self, name: str, count: int, timeout: float = 10.0) -> None:
        """Wait until `count` events `name` have arrived in all."""
        deadline = time.monotonic() + timeout
        while sum(1 for m in self.transcript.events
                  if dict(event_headers(m)).get("Event-Name") == name) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.transcript.target}: fewer than {count} {name}")
            with contextlib.suppress(TimeoutError):
                self.transcript.events.append(self.wire.read(min(remaining, 0.5)))

    # -- media --------------------------------------------------------------------------------
    @staticmethod
    def audio(seconds: float) -> None:
        gevent.sleep(seconds)  # real calls: let this much audio accumulate

    @staticmethod
    def align_to_second(phase: float) -> None:
        """Wait until `phase` seconds past a wall-clock second."""
        gevent.sleep((phase - time.time() % 1.0) % 1.0)

    def path(self, label: str, name: str) -> str:
        path = str(self.root / name)
        self.transcript.files[label] = path
        return path

    def close(self) -> None:
        self.wire.close()
