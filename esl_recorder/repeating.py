"""Work repeated every few seconds in the background, stopped between two turns.

Killing such a greenlet in the middle of a turn cuts a store query short: PostgreSQL's
connection is left with a command in progress, rolled back with a warning and discarded. A
stop here waits for the turn in progress (up to a timeout) and only then ends the loop."""

from __future__ import annotations

import logging
from collections.abc import Callable

import gevent
import gevent.event

log = logging.getLogger(__name__)


class Repeating:
    def __init__(self, name: str, interval: float, work: Callable[[], object]) -> None:
        self.name = name
        self._interval = interval
        self._work = work
        self._stopping = gevent.event.Event()
        self._greenlet: gevent.Greenlet | None = None

    @property
    def running(self) -> bool:
        return self._greenlet is not None

    def start(self) -> None:
        """Run `work` every `interval` seconds, the first time one interval from now."""
        if self._greenlet is None:
            self._stopping.clear()
            self._greenlet = gevent.spawn(self._run)

    def stop(self, timeout: float = 5.0) -> None:
        """Let the turn in progress end (killed after `timeout` seconds), run no other."""
        greenlet, self._greenlet = self._greenlet, None
        if greenlet is None:
            return
        self._stopping.set()
        greenlet.join(timeout)
        if not greenlet.dead:
            log.warning("%s: still busy after %g s at stop; cut short", self.name, timeout)
            greenlet.kill()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._work()
            except Exception:
                log.exception("%s failed", self.name)
