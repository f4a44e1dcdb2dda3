"""Recordings that follow their call when it is transferred (Kazoo's should_follow_transfer).

FreeSWITCH moves such a recording to the leg the call goes on with (service.begin sets
options.FOLLOW_TRANSFER on the channel); it sends no event for the move itself, and the
recording's RECORD_STOP comes later under the new leg's Unique-ID (the follower matches it
by its path). What the daemon must not do is take the end of the leg it left for the end of
the recording. So when a leg with a running follow-transfer recording ends, the leg it was
bridged to is asked (`uuid_buglist`) whether the recording runs there now; if it does, the
recording is that leg's from then on (its hangup, its RECORD_STOP, the sweeps).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import gevent

from ..errors import RecordingError
from .calls import Call, CallEvent, CallTracker
from .ports import CallControl
from .recording import ACTIVE, Recording
from .registry import RecordingRegistry

log = logging.getLogger(__name__)


class TransferFollower:
    def __init__(self, registry: RecordingRegistry, tracker: CallTracker,
                 nodes: Mapping[str, CallControl]) -> None:
        self._registry = registry
        self._nodes = nodes
        tracker.subscribe(self.on_call_event)

    def on_call_event(self, event: CallEvent, call: Call) -> None:
        if event is not CallEvent.ENDED or not call.other_leg:
            return
        moving = [r for r in self._registry.for_call(call.uuid)
                  if r.options.follow_transfer and r.state in ACTIVE]
        if moving:
            gevent.spawn(self._find, call, moving)

    def _find(self, call: Call, recs: list[Recording]) -> None:
        node = self._nodes.get(call.node)
        if node is None:
            return
        for rec in recs:
            try:
                moved = node.is_recording(call.other_leg, rec.path)
            except RecordingError as exc:
                log.warning("recording %s: cannot tell whether it followed call %s to %s: %s",
                            rec.sid, call.uuid, call.other_leg, exc)
                continue
            if moved and rec.state in ACTIVE and rec.call_uuid == call.uuid:
                self._registry.move(rec, call.other_leg)
                log.info("recording %s followed call %s to leg %s (transfer)", rec.sid,
                         call.uuid, call.other_leg)
