"""The daemon's one inbound ESL client (the project's own; greenswitch is only the
baseline of bench/ingest.py, see the README's design section for why).

What it does that greenswitch's InboundESL does not (reference section 4.1): a frame parser
that splits headers before URL-decoding and keeps bodies (`esl.frames`); a timeout on every
command, with timed `sendall` under a lock (`esl.requests`); `EslAuthError` on a bad
password, plus retries; reconnect by a supervisor greenlet with capped exponential backoff
and full jitter; pending commands failed at once with `EslDisconnected` when the
connection drops.

Never blind: a frame the parser rejects (bad or oversized Content-Length, no end of header
block, an event that does not parse) is counted and logged, and the connection is dropped,
so the supervisor reconnects and `on_connect` resyncs: a stream that was wrong once cannot
be trusted to be framed right after. Liveness: a node that sends nothing (no event, no reply)
is probed with `api status` after a third of `esl.liveness_timeout`, and declared dead and
dropped once the whole timeout passed in silence; TCP keepalive backs that up.

Greenlets: a supervisor (connect, authenticate, subscribe, wait, back off, again; here);
one reader per connection (reads of up to 1 MiB, parse, resolve replies and bgapi jobs,
queue events: `esl.reader`) and one watchdog (liveness); one dispatcher (on_connect, then
on_event per event in arrival order, on_disconnect: `esl.dispatch`). A slow handler only
grows the queue; replies are resolved by the reader and never wait for it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket as _stdsocket
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event
import gevent.socket

from ..backoff import full_jitter
from ..errors import (
    EslAuthError,
    EslCommandError,
    EslConnectError,
    EslDisconnected,
    EslError,
    EslLinkLost,
    InvalidArgument,
)
from .commands import event_subscription, status
from .connection import (
    CONNECTED,
    Connection,
    Inbox,
    NullMetric,
    check_line,
)
from .dispatch import Dispatcher
from .frames import Event, FrameParser, MalformedFrame, Message
from .liveness import enable_keepalive, watch
from .reader import Reader
from .requests import Requests

if TYPE_CHECKING:
    from ..metrics import Metrics
    from ..settings import EslSettings, NodeSettings

__all__ = ["EslClient"]

log = logging.getLogger(__name__)

EventHandler = Callable[["EslClient", Event], None]
ClientHook = Callable[["EslClient"], None]


class EslClient:
    """Inbound ESL connection to one FreeSWITCH node that stays up by itself."""

    def __init__(
        self,
        node: NodeSettings,
        esl: EslSettings,
        *,
        events: Sequence[str],
        on_event: EventHandler,
        on_connect: ClientHook | None = None,
        on_disconnect: ClientHook | None = None,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
    ) -> None:
        check_line("node password", node.password)
        self._subscription = event_subscription(events) if events else ""
        self._node = node
        self.node_name: str = node.name  # read for every event: an attribute, not a property
        self._esl = esl
        self._events = tuple(events)
        self.on_event = on_event
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self._rng = rng or random.Random()
        self._address = f"{node.host}:{node.port}"
        self._conn: Connection | None = None  # the ready connection, if any
        self._latest: Connection | None = None  # the newest connection, ready or not
        self._inbox = Inbox()
        self._ready = gevent.event.Event()
        self._stopping = False
        self._supervisor: gevent.Greenlet | None = None
        self._dispatcher: gevent.Greenlet | None = None
        self._last_error: str | None = None
        self._streak: str | None = None  # kind of the current run of failures
        self._streak_len = 0
        self._seq = 0
        self._init_metrics(metrics)
        self._reader = Reader(node.name, self._address, self._inbox, metrics, self._close)
        self._requests = Requests(node.name, self._close)

    def _init_metrics(self, metrics: Metrics | None) -> None:
        node = self._node.name
        self._metrics = metrics
        null = NullMetric()
        self._m_connected = metrics.esl_connected.labels(node=node) if metrics else null
        self._m_reconnects = metrics.esl_reconnects.labels(node=node) if metrics else null
        self._m_auth = metrics.esl_auth_failures.labels(node=node) if metrics else null
        self._m_depth = metrics.esl_event_queue_depth.labels(node=node) if metrics else null
        self._m_lag = metrics.esl_event_lag.labels(node=node) if metrics else null

    def _watch_depth(self, running: bool) -> None:
        """The queue-depth gauge is read at scrape time: nothing to update per event."""
        inbox = self._inbox
        self._m_depth.set_function((lambda: inbox.events) if running else (lambda: 0))

    # ------------------------------------------------------------------ public API

    @property
    def connected(self) -> bool:
        """True while authenticated and subscribed on a live connection: false from the
        moment the connection drops or the node is declared dead (esl.liveness_timeout),
        so it is the node's readiness."""
        conn = self._conn
        return conn is not None and conn.ready and not conn.closed.is_set()

    @property
    def silent_for(self) -> float | None:
        """Seconds since the node last sent anything (None while not connected)."""
        conn = self._conn
        if conn is None or not self.connected:
            return None
        return max(0.0, time.monotonic() - conn.last_heard)

    @property
    def last_error(self) -> str | None:
        """Why the last connection attempt failed or the connection ended (None when up)."""
        return self._last_error

    @property
    def queue_depth(self) -> int:
        """Events read but not handled yet."""
        return self._inbox.events

    def start(self) -> None:
        """Connect in the background and keep connected until stop()."""
        if self._supervisor is not None:
            return
        self._stopping = False
        self._watch_depth(True)
        self._dispatcher = gevent.spawn(Dispatcher(self, self._inbox, self._m_lag).run)
        self._supervisor = gevent.spawn(self._supervise)

    def stop(self) -> None:
        """Say exit if connected, stop every greenlet, fail pending commands."""
        self._stopping = True
        conn = self._conn
        if conn is not None and self.connected:
            with contextlib.suppress(EslError):
                deadline = time.monotonic() + min(1.0, self._esl.command_timeout)
                self._requests.request(conn, "exit", deadline)
        self._kill(self._supervisor)
        if self._latest is not None:
            self._close(self._latest, "client stopped")
            self._kill(self._latest.reader)
            self._kill(self._latest.watchdog)
        self._kill(self._dispatcher)
        self._supervisor = self._dispatcher = None
        self._watch_depth(False)

    def wait_connected(self, timeout: float | None = None) -> bool:
        return bool(self._ready.wait(timeout))

    def api(self, command: str, timeout: float | None = None) -> str:
        """Run `api <command>` and return its output as is (a -ERR is not raised)."""
        check_line("api command", command)
        return self._text(self._call(f"api {command}", timeout))

    def command(self, line: str, timeout: float | None = None) -> str:
        """Send one raw socket command (e.g. `filter ...`) and return its Reply-Text."""
        check_line("command", line)
        return self._text(self._call(line, timeout))

    def message(self, text: str, timeout: float | None = None) -> str:
        """Send one multi-line socket message built by esl.commands (`sendmsg` and its
        header lines) and return its Reply-Text. A blank line inside would end it early."""
        if "\r" in text or "\n\n" in text or not text.strip():
            raise InvalidArgument("a socket message is header lines without blank lines")
        return self._text(self._call(text, timeout))

    def bgapi(self, command: str, timeout: float | None = None,
              job_uuid: str | None = None) -> str:
        """Run `bgapi <command>` and return the body of its BACKGROUND_JOB event.

        Needs BACKGROUND_JOB among the subscribed events. When FreeSWITCH refuses the
        command itself (Reply-Text not +OK) that Reply-Text is returned.
        """
        check_line("bgapi command", command)
        if not {"BACKGROUND_JOB", "ALL", "all"} & set(self._events):
            raise RuntimeError("bgapi needs BACKGROUND_JOB in the subscribed events")
        if job_uuid and any(c.isspace() for c in job_uuid):  # ours need no check
            raise InvalidArgument(f"bad Job-UUID {job_uuid!r}")
        deadline = self._deadline(timeout)
        return self._requests.job(self._live(), command, job_uuid or str(uuid.uuid4()),
                                  deadline)

    # ------------------------------------------------------------------ commands

    def _deadline(self, timeout: float | None) -> float:
        return time.monotonic() + (self._esl.command_timeout if timeout is None else timeout)

    def _live(self) -> Connection:
        conn = self._conn
        if conn is None or self._stopping or conn.closed.is_set():
            raise EslDisconnected(f"not connected to node {self._node.name} ({self._address})")
        return conn

    def _call(self, data: str, timeout: float | None) -> Message:
        return self._requests.request(self._live(), data, self._deadline(timeout))

    @staticmethod
    def _text(reply: Message) -> str:
        if reply.content_type == "api/response":
            return reply.body_text()
        return reply.reply_text

    # ------------------------------------------------------------------ connection lifecycle

    def _supervise(self) -> None:
        failures = 0
        first = True
        while not self._stopping:
            if not first:
                self._m_reconnects.inc()
            first = False
            conn = self._open()
            if conn is not None:
                failures = 0
                conn.closed.wait()
                self._note_failure("closed", f"connection to {self._address} ended: "
                                   f"{conn.close_reason}", logging.WARNING)
            if not self._stopping:  # set meanwhile by stop()
                gevent.sleep(self._backoff(failures))
                failures += 1

    def _backoff(self, failures: int) -> float:
        return full_jitter(failures, self._esl.reconnect_initial_delay,
                           self._esl.reconnect_max_delay, self._rng.random)

    def _open(self) -> Connection | None:
        try:
            sock = self._dial()
        except OSError as exc:
            self._note_failure("connect", f"cannot connect to {self._address}: {exc}",
                               logging.WARNING)
            return None
        self._seq += 1

        def malformed(frame: MalformedFrame) -> None:
            self._reader.malformed(conn, frame)

        conn = Connection(sock, FrameParser(malformed), self._seq, time.monotonic())
        self._latest = conn
        self._inbox.put((CONNECTED, conn, None))
        conn.reader = gevent.spawn(self._reader.run, conn)
        try:
            self._handshake(conn)
        except EslAuthError as exc:
            self._m_auth.inc()
            self._fail_open(conn, "auth", str(exc), logging.ERROR)
            return None
        except EslError as exc:
            self._fail_open(conn, "handshake", str(exc), logging.WARNING)
            return None
        self._mark_ready(conn)
        return conn

    def _dial(self) -> Any:
        sock = gevent.socket.create_connection(
            (self._node.host, self._node.port), timeout=self._esl.connect_timeout)
        sock.settimeout(None)
        sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
        enable_keepalive(sock, self._esl.liveness_timeout)
        return sock

    def _handshake(self, conn: Connection) -> None:
        limit = self._esl.connect_timeout
        deadline = time.monotonic() + limit
        if not conn.auth_request.wait(limit):
            raise EslConnectError(f"no auth/request from {self._address} within {limit:g} s")
        if conn.closed.is_set():
            why = "rejected by its ACL" if conn.rejected else conn.close_reason
            raise EslConnectError(f"{self._address} closed the connection before auth: {why}")
        reply = self._requests.request(conn, f"auth {self._node.password}", deadline)
        if reply.reply_text != "+OK accepted":
            raise EslAuthError(f"authentication refused by {self._address}")
        if self._subscription:
            reply = self._requests.request(conn, self._subscription, self._deadline(None))
            if not reply.reply_text.startswith("+OK"):
                raise EslCommandError(self._subscription, reply.reply_text)
        if conn.closed.is_set():
            raise EslDisconnected(f"connection to {self._address} closed during setup")

    def _fail_open(self, conn: Connection, kind: str, message: str, level: int) -> None:
        self._close(conn, message)
        conn.handshake_done.set()
        self._note_failure(kind, message, level)

    def _mark_ready(self, conn: Connection) -> None:
        conn.ready = True
        self._conn = conn
        self._last_error = None
        if self._streak_len:
            log.info("ESL node %s: connected to %s after %d failed attempt(s)",
                     self._node.name, self._address, self._streak_len)
        else:
            log.info("ESL node %s: connected to %s", self._node.name, self._address)
        self._streak, self._streak_len = None, 0
        self._m_connected.set(1)
        self._ready.set()
        conn.handshake_done.set()
        conn.watchdog = gevent.spawn(watch, conn, self._esl.liveness_timeout, self._probe,
                                     self._declare_dead)

    # ------------------------------------------------------------------ liveness

    def _probe(self, conn: Connection, deadline: float) -> None:
        gevent.spawn(self._probe_now, conn, deadline)

    def _probe_now(self, conn: Connection, deadline: float) -> None:
        try:
            self._requests.request(conn, "api " + status(), deadline)  # any reply counts as heard
        except EslError as exc:
            log.debug("ESL node %s: liveness probe failed: %s", self._node.name, exc)
        finally:
            conn.probing = False

    def _declare_dead(self, conn: Connection, silent: float) -> None:
        log.warning("ESL node %s: nothing from %s for %.1f s (esl.liveness_timeout %g s): "
                    "declaring it dead and reconnecting", self._node.name, self._address,
                    silent, self._esl.liveness_timeout)
        self._close(conn, f"silent for {silent:.1f} s")

    def _note_failure(self, kind: str, message: str, level: int) -> None:
        """Record an error; log it loudly once per streak of the same kind, then at DEBUG."""
        self._last_error = message
        if self._stopping:
            return
        self._streak_len += 1
        if kind != self._streak:
            self._streak = kind
            log.log(level, "ESL node %s: %s (retrying with backoff)", self._node.name, message)
        else:
            log.debug("ESL node %s: %s (attempt %d)", self._node.name, message, self._streak_len)

    def _close(self, conn: Connection, reason: str) -> None:
        """Idempotent: close the socket, fail whatever waits on this connection."""
        if conn.closed.is_set():
            return
        conn.close_reason = reason
        conn.closed.set()
        if self._conn is conn:
            self._conn = None
            self._ready.clear()
            self._m_connected.set(0)
        with contextlib.suppress(OSError):
            conn.sock.close()
        gone = EslLinkLost(f"connection to node {self._node.name} lost: {reason}")
        while conn.pending:
            result = conn.pending.popleft()
            if not result.ready():
                result.set_exception(gone)
        for result in conn.jobs.values():
            if not result.ready():
                result.set_exception(gone)
        conn.auth_request.set()  # wake a handshake still waiting for the greeting
        conn.handshake_done.set()

    @staticmethod
    def _kill(greenlet: gevent.Greenlet | None) -> None:
        if greenlet is not None and greenlet is not gevent.getcurrent():
            greenlet.kill(block=True, timeout=5)
