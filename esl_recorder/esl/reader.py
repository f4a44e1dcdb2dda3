"""The reader of an inbound ESL connection: bytes in, replies to the commands waiting for
them, events in batches to the client's dispatcher (esl.client)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, cast

import gevent

from ..errors import EslError
from .connection import DISCONNECTED, EVENTS, Connection, Inbox, NullMetric
from .event_types import Event, PlainEvent
from .frames import EVENT_CONTENT_TYPES, MalformedFrame, Message, parse_event

if TYPE_CHECKING:
    from ..metrics import Metrics

log = logging.getLogger(__name__)

# A read's size: small while events come a few at a time (a buffer this size is taken from
# the heap; a larger one is mapped and unmapped by every read), large after a read that
# returned that much or more (a burst: fewer reads and handoffs per event).
RECV_SIZE = 1 << 16
BURST_RECV_SIZE = 1 << 20
_event_name = attrgetter("name")
_STOP = object()  # returned by a message handler: end this connection


class Reader:
    """Reads one node's connections, one at a time (`run` is a connection's greenlet).

    A chunk's events go to the inbox as one batch, counted by name; replies resolve the
    oldest pending command, a BACKGROUND_JOB its bgapi call. A frame the parser rejects is
    counted and logged, and ends the connection (`close`): nothing after it can be trusted.
    """

    def __init__(self, node: str, address: str, inbox: Inbox, metrics: Metrics | None,
                 close: Callable[[Connection, str], None]) -> None:
        self._node = node
        self._address = address
        self._inbox = inbox
        self._close = close
        self._metrics = metrics
        null = NullMetric()
        self._m_malformed = metrics.esl_malformed_frames.labels(node=node) if metrics else null
        self._m_last_event = (
            metrics.esl_last_event_timestamp.labels(node=node) if metrics else null)
        self._m_events: dict[str, Any] = {}

    def run(self, conn: Connection) -> None:
        """Read `conn` until it ends; then close it and tell the dispatcher."""
        reason = "closed by FreeSWITCH"
        try:
            reason = self._read_until_end(conn)
        except OSError as exc:
            reason = f"read error: {exc}"
        except Exception:
            log.exception("ESL node %s: reader failed", self._node)
            reason = "reader failed"
        finally:
            self._flush(conn)
            self._close(conn, reason)
            self._inbox.put((DISCONNECTED, conn, None))

    def _read_until_end(self, conn: Connection) -> str:
        recv, parser = conn.sock.recv, conn.parser
        feed, monotonic = parser.feed_events, time.monotonic
        size = RECV_SIZE
        while True:
            data = recv(size)
            if not data:
                parser.close()
                return "closed by FreeSWITCH"
            conn.last_heard = monotonic()
            size = BURST_RECV_SIZE if len(data) >= RECV_SIZE else RECV_SIZE
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
            self.malformed(conn, MalformedFrame(f"unparsable event: {exc}", msg.body))
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
                log.info("ESL node %s: linger notice", self._node)
                return None
            log.info("ESL node %s: FreeSWITCH said goodbye", self._node)
            return _STOP
        elif ctype == "text/rude-rejection":
            conn.rejected = True
            log.error("ESL node %s: %s refused the connection (ACL): %s", self._node,
                      self._address, msg.body_text().strip())
            return _STOP
        elif ctype != "log/data":
            log.debug("ESL node %s: ignoring %s message", self._node, ctype)
        return None

    def _on_reply(self, conn: Connection, msg: Message) -> None:
        if not conn.pending:
            log.warning("ESL node %s: %s with no command waiting: %r", self._node,
                        msg.content_type, msg.reply_text or msg.body[:80])
            return
        conn.pending.popleft().set(msg)

    def _on_event_message(self, conn: Connection, msg: Message) -> None:
        try:
            event = parse_event(msg)
        except EslError as exc:
            self.malformed(conn, MalformedFrame(f"unparsable event: {exc}", msg.body))
            return
        conn.batch.append(event)

    def malformed(self, conn: Connection, frame: MalformedFrame) -> None:
        """Count and log (what was wrong, never the bytes); the reader then drops `conn`."""
        self._m_malformed.inc()
        if conn.malformed or conn.closed.is_set():
            return  # one line per connection: the rest is the same garbage
        conn.malformed = frame.reason
        log.warning("ESL node %s: malformed frame from %s (%s; %d bytes): dropping the "
                    "connection to reconnect and resync", self._node, self._address,
                    frame.reason, len(frame.data))
