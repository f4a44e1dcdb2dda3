"""The daemon's one inbound ESL client (the project's own; greenswitch is only the
baseline of bench/ingest.py, see the README's design section for why).

What it does that greenswitch's InboundESL does not (reference section 4.1): a frame parser
that splits headers before URL-decoding and keeps bodies (`esl.frames`); a timeout on every
command, with timed `sendall` under a lock; `EslAuthError` on a bad password, plus retries;
reconnect by a supervisor greenlet with capped exponential backoff and full jitter; pending
commands failed at once with `EslDisconnected` when the connection drops.

Never blind: a frame the parser rejects (bad or oversized Content-Length, no end of header
block, an event that does not parse) is counted and logged, and the connection is dropped,
so the supervisor reconnects and `on_connect` resyncs: a stream that was wrong once cannot
be trusted to be framed right after. Liveness: a node that sends nothing (no event, no reply)
is probed with `api status` after a third of `esl.liveness_timeout`, and declared dead and
dropped once the whole timeout passed in silence; TCP keepalive backs that up.

Greenlets: a supervisor (connect, authenticate, subscribe, wait, back off, again); one reader
per connection (256 KiB recv, parse, resolve replies and bgapi jobs, queue events) and one
watchdog (liveness); one dispatcher (on_connect, then on_event per event in arrival order,
on_disconnect). A slow handler only grows the queue; replies are resolved by the reader and
never wait for it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket as _stdsocket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any, cast

import gevent
import gevent.event
import gevent.lock
import gevent.socket

from ..backoff import full_jitter
from ..errors import (
    EslAuthError,
    EslCommandError,
    EslConnectError,
    EslDisconnected,
    EslError,
    EslTimeout,
    InvalidArgument,
)
from . import events as ev
from .commands import event_subscription, status
from .connection import (
    CONNECTED,
    DISCONNECTED,
    EVENTS,
    Connection,
    Inbox,
    NullMetric,
    SendTimeout,
    check_line,
    describe,
)
from .frames import (
    EVENT_CONTENT_TYPES,
    Event,
    FrameParser,
    MalformedFrame,
    Message,
    PlainEvent,
    parse_event,
)
from .liveness import enable_keepalive, watch

if TYPE_CHECKING:
    from ..metrics import Metrics
    from ..settings import EslSettings, NodeSettings

__all__ = ["EslClient"]

log = logging.getLogger(__name__)

EventHandler = Callable[["EslClient", Event], None]
ClientHook = Callable[["EslClient"], None]

RECV_SIZE = 256 * 1024  # a bigger read means fewer syscalls and handoffs per event
_event_name = attrgetter("name")
_STOP = object()  # returned by a message handler: end this connection


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
        self._on_event = on_event
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
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

    def _init_metrics(self, metrics: Metrics | None) -> None:
        node = self._node.name
        self._metrics = metrics
        null = NullMetric()
        self._m_connected = metrics.esl_connected.labels(node=node) if metrics else null
        self._m_reconnects = metrics.esl_reconnects.labels(node=node) if metrics else null
        self._m_auth = metrics.esl_auth_failures.labels(node=node) if metrics else null
        self._m_malformed = metrics.esl_malformed_frames.labels(node=node) if metrics else null
        self._m_depth = metrics.esl_event_queue_depth.labels(node=node) if metrics else null
        self._m_last_event = (
            metrics.esl_last_event_timestamp.labels(node=node) if metrics else null)
        self._m_lag = metrics.esl_event_lag.labels(node=node) if metrics else null
        self._m_events: dict[str, Any] = {}

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
        self._dispatcher = gevent.spawn(self._dispatch_loop)
        self._supervisor = gevent.spawn(self._supervise)

    def stop(self) -> None:
        """Say exit if connected, stop every greenlet, fail pending commands."""
        self._stopping = True
        conn = self._conn
        if conn is not None and self.connected:
            with contextlib.suppress(EslError):
                self._request(conn, "exit", time.monotonic() + min(1.0, self._esl.command_timeout))
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
        job = job_uuid or str(uuid.uuid4())
        deadline = self._deadline(timeout)
        conn = self._live()
        result = gevent.event.AsyncResult()
        conn.jobs[job] = result  # before sending: the event may race the reply
        try:
            reply = self._request(conn, f"bgapi {command}\nJob-UUID: {job}", deadline)
            if not reply.reply_text.startswith("+OK"):
                return reply.reply_text
            return str(self._wait(result, deadline, f"bgapi {command.split(' ', 1)[0]}"))
        finally:
            conn.jobs.pop(job, None)

    # ------------------------------------------------------------------ commands

    def _deadline(self, timeout: float | None) -> float:
        return time.monotonic() + (self._esl.command_timeout if timeout is None else timeout)

    def _live(self) -> Connection:
        conn = self._conn
        if conn is None or self._stopping or conn.closed.is_set():
            raise EslDisconnected(f"not connected to node {self._node.name} ({self._address})")
        return conn

    def _call(self, data: str, timeout: float | None) -> Message:
        deadline = self._deadline(timeout)
        return self._request(self._live(), data, deadline)

    @staticmethod
    def _text(reply: Message) -> str:
        if reply.content_type == "api/response":
            return reply.body_text()
        return reply.reply_text

    def _wait(self, result: gevent.event.AsyncResult, deadline: float, what: str) -> Any:
        try:
            return result.get(timeout=max(0.0, deadline - time.monotonic()))
        except gevent.Timeout:
            raise EslTimeout(f"{what}: no reply from node {self._node.name} in time") from None

    def _request(self, conn: Connection, data: str, deadline: float) -> Message:
        """Write one command and wait for its reply, all before `deadline`."""
        what = describe(data)
        result = gevent.event.AsyncResult()
        if not conn.send_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise EslTimeout(f"{what}: socket busy on node {self._node.name}")
        try:
            if conn.closed.is_set():
                raise EslDisconnected(f"{what}: connection to {self._node.name} closed")
            conn.pending.append(result)
            self._write(conn, (data + "\n\n").encode("utf-8"), deadline, what)
        finally:
            conn.send_lock.release()
        reply: Message = self._wait(result, deadline, what)
        return reply

    def _write(self, conn: Connection, payload: bytes, deadline: float, what: str) -> None:
        try:
            with gevent.Timeout(max(0.001, deadline - time.monotonic()), SendTimeout):
                conn.sock.sendall(payload)
        except SendTimeout:
            self._close(conn, "write timed out")  # a partial command would desync the FIFO
            raise EslTimeout(f"{what}: write to node {self._node.name} timed out") from None
        except OSError as exc:
            self._close(conn, f"write failed: {exc}")
            raise EslDisconnected(f"{what}: write to node {self._node.name} failed") from exc
        except BaseException:
            self._close(conn, "write interrupted")
            raise

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
            if self._stopping:
                break
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
            self._malformed(conn, frame)

        conn = Connection(sock, FrameParser(malformed), self._seq, time.monotonic())
        self._latest = conn
        self._inbox.put((CONNECTED, conn, None))
        conn.reader = gevent.spawn(self._read_loop, conn)
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
        reply = self._request(conn, f"auth {self._node.password}", deadline)
        if reply.reply_text != "+OK accepted":
            raise EslAuthError(f"authentication refused by {self._address}")
        if self._subscription:
            reply = self._request(conn, self._subscription, self._deadline(None))
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
            self._request(conn, "api " + status(), deadline)  # any reply counts as heard
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
        gone = EslDisconnected(f"connection to node {self._node.name} lost: {reason}")
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

    # ------------------------------------------------------------------ reader

    def _read_loop(self, conn: Connection) -> None:
        reason = "closed by FreeSWITCH"
        try:
            reason = self._read_until_end(conn)
        except OSError as exc:
            reason = f"read error: {exc}"
        except Exception:
            log.exception("ESL node %s: reader failed", self._node.name)
            reason = "reader failed"
        finally:
            self._flush(conn)
            self._close(conn, reason)
            self._inbox.put((DISCONNECTED, conn, None))

    def _read_until_end(self, conn: Connection) -> str:
        recv, parser = conn.sock.recv, conn.parser
        feed, monotonic = parser.feed_events, time.monotonic
        while True:
            data = recv(RECV_SIZE)
            if not data:
                parser.close()
                return "closed by FreeSWITCH"
            conn.last_heard = monotonic()
            items = feed(data)
            if parser.others:  # replies, notices, json/xml events: one at a time, in order
                stop = self._sort(conn, items)
                if stop is not None:
                    return stop
            elif items:  # nothing but PlainEvents: the list is the batch
                conn.batch.extend(cast("list[Event]", items))
            self._flush(conn)
            if conn.malformed:  # what follows a bad frame cannot be trusted
                return f"malformed frame: {conn.malformed}"
            gevent.sleep(0)  # let waiters and the dispatcher run between chunks

    def _sort(self, conn: Connection, items: list[Message | PlainEvent]) -> str | None:
        """Events to the batch, other messages handled now; a reason when the link must end."""
        append, on_message = conn.batch.append, self._on_message
        for item in items:
            if isinstance(item, PlainEvent):
                append(item)
            elif item.content_type == "text/event-plain":
                self._on_plain_event(conn, item)
            elif on_message(conn, item) is _STOP:
                return self._stop_reason(conn, item)
        return None

    def _on_plain_event(self, conn: Connection, msg: Message) -> None:
        try:
            event: Event = PlainEvent.from_bytes(msg.body)
        except EslError as exc:
            self._malformed(conn, MalformedFrame(f"unparsable event: {exc}", msg.body))
            return
        conn.batch.append(event)

    @staticmethod
    def _resolve_jobs(conn: Connection, batch: list[Event]) -> None:
        for event in batch:
            if event.name == "BACKGROUND_JOB":
                job = conn.jobs.pop(event.get("Job-UUID") or "", None)
                if job is not None:
                    job.set(event.body or "")

    def _flush(self, conn: Connection) -> None:
        """Hand this chunk's events to the dispatcher in one go, and count them."""
        batch = conn.batch
        if not batch:
            return
        conn.batch = []
        if conn.jobs:
            self._resolve_jobs(conn, batch)
        for name, n in Counter(map(_event_name, batch)).items():
            self._event_counter(name).inc(n)
        self._m_last_event.set(time.time())
        self._inbox.put((EVENTS, conn, batch))

    def _event_counter(self, name: str) -> Any:
        counter = self._m_events.get(name)
        if counter is None:
            counter = self._m_events[name] = (
                self._metrics.esl_events.labels(event=name) if self._metrics else NullMetric())
        return counter

    def _stop_reason(self, conn: Connection, msg: Message) -> str:
        if msg.content_type == "text/rude-rejection":
            return "rejected by FreeSWITCH's ACL"
        return "disconnect notice from FreeSWITCH"

    def _on_message(self, conn: Connection, msg: Message) -> object:
        ctype = msg.content_type
        if ctype in EVENT_CONTENT_TYPES:
            self._on_event_message(conn, msg)
        elif ctype == "command/reply" or ctype == "api/response":
            self._on_reply(conn, msg)
        elif ctype == "auth/request":
            conn.auth_request.set()
        elif ctype == "text/disconnect-notice":
            if msg.headers.get("Content-Disposition") == "linger":
                log.info("ESL node %s: linger notice", self._node.name)
                return None
            log.info("ESL node %s: FreeSWITCH said goodbye", self._node.name)
            return _STOP
        elif ctype == "text/rude-rejection":
            conn.rejected = True
            log.error("ESL node %s: %s refused the connection (ACL): %s", self._node.name,
                      self._address, msg.body_text().strip())
            return _STOP
        elif ctype != "log/data":
            log.debug("ESL node %s: ignoring %s message", self._node.name, ctype)
        return None

    def _on_reply(self, conn: Connection, msg: Message) -> None:
        if not conn.pending:
            log.warning("ESL node %s: %s with no command waiting: %r", self._node.name,
                        msg.content_type, msg.reply_text or msg.body[:80])
            return
        conn.pending.popleft().set(msg)

    def _on_event_message(self, conn: Connection, msg: Message) -> None:
        try:
            event = parse_event(msg)
        except EslError as exc:
            self._malformed(conn, MalformedFrame(f"unparsable event: {exc}", msg.body))
            return
        conn.batch.append(event)

    def _malformed(self, conn: Connection, frame: MalformedFrame) -> None:
        """Count and log (what was wrong, never the bytes); the reader then drops `conn`."""
        self._m_malformed.inc()
        if conn.malformed or conn.closed.is_set():
            return  # one line per connection: the rest is the same garbage
        conn.malformed = frame.reason
        log.warning("ESL node %s: malformed frame from %s (%s; %d bytes): dropping the "
                    "connection to reconnect and resync", self._node.name, self._address,
                    frame.reason, len(frame.data))

    # ------------------------------------------------------------------ dispatcher

    def _dispatch_loop(self) -> None:
        inbox = self._inbox
        while not self._stopping:
            kind, conn, batch = inbox.get()
            if batch is not None:
                self._deliver_batch(batch)
            elif kind == CONNECTED:
                self._connected(conn)
            elif kind == DISCONNECTED and conn.announced:
                conn.announced = False
                self._hook(self._on_disconnect, "on_disconnect")

    def _deliver_batch(self, batch: list[Event]) -> None:
        on_event = self._on_event
        if batch:
            self._observe_lag(batch[0])
        try:
            for event in batch:
                try:
                    on_event(self, event)
                except Exception:
                    self._handler_failed(event)
        finally:
            self._inbox.events -= len(batch)  # a batch is one received chunk

    def _observe_lag(self, oldest: Event) -> None:
        """Now minus Event-Date-Timestamp of a batch's oldest event, as it is handed over
        (once per received chunk: a header lookup and a histogram per event would cost
        the hot path more than the sample is worth)."""
        at = ev.event_time(oldest)
        if at is not None:
            self._m_lag.observe(max(0.0, time.time() - at))

    def _handler_failed(self, event: Event) -> None:
        log.exception("ESL node %s: on_event failed for %s (Unique-ID %s)",
                      self._node.name, event.name, event.get("Unique-ID"))

    def _connected(self, conn: Connection) -> None:
        conn.handshake_done.wait()
        if conn.ready:
            conn.announced = True
            self._hook(self._on_connect, "on_connect")

    def _hook(self, hook: ClientHook | None, what: str) -> None:
        if hook is None:
            return
        try:
            hook(self)
        except Exception:
            log.exception("ESL node %s: %s failed", self._node.name, what)
