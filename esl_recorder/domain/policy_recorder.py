"""Records the calls a policy (domain.policies) asks for, with no request.

A call is looked at once: when FreeSWITCH reports it with an account that has policies
(CHANNEL_CREATE of a call whose identity variables were set before it, such as an
originated leg), else at its answer (an inbound leg gets its identity in the dialplan).
Its direction and network are the configured channel variables as that same event carried
them (Identity), so deciding asks FreeSWITCH nothing, and a leg no policy records (the other
leg of a loopback or a bridge) costs no command at all.

A recording that starts with the call is queued and begins at the answer (FreeSWITCH's
recorder would otherwise pre-answer the call); `record_on_answer` gives the same; a
`record_on_bridge` recording starts when the call is bridged. Commands run in a greenlet of
their own, never in the event reader.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent

from ..errors import RecordingError
from .calls import Call, CallEvent, CallState, CallTracker
from .policies import Decision, PolicyBook, Timing
from .service import RecordingService

log = logging.getLogger(__name__)

SOURCE = "kazoo"


class PolicyRecorder:
    def __init__(self, book: PolicyBook, tracker: CallTracker,
                 service: RecordingService) -> None:
        self._book = book
        self._service = service
        self._looked_at: set[str] = set()
        self._on_bridge: dict[str, list[Decision]] = {}
        tracker.subscribe(self.on_call_event)

    def on_call_event(self, event: CallEvent, call: Call) -> None:
        if event in (CallEvent.CREATED, CallEvent.ANSWERED):
            if (call.uuid not in self._looked_at and call.account
                    and call.account in self._book.accounts()):
                self._looked_at.add(call.uuid)
                self._look_at(call)
        elif event is CallEvent.BRIDGED:
            for decision in self._on_bridge.pop(call.uuid, ()):
                gevent.spawn(self._start, call, decision)
        elif event is CallEvent.RELEASED:
            self._looked_at.discard(call.uuid)
            self._on_bridge.pop(call.uuid, None)

    def _look_at(self, call: Call) -> None:
        """Decide on the event (no command); the recordings start in greenlets of their own."""
        direction = call.declared_direction or call.direction
        decisions = self._book.decide(call.account, call.user, call.device, direction,
                                      call.network)
        for decision in decisions:
            if decision.params.timing is Timing.BRIDGE and call.state is not CallState.BRIDGED:
                self._on_bridge.setdefault(call.uuid, []).append(decision)
            else:
                gevent.spawn(self._start, call, decision)

    def _start(self, call: Call, decision: Decision) -> None:
        params = decision.params
        meta: dict[str, Any] = {
            "origin": decision.origin, "level": decision.level.value,
            "owner_id": decision.owner, "url": params.url, "method": params.method,
            "user_id": call.user, "device_id": call.device, "direction": call.direction,
            "from": call.caller, "to": call.destination,
        }
        try:
            rec = self._service.start(call.uuid, params.options(), source=SOURCE, meta=meta)
        except RecordingError as exc:
            log.warning("call %s: the %s policy of %s could not record it: %s", call.uuid,
                        decision.level.value, decision.owner, exc)
            return
        log.info("call %s: recording %s by the %s policy of %s (%s)", call.uuid, rec.sid,
                 decision.level.value, decision.owner, decision.origin)
