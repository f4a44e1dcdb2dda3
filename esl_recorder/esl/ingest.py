"""The daemon's ESL ingest path: one FreeSWITCH event in, one domain fact out, handed to
the part of the domain that follows it (calls to the tracker, recordings and DTMF to the
follower). BACKGROUND_JOB is the client's own (command results)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..domain.calls import CallTracker
from ..domain.facts import (
    ApplicationDone,
    CallParked,
    ChannelAnswered,
    ChannelBridged,
    ChannelCreated,
    ChannelFact,
    ChannelHungup,
    DtmfPressed,
    Identity,
    RecordingStarted,
    RecordingStopped,
)
from ..domain.follower import RecordingFollower
from ..domain.scripts import ScriptRunner
from ..metrics import Metrics
from ..settings import IdentitySettings
from . import events as ev
from .event_types import Event

log = logging.getLogger(__name__)

_RINGING = frozenset({"ringing", "early"})


class FactReader:
    """Reads the facts out of events (the identity variables are configured; the route
    variables, direction then network, are read only for a call with an account)."""

    def __init__(self, identity: IdentitySettings,
                 route_variables: tuple[str, str] | None = None) -> None:
        self._vars = (identity.account_variable, identity.user_variable,
                      identity.device_variable)
        self._route = route_variables

    def identity(self, event: Event) -> Identity:
        account, user, device = (ev.channel_var(event, name) or "" for name in self._vars)
        if not account or self._route is None:
            return Identity(account, user, device)
        direction, network = ((ev.channel_var(event, name) or "").lower()
                              for name in self._route)
        return Identity(account, user, device, direction, network)

    def channel(self, node: str, event: Event,
                profiled: Callable[[str], bool] = lambda uuid: False) -> ChannelFact | None:
        """The fact of a CHANNEL_* event (None without a Unique-ID or for another name).

        Only CREATE and ANSWER carry the profile (an ANSWER not when `profiled(uuid)` says
        an earlier event's was read), they and BRIDGE the identity (what the tracker
        reads): every header read is a search through the event, and most events are
        others'."""
        kind = _CHANNEL_KINDS.get(event.name)
        uuid = ev.unique_id(event)
        if kind is None or not uuid:
            return None
        at = ev.event_time(event)
        if kind is ChannelBridged:  # with the identity: set in the dialplan before it
            return ChannelBridged(uuid, node, at, identity=self.identity(event),
                                  other_leg=ev.other_leg(event) or "")
        if kind is ChannelHungup:
            return ChannelHungup(uuid, node, at, cause=ev.hangup_cause(event) or "",
                                 complete=event.name == ev.CHANNEL_HANGUP_COMPLETE)
        if kind is ChannelAnswered and profiled(uuid):  # its identity may be new: read it
            return ChannelAnswered(uuid, node, at, answered=True, identity=self.identity(event))
        state = ev.answer_state(event)
        profile = (uuid, node, at, ev.direction(event) or "", ev.caller_number(event) or "",
                   ev.destination_number(event) or "", state == "answered",
                   self.identity(event))
        name = ev.caller_name(event) or ""
        if kind is ChannelCreated:
            return ChannelCreated(*profile, caller_name=name, ringing=state in _RINGING)
        return ChannelAnswered(*profile, caller_name=name)

    @staticmethod
    def record_start(node: str, event: Event, path: str) -> RecordingStarted:
        return RecordingStarted(call_uuid=ev.unique_id(event) or "", node=node, path=path,
                                at=ev.event_time(event))

    @staticmethod
    def record_stop(node: str, event: Event, path: str) -> RecordingStopped:
        return RecordingStopped(call_uuid=ev.unique_id(event) or "", node=node, path=path,
                                at=ev.event_time(event), cause=ev.completion_cause(event),
                                record_ms=ev.record_ms(event),
                                channel_down=ev.channel_down(event))

    @staticmethod
    def parked(node: str, event: Event, variable: str) -> CallParked | None:
        uuid = ev.unique_id(event)
        if not uuid:
            return None
        return CallParked(call_uuid=uuid, node=node, script=ev.channel_var(event, variable) or "",
                          destination=ev.destination_number(event) or "",
                          answered=ev.is_answered(event))

    @staticmethod
    def application_done(event: Event) -> ApplicationDone | None:
        uuid, app_uuid = ev.unique_id(event), ev.application_uuid(event)
        if not uuid or not app_uuid:
            return None
        return ApplicationDone(call_uuid=uuid, app_uuid=app_uuid,
                               app=ev.application(event) or "",
                               response=ev.application_response(event))

    @staticmethod
    def dtmf(node: str, event: Event) -> DtmfPressed | None:
        digit, uuid = ev.dtmf_digit(event), ev.unique_id(event)
        return DtmfPressed(call_uuid=uuid, node=node, digit=digit) if digit and uuid else None


_CHANNEL_KINDS: dict[str, type[ChannelFact]] = {
    ev.CHANNEL_CREATE: ChannelCreated,
    ev.CHANNEL_ANSWER: ChannelAnswered,
    ev.CHANNEL_BRIDGE: ChannelBridged,
    ev.CHANNEL_HANGUP: ChannelHungup,
    ev.CHANNEL_HANGUP_COMPLETE: ChannelHungup,
}


class EventRouter:
    """Dispatch table from event name to the domain; other events are ignored."""

    def __init__(self, tracker: CallTracker, follower: RecordingFollower | None,
                 metrics: Metrics, identity: IdentitySettings,
                 scripts: ScriptRunner | None = None, script_variable: str = "",
                 route_variables: tuple[str, str] | None = None) -> None:
        self._tracker = tracker
        self._read = FactReader(identity, route_variables)
        metrics.calls_tracked.set_function(lambda: len(tracker))
        self._handlers: dict[str, Callable[[str, Event], object]] = {
            name: self._on_channel for name in _CHANNEL_KINDS}
        if follower is not None:
            recordings = _RecordingEvents(follower, self._read)
            self._handlers[ev.RECORD_START] = recordings.on_start
            self._handlers[ev.RECORD_STOP] = recordings.on_stop
            self._handlers[ev.DTMF] = recordings.on_dtmf
        if scripts is not None:
            calls = _ScriptEvents(scripts, script_variable)
            self._handlers[ev.CHANNEL_PARK] = calls.on_park
            self._handlers[ev.CHANNEL_EXECUTE_COMPLETE] = calls.on_execute_complete

    def handle(self, node: str, event: Event) -> None:
        """Called by the ESL client's dispatcher (which already counted the event)."""
        handler = self._handlers.get(event.name)
        if handler is not None:
            handler(node, event)

    def _on_channel(self, node: str, event: Event) -> None:
        fact = self._read.channel(node, event, self._tracker.profiled)
        if fact is not None:
            self._tracker.apply(fact)


class _RecordingEvents:
    """RECORD_START, RECORD_STOP and DTMF, to the recording follower."""

    def __init__(self, follower: RecordingFollower, read: FactReader) -> None:
        self._follower = follower
        self._read = read

    def on_start(self, node: str, event: Event) -> None:
        path = self._our_path(event)
        if path:
            self._follower.on_record_start(self._read.record_start(node, event, path))

    def on_stop(self, node: str, event: Event) -> None:
        path = self._our_path(event)
        if path:
            self._follower.on_record_stop(self._read.record_stop(node, event, path))

    def _our_path(self, event: Event) -> str | None:
        """The event's Record-File-Path if it is one of ours. Most are other tools'
        recordings: an event that does not even mention one of our recording roots is
        dismissed without reading its headers (our paths travel unencoded: names.check_path)."""
        follower = self._follower
        for root in follower.roots():
            if event.contains(root + "/"):
                path = ev.record_path(event) or ""
                return path if follower.follows(path) else None
        follower.foreign()
        return None

    def on_dtmf(self, node: str, event: Event) -> None:
        fact = self._read.dtmf(node, event)
        if fact is not None:
            self._follower.on_dtmf(fact)


class _ScriptEvents:
    """CHANNEL_PARK and CHANNEL_EXECUTE_COMPLETE, to the script runner."""

    def __init__(self, scripts: ScriptRunner, variable: str) -> None:
        self._scripts = scripts
        self._variable = variable

    def on_park(self, node: str, event: Event) -> None:
        fact = FactReader.parked(node, event, self._variable)
        if fact is not None:
            self._scripts.on_parked(fact)

    def on_execute_complete(self, node: str, event: Event) -> None:
        fact = FactReader.application_done(event)
        if fact is not None:
            self._scripts.on_application_done(fact)
