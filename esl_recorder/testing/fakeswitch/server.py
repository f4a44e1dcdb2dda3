"""FakeSwitch: a FreeSWITCH look-alike speaking the Event Socket protocol on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import gevent
import gevent.socket
from gevent.event import Event as GEvent
from gevent.server import StreamServer

from esl_recorder.testing.fakeswitch import (
    apps,
    bridging,  # noqa: F401 (the bridge application)
    commands,
    dialplan,
    listing,
    recordings,
)
from esl_recorder.testing.fakeswitch.channels import Channel, new_uuid
from esl_recorder.testing.fakeswitch.clock import ManualClock, RealtimeClock
from esl_recorder.testing.fakeswitch.commands import Api
from esl_recorder.testing.fakeswitch.core import SwitchCore
from esl_recorder.testing.fakeswitch.session import Session
from esl_recorder.testing.fakeswitch.wavfile import Disk
from esl_recorder.testing.fakeswitch.wire import Event

log = logging.getLogger(__name__)

CommandMatch = Callable[[str], bool] | str


@dataclass(frozen=True)
class RecordingInfo:
    """An active recording as the test sees it."""

    uuid: str
    path: str
    flags: dict[str, object]


class FakeSwitch:
    """The simulator. `clock='manual'` makes media time move only through `advance()`.

    `recordings_root` is where relative `uuid_record` paths go (FreeSWITCH's `sound_prefix`);
    `start_time` is the wall-clock time at media time 0 (event timestamps are start_time plus
    media time); `outbound_address` is where the `outbound_esl` extension's
    `socket ... async full` connects. `heartbeat_interval`: seconds between HEARTBEAT events
    (FreeSWITCH's default is 20), None for none; `heartbeat_first`: seconds until the first
    one (default: one interval). Under the manual clock they follow media time, else wall
    time. `version`: the `api version` text (without its newline).
    `go_silent()` makes the switch hang with its sockets open, `speak_again()` resumes it.
    """

    def __init__(
        self,
        password: str = "ClueCon",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: str = "realtime",
        recordings_root: str | None = None,
        start_time: float | None = None,
        outbound_address: tuple[str, int] = ("127.0.0.1", 8084),
        heartbeat_interval: float | None = 20.0,
        heartbeat_first: float | None = None,
        version: str = commands.VERSION,
    ) -> None:
        if clock not in ("realtime", "manual"):
            raise ValueError("clock must be 'realtime' or 'manual'")
        self.password = password
        self.host = host
        self.port = port
        self.recordings_root = recordings_root or os.path.join(tempfile.gettempdir(), "fakeswitch")
        self._auto_time = start_time is None
        if start_time is None and clock == "manual":
            # a whole second, so `uuid_record ... <limit>` (checked against whole wall-clock
            # seconds, like FreeSWITCH) stops at the same media time on every run
            start_time = float(int(time.time()))
        self.core = self._switch_core(start_time, version)
        self.outbound_address = outbound_address
        self.clock_mode = clock
        self._clock: ManualClock | RealtimeClock = (
            ManualClock(self.core.tick) if clock == "manual" else RealtimeClock(self.core.tick)
        )
        self.sessions: set[Session] = set()
        self.commands: list[str] = []
        self._command_arrived = GEvent()
        self._holds: list[HeldCommand] = []
        self._server: StreamServer | None = None
        self._greenlets: set[gevent.Greenlet] = set()
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_first = heartbeat_interval if heartbeat_first is None else heartbeat_first
        self._heartbeat: gevent.Greenlet | None = None
        self._media_beats = False  # the manual clock's heartbeat timer is set
        self.speaking = GEvent()  # cleared while the switch is silent
        self.speaking.set()

    def _switch_core(self, start_time: float | None, version: str) -> SwitchCore:
        """The channels' state, with the dialplan, applications, recordings and sessions
        hooked in."""
        core = SwitchCore(start_time=start_time, sound_prefix=self.recordings_root)
        core.version = version
        core.listeners.append(self._broadcast)
        core.outbound = self._connect_out
        core.on_frame(lambda frames, live: recordings.feed_frames(core, frames, live))
        core.on_tick(
            lambda live: apps.start_queued(core, live),
            lambda live: apps.finish_due(core, live),
        )
        core.answer_channel = lambda ch: dialplan.answer(core, ch)
        core.hangup_channel = lambda ch, cause: dialplan.hangup(core, ch, cause)
        core.finish_hangup = lambda ch: dialplan.finish_script_leg(core, ch)
        return core

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> FakeSwitch:
        if self._auto_time and self.clock_mode == "realtime" and self.core.ticks == 0:
            self.core.base_time = time.time()  # media time 0 is now
        if self._server is None:
            self._server = StreamServer((self.host, self.port), self._accept)
            self._server.start()
            self.port = self._server.server_port
            log.info("fakeswitch listening on %s:%s", self.host, self.port)
        self._clock.start()
        if self.heartbeat_interval and self._heartbeat is None and not self._media_beats:
            if self.clock_mode == "manual":
                self._media_beats = True
                self.core.after(self.heartbeat_first or 0.0, self._media_heartbeat)
            else:
                self._heartbeat = gevent.spawn(self._heartbeats, self.heartbeat_interval)
        return self

    def stop(self) -> None:
        self._clock.stop()
        self.speaking.set()  # let held writers and readers see their sockets close
        if self._heartbeat is not None:
            self._heartbeat.kill()
            self._heartbeat = None
        if self._server is not None:
            self._server.stop(timeout=1)
            self._server = None
        for session in list(self.sessions):
            session.abort()
        self.sessions.clear()
        for held in self._holds:  # a held command's reader sees its socket closed
            held.released.set()
        self._holds.clear()

    def __enter__(self) -> FakeSwitch:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def advance(self, seconds: float) -> None:
        """Manual clock: produce `seconds` of media for every channel, synchronously."""
        self._clock.advance(seconds)

    # -- liveness -----------------------------------------------------------------------------
    def _media_heartbeat(self) -> None:
        self._media_beats = bool(self.heartbeat_interval and self._server is not None)
        if self._media_beats and self.heartbeat_interval:
            self.core.after(self.heartbeat_interval, self._media_heartbeat)
            if self.speaking.is_set():
                self.core.fire(self.core.heartbeat())

    def _heartbeats(self, interval: float) -> None:
        """switch_core.c's heartbeat thread: one HEARTBEAT every `interval` seconds."""
        delay = self.heartbeat_first or interval
        while True:
            gevent.sleep(delay)  # this is the simulated switch's timer, not a test's wait
            delay = interval
            if self.speaking.is_set():
                self.send_heartbeat()

    def send_heartbeat(self) -> None:
        with self.core.lock:
            self.core.fire(self.core.heartbeat())

    def go_silent(self) -> None:
        """Hang like a stopped process: TCP connections stay open (new ones are accepted),
        but nothing is written, no command is executed, no HEARTBEAT is sent."""
        self.speaking.clear()

    def speak_again(self) -> None:
        """Resume: what was held is written and the commands read meanwhile are executed."""
        self.speaking.set()

    # -- network ------------------------------------------------------------------------------
    def _accept(self, sock: Any, address: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = Session(self, sock, address)
        self.sessions.add(session)
        session.run()

    def _connect_out(self, ch: Channel) -> None:
        """The `socket <host:port> async full` application: connect to the test's server."""
        self._greenlets.add(gevent.spawn(self._run_outbound, ch.uuid))

    def _run_outbound(self, uuid: str) -> None:
        try:
            # gevent's socket: the simulator also runs without monkey-patching (__main__)
            sock = gevent.socket.create_connection(self.outbound_address, timeout=5)
        except OSError:
            log.warning("outbound socket to %s:%s refused", *self.outbound_address)
            return
        sock.settimeout(None)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = Session(self, sock, self.outbound_address, outbound_uuid=uuid)
        self.sessions.add(session)
        session.run()

    def session_ended(self, session: Session) -> None:
        self.sessions.discard(session)

    def _broadcast(self, event: Event) -> None:
        for session in list(self.sessions):
            session.deliver(event)

    def execute_api(self, line: str) -> tuple[str, list[Callable[[], None]]]:
        self._clock.catch_up()
        return Api(self.core).execute(line)

    def run_locked(self, action: Callable[[], None]) -> None:
        with self.core.lock:
            action()

    def record_command(self, line: str) -> None:
        self.commands.append(_without_api_prefix(line))
        event, self._command_arrived = self._command_arrived, GEvent()
        event.set()

    def hold_commands(self, prefix: str) -> HeldCommand:
        """Commands starting with `prefix` (`api `/`bgapi ` left out) wait, once read, until
        released; what the switch writes meanwhile (events) still goes out, as what
        FreeSWITCH had written before it read the command. A connection's later commands wait
        behind its held one."""
        held = HeldCommand(prefix)
        self._holds.append(held)
        return held

    def hold_events(self, name: str) -> Callable[[], None]:
        """Events named `name` are held back until the returned function is called, then
        sent in order: FreeSWITCH fires RECORD_STOP when a channel's media bug closes, which
        can come well after its hangup and after a command's reply."""
        self.core.held_events.setdefault(name, [])

        def release() -> None:
            with self.core.lock:
                for event in self.core.held_events.pop(name, []):
                    self.core.fire(event)
        return release

    def keep_listed(self, uuid: str) -> None:
        """The channel's `show channels` row stays after the channel is gone. FreeSWITCH's
        listing reads its core database, which its SQL thread updates behind the sessions:
        a channel destroyed a moment ago is still listed, and one whose recording began
        during its hangup stays listed for good, while `uuid_exists` says false."""
        with self.core.lock:
            self.core.stale_rows[uuid] = listing.channel_row(self.core, self.channel(uuid))

    def held(self, line: str) -> HeldCommand | None:
        """Called by a session before it executes `line`: the hold it must wait for."""
        line = _without_api_prefix(line)
        found = next((h for h in self._holds
                      if not h.taken and line.startswith(h.prefix)), None)
        if found is not None:
            found.taken = True
        return found

    def wait_for_command(self, predicate: CommandMatch, timeout: float = 5.0) -> str:
        """The first received command (so far or still to come) matching `predicate`.

        A string predicate matches commands that start with it. Raises TimeoutError.
        """
        match = predicate if callable(predicate) else (lambda c: c.startswith(str(predicate)))
        deadline = gevent.get_hub().loop.now() + timeout
        seen = 0
        while True:
            for line in self.commands[seen:]:
                if match(line):
                    return line
            seen = len(self.commands)
            remaining = deadline - gevent.get_hub().loop.now()
            if remaining <= 0 or not self._command_arrived.wait(remaining):
                raise TimeoutError(f"no matching command within {timeout}s: {self.commands}")

    # -- test hooks ---------------------------------------------------------------------------
    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until everything queued for every client has been written to its socket."""
        deadline = gevent.get_hub().loop.now() + timeout
        for session in list(self.sessions):
            remaining = max(deadline - gevent.get_hub().loop.now(), 0.0)
            if not session.drained.wait(remaining):
                return False
        return True

    def drop_connections(self) -> None:
        """Close every client socket abruptly (no disconnect notice)."""
        for session in list(self.sessions):
            session.abort()

    def inject_raw(self, data: bytes) -> None:
        """Write raw bytes to every authenticated client."""
        for session in list(self.sessions):
            if session.authed:
                session.send_now(data)

    def crash(self, restart: bool = True) -> None:
        """FreeSWITCH dies: sockets closed, channels forgotten, WAV headers left stale.

        No RECORD_STOP is sent. With `restart` (default) a fresh FreeSWITCH (new Core-UUID, no
        channels) is listening again on the same address at once; otherwise it stays down
        until `start()`.
        """
        with self.core.lock:
            recordings.abandon_all(self.core)
            dialplan.kill_everything(self.core)
            self.core.core_uuid = new_uuid()
        if restart:
            self.drop_connections()
        else:
            self.stop()

    # -- calls --------------------------------------------------------------------------------
    def originate(
        self,
        dest: str = "loopback/tone_b/rectest",
        ext: str = "tone_a",
        variables: dict[str, str] | None = None,
    ) -> str:
        """Like `originate <dest> <ext> XML rectest`; returns the A leg's uuid.

        A call to `loopback/script_park/rectest` parks its B leg for a script: the caller leg
        runs `ext` only once the script answered (see park_for_script)."""
        with self.core.lock:
            a, legs = dialplan.originate(self.core, dest, ext, variables)
            if a.call.kind == "script":
                a.call.on_answer.append(
                    lambda cause: None if cause else dialplan.after_originate(self.core, legs))
            else:
                dialplan.after_originate(self.core, legs)
        return a.uuid

    def park_for_script(
        self, caller: str = "tone_a", variables: dict[str, str] | None = None
    ) -> str:
        """A call whose B leg parks, unanswered, for a call script; returns B's uuid.

        Like `originate {vars}loopback/script_park/rectest <caller>`: B runs `set
        esl_recorder_script=demo` and `park` (CHANNEL_PARK carries the variables); `caller`
        `tone_a` sends 440 Hz once B is answered, `&park` sends nothing."""
        a_uuid = self.originate("loopback/script_park/rectest", caller, variables)
        peer = self._channel(a_uuid).peer
        return peer.uuid if peer is not None else a_uuid

    def inbound_call(
        self, ext: str = "tone_a", variables: dict[str, str] | None = None, answered: bool = False
    ) -> str:
        with self.core.lock:
            return dialplan.inbound_call(self.core, ext, variables, answered).uuid

    def _channel(self, uuid: str) -> Channel:
        ch = self.core.locate(uuid)
        if ch is None:
            raise KeyError(f"no such channel {uuid}")
        return ch

    def answer(self, uuid: str) -> None:
        with self.core.lock:
            dialplan.answer(self.core, self._channel(uuid))

    def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        with self.core.lock:
            ch = self.core.locate(uuid)
            if ch is not None:
                dialplan.hangup(self.core, ch, cause)
                self.core.run_pending()

    def send_dtmf(self, uuid: str, digits: str) -> None:
        with self.core.lock:
            dialplan.dtmf(self.core, self._channel(uuid), digits, "APP")

    @property
    def recordings_disk(self) -> Disk:
        """The recordings file system: `limit(n)` leaves n free bytes, after which writes
        fail the way record_disk_full.txt shows (uri-failure at stop, a valid shorter
        file; a recording started on the full disk gets -ERR); `unlimited()` frees it."""
        return self.core.disk

    def channels(self) -> list[dict[str, str]]:
        """Live channels: uuid, name, direction, state, answer state and variables."""
        return [
            {
                "uuid": ch.uuid,
                "name": ch.name,
                "direction": ch.direction,
                "state": ch.state,
                "answer_state": ch.answer_state,
                **{f"variable_{k}": v for k, v in ch.variables.items()},
            }
            for ch in self.core.live_channels()
        ]

    def channel(self, uuid: str) -> Channel:
        """The live channel object (for assertions)."""
        return self._channel(uuid)

    @property
    def recordings(self) -> list[RecordingInfo]:
        return [
            RecordingInfo(ch.uuid, rec.path, rec.flags)
            for ch in self.core.live_channels()
            for rec in ch.recordings
        ]


def _without_api_prefix(line: str) -> str:
    for prefix in ("api ", "bgapi "):
        if line.startswith(prefix):
            return line[len(prefix) :]
    return line


class HeldCommand:
    """A command held by FakeSwitch.hold_commands: `release()` lets it run and waits until
    it has (its reply written, its events fired)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.taken = False  # a command matched it (each hold holds one command)
        self.released = GEvent()
        self.ran = GEvent()

    def release(self, timeout: float = 5.0) -> None:
        self.released.set()
        if not self.ran.wait(timeout):
            raise TimeoutError(f"the held command {self.prefix!r} did not run in {timeout}s")
