"""The daemon's ESL ingest path: one event in, the right domain handler called."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .domain.calls import CallTracker
from .domain.follower import RecordingFollower
from .esl import events as ev
from .esl.frames import Event
from .metrics import Metrics

log = logging.getLogger(__name__)

_CHANNEL_EVENTS = frozenset({ev.CHANNEL_CREATE, ev.CHANNEL_ANSWER, ev.CHANNEL_BRIDGE,
                             ev.CHANNEL_HANGUP, ev.CHANNEL_HANGUP_COMPLETE})


class EventRouter:
    """Dispatch table from event name to handler; BACKGROUND_JOB is the client's own."""

    def __init__(self, tracker: CallTracker, follower: RecordingFollower | None,
                 metrics: Metrics) -> None:
        self._tracker = tracker
        metrics.calls_tracked.set_function(lambda: len(tracker))
        self._handlers: dict[str, Callable[[str, Event], object]] = {
            name: self._on_channel for name in _CHANNEL_EVENTS}
        if follower is not None:
            self._handlers[ev.RECORD_START] = follower.on_record_start
            self._handlers[ev.RECORD_STOP] = follower.on_record_stop
            self._handlers[ev.DTMF] = follower.on_dtmf

    def handle(self, node: str, event: Event) -> None:
        """Called by the ESL client's dispatcher (which already counted the event)."""
        handler = self._handlers.get(event.name)
        if handler is not None:
            handler(node, event)

    def _on_channel(self, node: str, event: Event) -> None:
        self._tracker.handle(node, event, event.name)
