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

from esl_recorder.testing.fakeswitch import socket_commands, wire
from esl_recorder.testing.fakeswitch.wire import Event

if TYPE_CHECKING:
    from esl_recorder.testing.fakeswitch.server import FakeSwitch

log = logging.getLogger(__name__)

CHANNEL_EVENT_PREFIXES = ("CHANNEL_", "DTMF", "CALL_")  # what myevents delivers


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
        held = self.switch.held(line)
        if held is not None:
            held.released.wait()
        try:
            self._execute(line, headers)
        finally:
            if held is not None:
                held.ran.set()

    def _execute(self, line: str, headers: dict[str, str]) -> None:
        if not self.authed:
            self._before_auth(line)
            return
        name, _, args = line.partition(" ")
        handler = socket_commands.COMMANDS.get(name)
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
