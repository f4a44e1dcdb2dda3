"""What one inbound ESL connection holds (socket, parser, pending replies, bgapi jobs), and
the FIFO that carries events from the readers to the client's dispatcher."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import gevent.event
import gevent.lock

from ..errors import InvalidArgument
from .event_types import Event
from .frames import FrameParser

EVENTS, CONNECTED, DISCONNECTED = 0, 1, 2  # kinds of inbox items


class SendTimeout(Exception):
    pass


class NullMetric:
    """Stand-in for a metric when no Metrics are given."""

    def labels(self, *args: Any, **kwargs: Any) -> NullMetric:
        return self

    def inc(self, amount: float = 1) -> None:
        pass

    def set(self, value: float) -> None:
        pass

    def set_function(self, fn: Callable[[], float]) -> None:
        pass

    def observe(self, value: float) -> None:
        pass


Item = tuple[int, "Connection", list[Event] | None]


class Inbox:
    """Unbounded FIFO between the reader and the dispatcher (cheaper than gevent.queue).

    Events travel in batches, one per received chunk; `events` counts single events.
    """

    def __init__(self) -> None:
        self._items: deque[Item] = deque()
        self._wake = gevent.event.Event()
        self.events = 0

    def put(self, item: Item) -> None:
        self._items.append(item)
        if item[2]:
            self.events += len(item[2])
        if not self._wake.is_set():
            self._wake.set()

    def get(self) -> Item:
        while not self._items:
            self._wake.clear()
            self._wake.wait()
        return self._items.popleft()


class Connection:
    """One TCP connection: socket, parser, FIFO of pending replies, bgapi jobs."""

    def __init__(self, sock: Any, parser: FrameParser, seq: int, heard: float = 0.0) -> None:
        self.sock = sock
        self.parser = parser
        self.seq = seq
        self.pending: deque[gevent.event.AsyncResult] = deque()
        self.jobs: dict[str, gevent.event.AsyncResult] = {}
        self.send_lock = gevent.lock.Semaphore()
        self.auth_request = gevent.event.Event()
        self.handshake_done = gevent.event.Event()
        self.closed = gevent.event.Event()
        self.ready = False
        self.announced = False
        self.rejected = False
        self.close_reason = ""
        self.reader: gevent.Greenlet | None = None
        self.batch: list[Event] = []  # events of the chunk being read
        self.last_heard = heard  # time.monotonic() of the last bytes received
        self.probing = False  # an `api status` liveness probe is in flight
        self.malformed = ""  # why the stream cannot be trusted any more ('' while it can)
        self.watchdog: gevent.Greenlet | None = None


def describe(data: str) -> str:
    """A command's name for messages: `api uuid_record`, `auth` (never its arguments)."""
    words = data.split("\n", 1)[0].split(" ", 2)
    return " ".join(words[:2]) if words[0] in ("api", "bgapi") else words[0]


def check_line(what: str, value: str) -> None:
    if "\n" in value or "\r" in value:
        raise InvalidArgument(f"{what} must be a single line")
