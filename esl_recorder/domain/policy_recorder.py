"""Records the calls a policy (domain.policies) asks for, with no request.

A call is looked at when FreeSWITCH reports it with an account that has policies (its
CHANNEL_CREATE when its identity variables were set before it, such as an originated leg),
and again at its answer and at its bridge when its identity (account, user, device) changed
since: an inbound leg often gets its user or device in the dialplan after it was created.
Each look decides the call's recordings afresh; a call has at most one recording for its
account and one for its endpoint (user or device), the first look that gives it one
decides it, and two with the same parameters are one (domain.policies): a later look never
starts a duplicate. Its direction and network are the configured channel variables as
the event that showed its identity carried them (Identity), so deciding asks FreeSWITCH
nothing, and a leg no policy records (the other leg of a loopback or of a bridge) costs no
command; a recording that begins now (or reads its call's variables) starts in a greenlet of
its own, one queued for the answer is only written to the store, at once.

Calls already up when the daemon (re)connects (`reconcile`, after the tracker's resync):
those answered with no recording of ours get their identity, direction and network read
from FreeSWITCH (one `uuid_getvar` per variable) and are looked at then; what a policy gives
them is recorded from that moment on (the start of the call is lost), `record_on_bridge`
ones too (FreeSWITCH's channel list does not say whether the call is bridged).

A recording that starts with the call is queued and begins at the answer (FreeSWITCH's
recorder would otherwise pre-answer the call); `record_on_answer` gives the same; a
`record_on_bridge` recording starts when the call is bridged. Commands run in a greenlet of
their own, never in the event reader.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gevent

from ..errors import RecordingError
from .calls import Call, CallEvent, CallState, CallTracker
from .facts import Identity
from .kazoo_media import call_facts
from .policies import Decision, PolicyBook
from .ports import CallControl, CallGone, ControlLost, ControlUnavailable
from .record_params import Level, RecordParams, Timing
from .recording import ACTIVE
from .service import RecordingService

log = logging.getLogger(__name__)

SOURCE = "kazoo"
_LOOKS = (CallEvent.CREATED, CallEvent.ANSWERED, CallEvent.BRIDGED)


@dataclass
class _Looked:
    """What the policies gave one call so far."""

    identity: tuple[str, str, str]
    slots: dict[str, RecordParams] = field(default_factory=dict)  # account / endpoint
    on_bridge: list[Decision] = field(default_factory=list)


class PolicyRecorder:
    def __init__(self, book: PolicyBook, tracker: CallTracker, service: RecordingService,
                 nodes: Mapping[str, CallControl], direction_variable: str,
                 network_variable: str) -> None:
        self._book = book
        self._tracker = tracker
        self._service = service
        self._nodes = nodes
        self._variables = (direction_variable, network_variable)
        self._looked: dict[str, _Looked] = {}
        tracker.subscribe(self.on_call_event)

    def on_call_event(self, event: CallEvent, call: Call) -> None:
        if event in _LOOKS:
            looked = self._looked.get(call.uuid)
            if event is CallEvent.BRIDGED and looked is not None and looked.on_bridge:
                waiting, looked.on_bridge = looked.on_bridge, []
                for decision in waiting:
                    gevent.spawn(self._start, call, decision, False)
            identity = (call.account, call.user, call.device)
            if (call.account and (looked is None or looked.identity != identity)
                    and call.account in self._book.accounts()):
                self._looked[call.uuid] = looked = looked or _Looked(identity)
                looked.identity = identity
                self._decide(call, looked, self._route(call), False)
        elif event is CallEvent.RELEASED:
            self._looked.pop(call.uuid, None)

    # calls found up at a (re)connect ------------------------------------------------------
    def reconcile(self, node: str, control: CallControl) -> None:
        """After the tracker's resync: the answered calls of `node` the policies never saw
        and that have no recording of ours get their identity read, then are looked at
        (in a greenlet of their own)."""
        if not self._book.accounts():
            return
        accounts = self._book.accounts()
        calls = [c for c in self._tracker.calls(node)
                 if c.answered and not c.hungup and c.uuid not in self._looked
                 and (not c.account or c.account in accounts)
                 and not any(r.state in ACTIVE for r in self._service.for_call(c.uuid))]
        if calls:
            gevent.spawn(self._adopt_all, calls, control)

    def _adopt_all(self, calls: list[Call], control: CallControl) -> None:
        ids = self._tracker.identity
        names = (ids.account_variable, ids.user_variable, ids.device_variable)
        for call in calls:
            if call.uuid in self._looked or call.hungup:
                continue  # an event showed it meanwhile
            if not call.account:  # learned from the channel list: no variables yet
                try:
                    values = control.variables(call.uuid, names)
                except CallGone:
                    continue
                except RecordingError as exc:
                    log.warning("call %s: up at the (re)connect, policies not applied: its "
                                "identity cannot be read: %s", call.uuid, exc)
                    continue
                self._tracker.set_identity(call.uuid, Identity(*(values[n] for n in names)))
            if call.account in self._book.accounts() and call.uuid not in self._looked:
                looked = self._looked[call.uuid] = _Looked((call.account, call.user,
                                                            call.device))
                try:
                    route = self._read_route(call, control)
                except CallGone:
                    continue
                except RecordingError as exc:
                    log.warning("call %s: policies not applied, its direction and network "
                                "cannot be read: %s", call.uuid, exc)
                    continue
                self._decide(call, looked, route, True)

    # deciding ---------------------------------------------------------------------------
    def _decide(self, call: Call, looked: _Looked, route: tuple[str, str],
                late: bool) -> None:
        decisions = self._book.decide(call.account, call.user, call.device, *route)
        for decision in decisions:
            slot = "account" if decision.level is Level.ACCOUNT else "endpoint"
            if slot in looked.slots or decision.params in looked.slots.values():
                continue  # decided by an earlier look: never a second recording
            looked.slots[slot] = decision.params
            if (decision.params.timing is Timing.BRIDGE and not late
                    and call.state is not CallState.BRIDGED):
                looked.on_bridge.append(decision)
            elif call.answered or decision.params.url:  # a command to send: not here
                gevent.spawn(self._start, call, decision, late)
            else:  # queued until the answer: only written to the store
                self._start(call, decision, late)

    @staticmethod
    def _route(call: Call) -> tuple[str, str]:
        """(direction, network) as the call's events showed them; "" where unknown."""
        return call.declared_direction or call.direction, call.network

    def _read_route(self, call: Call, control: CallControl) -> tuple[str, str]:
        """(direction, network) of a call found up at a (re)connect, read from FreeSWITCH."""
        values = control.variables(call.uuid, self._variables)
        direction = values[self._variables[0]].lower() or call.direction
        return direction, values[self._variables[1]].lower()

    def _start(self, call: Call, decision: Decision, late: bool) -> None:
        if call.hungup:  # before this greenlet ran: the daemon was far behind the events
            log.warning("call %s: the %s policy of %s could not record it: the call ended "
                        "before its recording could start", call.uuid, decision.level.value,
                        decision.owner)
            return
        params = decision.params
        meta: dict[str, Any] = {
            "origin": decision.origin, "level": decision.level.value,
            "owner_id": decision.owner, "url": params.url, "method": params.method,
            "user_id": call.user, "device_id": call.device, "direction": call.direction,
            "from": call.caller, "to": call.destination, "media_name": params.media_name,
            "call_id": call.uuid,
        }
        if late:
            meta["started_late"] = True
        try:
            if params.url:  # the caller id name as the events showed it (a late call's: read)
                meta.update(self._call_facts(call, late))
            rec = self._service.start(call.uuid, params.options(), source=SOURCE, meta=meta)
        except ControlUnavailable as exc:  # nothing started: the reconnect looks again
            self._looked.pop(call.uuid, None)
            log.warning("call %s: the %s policy of %s could not record it yet: %s; the call "
                        "is looked at again once FreeSWITCH is connected", call.uuid,
                        decision.level.value, decision.owner, exc)
            return
        except RecordingError as exc:
            log.warning("call %s: the %s policy of %s could not record it: %s", call.uuid,
                        decision.level.value, decision.owner, exc)
            return
        log.info("call %s: recording %s by the %s policy of %s (%s)%s", call.uuid, rec.sid,
                 decision.level.value, decision.owner, decision.origin,
                 ": from now, the call was up before the daemon (re)connected" if late
                 else "")

    def _call_facts(self, call: Call, late: bool) -> dict[str, str]:
        """The upload fields read from FreeSWITCH; a read lost with the connection changed
        nothing there, and is reported as one never sent."""
        try:
            return call_facts(self._reader(call), None if late else call.caller_name)
        except ControlLost as exc:
            raise ControlUnavailable(str(exc)) from exc

    def _reader(self, call: Call) -> Callable[[Sequence[str]], Mapping[str, str]]:
        """The call's channel variables, read from its node."""
        node = self._nodes.get(call.node)
        if node is None:
            return lambda names: {}
        return lambda names: node.variables(call.uuid, names)
