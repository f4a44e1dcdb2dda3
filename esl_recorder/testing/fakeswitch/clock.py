"""The media clock: 20 ms ticks, either against wall time or advanced by a test."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import gevent

from esl_recorder.testing.fakeswitch.media import FRAME_SECONDS

log = logging.getLogger(__name__)


class ManualClock:
    """Media time moves only when `advance()` is called; ticks run synchronously."""

    def __init__(self, tick: Callable[[], None]) -> None:
        self._tick = tick
        self._target = 0.0
        self._done = 0

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def catch_up(self) -> None:
        return None  # only advance() moves this clock

    def advance(self, seconds: float) -> None:
        self._target += max(seconds, 0.0)
        while (self._done + 1) * FRAME_SECONDS <= self._target + 1e-9:
            self._done += 1
            self._tick()


class RealtimeClock:
    """A greenlet ticks every 20 ms of wall time, catching up when it was late."""

    def __init__(self, tick: Callable[[], None]) -> None:
        self._tick = tick
        self._greenlet: gevent.Greenlet | None = None
        self._done = 0
        self._origin: float | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None

    def advance(self, seconds: float) -> None:
        raise RuntimeError("advance() needs FakeSwitch(clock='manual')")

    def catch_up(self) -> None:
        """Run the ticks already due, so a command lands at the media time of the wall clock
        (FreeSWITCH's media threads do not wait for a greenlet to be scheduled)."""
        if self._origin is None:
            return
        due = int((time.monotonic() - self._origin) / FRAME_SECONDS)
        while self._done < due:
            self._done += 1
            try:
                self._tick()
            except Exception:
                log.exception("media tick failed")

    def _run(self) -> None:
        self._origin = time.monotonic() - self._done * FRAME_SECONDS
        while True:
            self.catch_up()
            next_at = self._origin + (self._done + 1) * FRAME_SECONDS
            gevent.sleep(max(next_at - time.monotonic(), 0.001))
