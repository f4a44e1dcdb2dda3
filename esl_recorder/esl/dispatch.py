"""The client's dispatcher: one greenlet that runs the client's callbacks in arrival order
(on_connect once a connection is ready, on_event for each event, on_disconnect), so a slow
handler only grows the queue and never holds up the reader (esl.reader)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..domain.ports import ControlTimeout, ControlUnavailable
from . import events as ev
from .connection import CONNECTED, DISCONNECTED, Connection, Inbox
from .event_types import Event

log = logging.getLogger(__name__)


class Client(Protocol):
    """What the dispatcher needs of esl.client.EslClient: its name and its callbacks, each
    called with the client itself."""

    node_name: str
    on_event: Callable[[Any, Event], None]
    on_connect: Callable[[Any], None] | None
    on_disconnect: Callable[[Any], None] | None


class Dispatcher:
    """Takes the client's inbox item by item until its greenlet is killed."""

    def __init__(self, client: Client, inbox: Inbox, lag: Any) -> None:
        self._client = client
        self._inbox = inbox
        self._lag = lag  # histogram of how old a batch's oldest event is when handed over

    def run(self) -> None:
        inbox = self._inbox
        while True:
            kind, conn, batch = inbox.get()
            if batch is not None:
                self._deliver(batch)
            elif kind == CONNECTED:
                self._connected(conn)
            elif kind == DISCONNECTED and conn.announced:
                conn.announced = False
                self._hook(self._client.on_disconnect, "on_disconnect")

    def _deliver(self, batch: list[Event]) -> None:
        client = self._client
        on_event = client.on_event
        if batch:
            self._observe_lag(batch[0])
        try:
            for event in batch:
                try:
                    on_event(client, event)
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
            self._lag.observe(max(0.0, time.time() - at))

    def _handler_failed(self, event: Event) -> None:
        log.exception("ESL node %s: on_event failed for %s (Unique-ID %s)",
                      self._client.node_name, event.name, event.get("Unique-ID"))

    def _connected(self, conn: Connection) -> None:
        conn.handshake_done.wait()
        if conn.ready:
            conn.announced = True
            self._hook(self._client.on_connect, "on_connect")

    def _hook(self, hook: Callable[[Any], None] | None, what: str) -> None:
        if hook is None:
            return
        try:
            hook(self._client)
        except (ControlUnavailable, ControlTimeout) as exc:  # the link went again
            log.warning("ESL node %s: %s cut short: %s (the next connection's does it "
                        "again)", self._client.node_name, what, exc)
        except Exception:
            log.exception("ESL node %s: %s failed", self._client.node_name, what)
