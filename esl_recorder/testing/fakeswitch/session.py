"""One ESL client connection (mod_event_socket's listener) on the simulated switch."""

from __future__ import annotations

import contextlib
import logging
import socket as std_socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event as GEvent
from gevent.queue import Queue

from esl_recorder.testing.fakeswitch import apps, dialplan, wire
from esl_recorder.testing.fakeswitch.channels import new_uuid
from esl_recorder.testing.fakeswitch.commands import Pending
from esl_recorder.testing.fakeswitch.wire import Event

if TYPE_CHECKING:
    from esl_recorder.testing.fakeswitch.server import FakeSwitch

log = logging.getLogger(__name__)

CHANNEL_EVENT_PREFIXES = ("CHANNEL_", "DTMF", "CALL_")  # what myevents delivers
ORIGINATE_TIMEOUT = 60.0  # FreeSWITCH's default originate_timeout (seconds)


class Session:
    """Reads commands, writes replies and events in order through one writer greenlet."""

    def __init__(
        self,
        switch: FakeSwitch,
        sock: Any,
        address: tuple[str, int],
        outbound_uuid: str | None = None,
    ) -> None:
        self.switch = switch
        self.sock = sock
        self.address = address
        self.outbound = outbound_uuid is not None  # FreeSWITCH connected out (`socket` app)
        self.authed = self.outbound
        self.fmt = "plain"
        self.events: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.bound_uuid: str | None = outbound_uuid
        self.linger: int | None = None
        self.logging = False
        self.closed = False
        self.closing = False  # the disconnect notice is out: nothing more is delivered
        self.bound_gone = False  # the channel bound by myevents has completed its hangup
        self.events_enabled = False  # `myevents` was sent
        self._queue: Queue[bytes | None] = Queue()
        self._deferred: list[bytes] | None = None
        self._held: list[bytes] = []
        self._writer: gevent.Greenlet | None = None
        self.drained = GEvent()
        self.drained.set()

    # -- output -------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self._deferred is not None:
            self._deferred.append(data)
        elif not self.closed:
            self.drained.clear()
            self._queue.put(data)

    def send_now(self, data: bytes) -> None:
        """Bypass deferral (the reply of the command being executed)."""
        if not self.closed:
            self.drained.clear()
            self._queue.put(data)

    def close_after_flush(self) -> None:
        self._queue.put(None)

    def abort(self) -> None:
        """Close the socket at once, as if the process died."""
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(std_socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        self._queue.put(None)

    def _write_loop(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                break
            self.switch.speaking.wait()  # a silent switch writes nothing
            try:
                self.sock.sendall(data)
            except OSError:
                break
            if self._queue.empty():
                self.drained.set()
        self.closed = True
        self.drained.set()
        with contextlib.suppress(OSError):
            self.sock.close()

    # -- events -------------------------------------------------------------------------------
    def wants(self, event: Event) -> bool:
        if not self.authed:
            return False
        subscribed = "ALL" in self.events or event.name in self.events
        bound = self.events_enabled and self.bound_uuid is not None
        if not subscribed and bound and event.get("Unique-ID") == self.bound_uuid:
            subscribed = event.name.startswith(CHANNEL_EVENT_PREFIXES)
        if not subscribed:
            return False
        if not self.filters:
            return True
        return any(event.get(name) == value for name, value in self.filters)

    def deliver(self, event: Event) -> None:
        if self.closing or self.bound_gone:
            return
        if self.wants(event):
            self.send(wire.event_message(event, self.fmt))
        if self.bound_uuid is None or event.get("Unique-ID") != self.bound_uuid:
            return
        # inbound `myevents` sockets get the linger notice at CHANNEL_HANGUP, outbound ones
        # after CHANNEL_HANGUP_COMPLETE (both as captured)
        linger_at = "CHANNEL_HANGUP_COMPLETE" if self.outbound else "CHANNEL_HANGUP"
        if event.name == linger_at and self.linger is not None:
            self.send(self._linger_notice(event.get("Channel-Name") or ""))
        if event.name == "CHANNEL_HANGUP_COMPLETE":
            self.bound_gone = True
            self._bound_channel_gone()

    def _controlled(self) -> tuple[str, str]:
        return ("Controlled-Session-UUID", self.bound_uuid or "")

    def _linger_notice(self, channel_name: str) -> bytes:
        return wire.disconnect_notice(
            self._controlled(),
            ("Content-Disposition", "linger"),
            ("Channel-Name", channel_name),
            ("Linger-Time", str(self.linger)),
            text="",
        )

    def _bound_channel_gone(self) -> None:
        if self.linger is None:
            self._disconnect()
        elif self.linger >= 0:
            self.switch.core.after(self.linger, self._disconnect)

    def _disconnect(self) -> None:
        if self.closing:
            return
        self.send(wire.disconnect_notice(self._controlled(), ("Content-Disposition", "disconnect")))
        self.closing = True
        self.close_after_flush()

    # -- input --------------------------------------------------------------------------------
    def run(self) -> None:
        self._writer = gevent.spawn(self._write_loop)
        if not self.outbound:
            self.send(wire.auth_request())
        buffer = b""
        try:
            while not self.closed:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                self.switch.speaking.wait()  # a silent switch executes nothing
                while b"\n\n" in buffer and not self.closed:
                    block, buffer = buffer.split(b"\n\n", 1)
                    self._handle_block(block.decode("utf-8", "replace"))
        except OSError:
            pass
        finally:
            self.closed = True
            self._queue.put(None)
            if self._writer is not None:
                self._writer.join(timeout=5)
            self.switch.session_ended(self)

    def _handle_block(self, block: str) -> None:
        lines = block.replace("\r", "").split("\n")
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            return
        line, headers = lines[0].strip(), _headers(lines[1:])
        self.switch.record_command(line)
        if not self.authed:
            self._before_auth(line)
            return
        name, _, args = line.partition(" ")
        handler = COMMANDS.get(name)
        if handler is None:
            self.send(wire.command_reply("-ERR command not found"))
            return
        handler(self, args.strip(), headers)

    def _before_auth(self, line: str) -> None:
        name, _, password = line.partition(" ")
        if name != "auth" or not password:
            self.send(wire.command_reply("-ERR command not found"))
        elif password.strip() == self.switch.password:
            self.authed = True
            self.send(wire.command_reply("+OK accepted"))
        else:
            self.send(wire.command_reply("-ERR invalid"))
            self.send(wire.disconnect_notice())
            self.close_after_flush()
            self.closed = True

    # -- command execution --------------------------------------------------------------------
    def run_api(self, line: str) -> tuple[str, list[Callable[[], None]]]:
        """Execute while holding this session's own events until the reply is written."""
        self._deferred = []
        try:
            return self.switch.execute_api(line)
        finally:
            held, self._deferred = self._deferred, None
            self._held = held

    def flush_held(self) -> None:
        held, self._held = getattr(self, "_held", []), []
        for data in held:
            self.send(data)


def _headers(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip()] = value.strip()
    return out


def _api(session: Session, args: str, headers: dict[str, str]) -> None:
    body, post = session.run_api(args)
    if isinstance(body, Pending):  # api originate blocks until the script answers
        body = _wait_answered(session, body)
    session.send(wire.api_response(body))
    session.flush_held()
    for action in post:
        session.switch.run_locked(action)


def _wait_answered(session: Session, pending: Pending) -> str:
    result: list[str] = []
    answered = GEvent()

    def done(cause: str) -> None:
        result.append(cause)
        answered.set()

    session.switch.run_locked(lambda: pending.call.on_answer.append(done))
    answered.wait(ORIGINATE_TIMEOUT)
    if result == [""]:
        return str(pending)
    return f"-ERR {result[0] if result else 'NO_ANSWER'}\n"


def _bgapi(session: Session, args: str, headers: dict[str, str]) -> None:
    job = headers.get("Job-UUID") or new_uuid()
    session.send(wire.command_reply(f"+OK Job-UUID: {job}", ("Job-UUID", job)))
    body, post = session.run_api(args)
    session.flush_held()
    if isinstance(body, Pending):  # the job ends when the script answers (or on hangup)
        result = str(body)

        def done(cause: str) -> None:
            text = f"-ERR {cause}\n" if cause else result
            _job_done(session, args, job, text, [] if cause else post)

        body.call.on_answer.append(done)
        return
    _job_done(session, args, job, body, post)


def _job_done(session: Session, args: str, job: str, body: str, post: list[Callable[[], None]]
              ) -> None:
    command, _, command_args = args.partition(" ")
    extra = [("Job-UUID", job), ("Job-Command", command)]
    if command_args:
        extra.append(("Job-Command-Arg", command_args))
    event = session.switch.core.plain_event("BACKGROUND_JOB", extra)
    event.body = body
    session.switch.core.fire(event)
    for action in post:
        session.switch.run_locked(action)


def _event(session: Session, args: str, headers: dict[str, str]) -> None:
    words = args.split()
    if words and words[0] in wire.FORMATS:
        session.fmt = words.pop(0)
    if not words:
        session.send(wire.command_reply("-ERR no keywords supplied"))
        return
    session.events.update(w for w in words if w != "CUSTOM")
    session.send(wire.command_reply(f"+OK event listener enabled {session.fmt}"))


def _nixevent(session: Session, args: str, headers: dict[str, str]) -> None:
    words = args.split()
    if not words:
        session.send(wire.command_reply("-ERR no keywords supplied"))
        return
    session.events.difference_update(words)
    session.send(wire.command_reply("+OK events nixed"))


def _noevents(session: Session, args: str, headers: dict[str, str]) -> None:
    if not session.events:
        session.send(wire.command_reply("-ERR not listening for events"))
        return
    session.events.clear()
    session.send(wire.command_reply("+OK no longer listening for events"))


def _filter(session: Session, args: str, headers: dict[str, str]) -> None:
    words = args.split(" ")
    if words[0] == "delete":
        _filter_delete(session, words[1:])
        return
    if words[0] == "add":
        words = words[1:]
    if len(words) < 2 or not words[1]:
        session.send(wire.command_reply("-ERR invalid syntax"))
        return
    name, value = words[0], " ".join(words[1:])
    session.filters.append((name, value))
    session.send(wire.command_reply(f"+OK filter added. [{name}]=[{value}]"))


def _filter_delete(session: Session, words: list[str]) -> None:
    name = words[0] if words else ""
    value = " ".join(words[1:])
    if name == "all":
        session.filters.clear()
    elif value:
        session.filters = [f for f in session.filters if f != (name, value)]
    else:
        session.filters = [f for f in session.filters if f[0] != name]
    session.send(wire.command_reply(f"+OK filter deleted. [{name}][{value}]"))


def _exit(session: Session, args: str, headers: dict[str, str]) -> None:
    session.send(wire.command_reply("+OK bye"))
    extra: tuple[tuple[str, str], ...] = ()
    if session.bound_uuid:
        extra = (
            ("Controlled-Session-UUID", session.bound_uuid),
            ("Content-Disposition", "disconnect"),
        )
    session.send(wire.disconnect_notice(*extra))
    session.close_after_flush()
    session.closed = True


def _connect(session: Session, args: str, headers: dict[str, str]) -> None:
    """Outbound mode: the reply is the channel's data with a command/reply trailer."""
    ch = session.switch.core.locate(session.bound_uuid or "")
    if not session.outbound or ch is None:
        session.send(wire.command_reply("-ERR command not found"))
        return
    core = session.switch.core
    event = core.channel_event(ch, "CHANNEL_DATA", "connect")
    event.headers += [
        ("Content-Type", "command/reply"),
        ("Reply-Text", "+OK\n"),
        ("Socket-Mode", "async"),
        ("Control", "full"),
    ]
    session.send(wire.serialize_plain(event).encode())
    core.later(lambda: session.switch.run_locked(lambda: dialplan.park(core, ch)))


def _myevents(session: Session, args: str, headers: dict[str, str]) -> None:
    if session.outbound and not session.events_enabled:
        session.events_enabled = True
        session.send(wire.command_reply("+OK Events Enabled"))
        return
    if session.events_enabled:
        session.send(wire.command_reply("-ERR aready enabled."))
        return
    words = args.split()
    uuid = words[-1] if words else ""
    if words and words[0] in wire.FORMATS:
        session.fmt = words[0]
    if not uuid or session.switch.core.locate(uuid) is None:
        session.send(wire.command_reply("-ERR invalid uuid"))
        return
    session.bound_uuid = uuid
    session.events_enabled = True
    session.send(wire.command_reply("+OK Events Enabled"))


def _linger(session: Session, args: str, headers: dict[str, str]) -> None:
    if not session.bound_uuid:
        session.send(wire.command_reply("-ERR not controlling a session"))
        return
    if args.strip().lstrip("-").isdigit():
        session.linger = int(args)
        session.send(wire.command_reply(f"+OK will linger {session.linger} seconds"))
    else:
        session.linger = -1
        session.send(wire.command_reply("+OK will linger"))


def _nolinger(session: Session, args: str, headers: dict[str, str]) -> None:
    if not session.bound_uuid:
        session.send(wire.command_reply("-ERR not controlling a session"))
        return
    session.linger = None
    session.send(wire.command_reply("+OK will not linger"))


def _divert(session: Session, args: str, headers: dict[str, str]) -> None:
    if not session.bound_uuid:
        session.send(wire.command_reply("-ERR not controlling a session."))
        return
    session.send(wire.command_reply("+OK events diverted"))


def _log(session: Session, args: str, headers: dict[str, str]) -> None:
    level = args.strip() or "7"
    session.logging = True
    session.send(wire.command_reply(f"+OK log level {level} [{level}]"))


def _nolog(session: Session, args: str, headers: dict[str, str]) -> None:
    if not session.logging:
        session.send(wire.command_reply("-ERR not loging"))
        return
    session.logging = False
    session.send(wire.command_reply("+OK no longer logging"))


def _sendmsg(session: Session, args: str, headers: dict[str, str]) -> None:
    uuid = args.strip() or session.bound_uuid or ""
    lowered = {k.lower(): v for k, v in headers.items()}
    core = session.switch.core
    ch = core.locate(uuid)
    if ch is None:
        session.send(wire.command_reply(f"-ERR invalid session id [{uuid}]"))
        return
    session.send(wire.command_reply("+OK"))
    command = lowered.get("call-command")
    if command == "hangup":
        cause = lowered.get("hangup-cause", "NORMAL_CLEARING")
        session.switch.run_locked(lambda: session.switch.hangup(uuid, cause))
    elif command == "execute":
        msg = apps.Message(
            app=lowered.get("execute-app-name", ""),
            arg=lowered.get("execute-app-arg", ""),
            uuid=lowered.get("event-uuid", ""),
            locked=lowered.get("event-lock", "").lower() == "true",
        )
        session.switch.run_locked(lambda: apps.enqueue(ch, msg))


def _auth_again(session: Session, args: str, headers: dict[str, str]) -> None:
    session.send(wire.command_reply("-ERR command not found"))


Command = Callable[[Session, str, dict[str, str]], None]
COMMANDS: dict[str, Command] = {
    "api": _api,
    "bgapi": _bgapi,
    "event": _event,
    "nixevent": _nixevent,
    "noevents": _noevents,
    "filter": _filter,
    "exit": _exit,
    "myevents": _myevents,
    "linger": _linger,
    "nolinger": _nolinger,
    "divert_events": _divert,
    "log": _log,
    "nolog": _nolog,
    "sendmsg": _sendmsg,
    "connect": _connect,
}
