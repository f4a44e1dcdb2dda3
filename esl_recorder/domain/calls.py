"""Calls: one lifecycle for every dialect, fed by channel facts (domain.facts).

created -> (ringing) -> answered -> (bridged) -> ended, with the times and the hangup cause
FreeSWITCH reports. Listeners hear `CallEvent`s: created, answered, bridged, ended, and
released once FreeSWITCH is done with the channel (the tracker then forgets it).

A call a dialect placed or took charge of (`source` set) is saved through the repository at
each step, with its `meta` (the dialect's own data, opaque here), so it outlives the
channel; the others live in memory only.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from ..settings import IdentitySettings
from .facts import (
    ChannelAnswered,
    ChannelBridged,
    ChannelCreated,
    ChannelFact,
    ChannelHungup,
    Identity,
    LiveCall,
)

log = logging.getLogger(__name__)

# How many released calls are remembered: FreeSWITCH's event dispatch threads may deliver a
# channel's CHANNEL_HANGUP after its CHANNEL_HANGUP_COMPLETE, which must not make a new call.
RELEASED_KEPT = 10_000


class CallState(StrEnum):
    CREATED = "created"
    RINGING = "ringing"
    ANSWERED = "answered"
    BRIDGED = "bridged"
    ENDED = "ended"


class CallEvent(StrEnum):
    CREATED = "created"
    ANSWERED = "answered"
    BRIDGED = "bridged"
    ENDED = "ended"
    RELEASED = "released"  # FreeSWITCH is done with the channel: no more events


@dataclass(slots=True)
class Call:
    uuid: str
    node: str
    state: CallState = CallState.CREATED
    direction: str = ""
    account: str = ""
    user: str = ""
    device: str = ""
    caller: str = ""
    caller_name: str = ""  # the caller id name
    destination: str = ""
    other_leg: str = ""
    created_at: float = 0.0
    answered_at: float | None = None
    hungup_at: float | None = None
    hangup_cause: str = ""
    declared_direction: str = ""  # for the recording policies (Identity)
    network: str = ""
    identity_known: bool = True  # False for calls learned from a resync (no variables)
    reported: bool = True  # FreeSWITCH has sent an event about it (False: just placed)
    source: str = ""  # the dialect that placed it or took charge of it ("" for none)
    meta: dict[str, Any] = field(default_factory=dict)  # that dialect's data
    # The store holds a row of it, written with its first recording: its end is saved too.
    stored: bool = field(default=False, compare=False)

    @property
    def answered(self) -> bool:
        return self.answered_at is not None or self.state in (CallState.ANSWERED,
                                                              CallState.BRIDGED)

    @property
    def hungup(self) -> bool:
        return self.state is CallState.ENDED

    def set_identity(self, identity: Identity) -> None:
        if identity.account:  # a call learned from a resync is known once an event shows it
            self.identity_known = True
        self.account = identity.account or self.account
        self.user = identity.user or self.user
        self.device = identity.device or self.device
        self.declared_direction = identity.declared_direction or self.declared_direction
        self.network = identity.network or self.network


CallListener = Callable[[CallEvent, Call], None]


class CallRepository(Protocol):
    """Calls kept across restarts (the call half of ports.RecordingRepository)."""

    def save_call(self, call: Call) -> None: ...

    def load_call(self, uuid: str) -> Call | None: ...

    def open_calls(self) -> list[Call]:
        """Calls with a `source` that had not ended when last saved."""

    def list_calls(self, *, account: str, source: str, caller: str | None = None,
                   destination: str | None = None, newest_first: bool = True,
                   limit: int = 25, offset: int = 0) -> list[Call]:
        """An account's calls of one `source`, by creation time."""


class CallTracker:
    """Keeps the live calls of every node up to date from channel facts."""

    def __init__(self, identity: IdentitySettings,
                 repository: CallRepository | None = None) -> None:
        self._identity = identity
        self._repository = repository
        self._calls: dict[str, Call] = {}
        self._released: OrderedDict[str, None] = OrderedDict()  # the last RELEASED_KEPT
        self._listeners: list[CallListener] = []

    def subscribe(self, listener: CallListener) -> None:
        self._listeners.append(listener)

    def get(self, uuid: str) -> Call | None:
        return self._calls.get(uuid)

    def __len__(self) -> int:
        return len(self._calls)

    def profiled(self, uuid: str) -> bool:
        """Whether FreeSWITCH's events showed the call already (its direction, caller and
        destination were read from one): a later event need not be read for them."""
        call = self._calls.get(uuid)
        return call is not None and call.reported and call.identity_known

    def calls(self, node: str | None = None) -> list[Call]:
        return [c for c in self._calls.values() if node is None or c.node == node]

    @property
    def identity(self) -> IdentitySettings:
        return self._identity

    # facts -----------------------------------------------------------------------------
    def apply(self, fact: ChannelFact) -> Call | None:
        """Apply one channel fact; returns the call it concerned (None: nothing to do)."""
        call = self._calls.get(fact.uuid)
        if call is None:
            if fact.uuid in self._released or (isinstance(fact, ChannelHungup)
                                               and fact.complete):
                return None  # a late event of a released call, or nothing left to do
            call = self._calls[fact.uuid] = _from_fact(fact)
        elif not call.reported:  # placed by us: from now on its times are FreeSWITCH's
            if fact.at is not None:
                call.created_at = fact.at
            _refresh(call, fact)
        elif isinstance(fact, ChannelAnswered) or not call.identity_known:
            _refresh(call, fact)  # identity variables set after CREATE, or a resync's call
        if isinstance(fact, ChannelCreated):
            self._created(call, fact)
        elif isinstance(fact, ChannelAnswered):
            self._answered(call, fact)
        elif isinstance(fact, ChannelBridged):
            call.set_identity(fact.identity)  # variables set since the answer
            call.other_leg = fact.other_leg or call.other_leg
            call.state = CallState.BRIDGED if call.state is not CallState.ENDED else call.state
            self._announce(CallEvent.BRIDGED, call)
        elif isinstance(fact, ChannelHungup):
            self._hungup(call, fact)
        return call

    def _created(self, call: Call, fact: ChannelCreated) -> None:
        if call.state is CallState.CREATED and fact.ringing:
            call.state = CallState.RINGING
        self._announce(CallEvent.CREATED, call)

    def _answered(self, call: Call, fact: ChannelAnswered) -> None:
        if call.answered_at is not None or call.state is CallState.ENDED:
            return  # announced once
        if call.state in (CallState.CREATED, CallState.RINGING):
            call.state = CallState.ANSWERED
        # never before the call's start (a placed call's start is the API's clock until
        # FreeSWITCH reports it)
        call.answered_at = max(fact.at or call.created_at, call.created_at)
        self._save(call)
        self._announce(CallEvent.ANSWERED, call)

    def _hungup(self, call: Call, fact: ChannelHungup) -> None:
        if call.state is not CallState.ENDED:
            self.end(call, fact.cause, fact.at)
        if fact.complete:
            self.release(call)

    def end(self, call: Call, cause: str, at: float | None) -> None:
        """The call is over (hangup, or an originate that failed before FreeSWITCH
        reported the call)."""
        call.state = CallState.ENDED
        call.hungup_at = None if at is None else max(at, call.answered_at or call.created_at)
        call.hangup_cause = cause or call.hangup_cause
        self._save(call)
        self._announce(CallEvent.ENDED, call)

    def release(self, call: Call) -> None:
        """Forget a call FreeSWITCH will send nothing more about."""
        self._announce(CallEvent.RELEASED, call)
        self._calls.pop(call.uuid, None)
        self._released[call.uuid] = None
        if len(self._released) > RELEASED_KEPT:
            self._released.popitem(last=False)

    def _announce(self, event: CallEvent, call: Call) -> None:
        for listener in self._listeners:
            listener(event, call)

    def _save(self, call: Call) -> None:
        if call.source and self._repository is not None:
            self._repository.save_call(call)

    # calls learned otherwise -----------------------------------------------------------
    def place(self, call: Call) -> None:
        """A call we are about to originate: known (and saved) before FreeSWITCH reports
        it, so its first events find it."""
        call.reported = False
        self._calls[call.uuid] = call
        self._save(call)

    def take_charge(self, call: Call, source: str, meta: dict[str, Any]) -> None:
        """A dialect takes charge of a call (it is saved from now on)."""
        call.source, call.meta = source, meta
        self._save(call)

    def resync(self, node: str, rows: Iterable[LiveCall]) -> set[str]:
        """Replace what we know of `node` with FreeSWITCH's list of its calls.

        Returns the uuids present. Calls of that node not in the list ended while we were
        not listening: they are dropped, and those a dialect is in charge of end first
        (cause unknown), so the dialect hears of it. A call being placed, which FreeSWITCH
        has not reported yet, is not expected in the list: it stays (its originate's
        outcome decides)."""
        present: set[str] = set()
        for row in rows:
            present.add(row.uuid)
            call = self._calls.get(row.uuid) or Call(uuid=row.uuid, node=node,
                                                     identity_known=False)
            call.direction = row.direction or call.direction
            if row.answered and call.state in (CallState.CREATED, CallState.RINGING):
                call.state = CallState.ANSWERED
            call.caller = row.caller or call.caller
            call.destination = row.destination or call.destination
            self._calls[row.uuid] = call
        for gone in [c for c in self.calls(node) if c.uuid not in present and c.reported]:
            if gone.source and gone.state is not CallState.ENDED:
                self.end(gone, "", None)
            del self._calls[gone.uuid]
        return present

    def forget_node(self, node: str) -> None:
        """Stop holding the calls of `node` (another daemon follows them now); no events."""
        for call in self.calls(node):
            del self._calls[call.uuid]

    def adopt(self, call: Call) -> None:
        """Take a call known from the store (it is alive but missing from the resync)."""
        call.stored = True
        if call.state is CallState.ENDED:
            call.state = CallState.ANSWERED if call.answered_at else CallState.CREATED
            call.hungup_at = None
        self._calls.setdefault(call.uuid, call)

    def set_identity(self, uuid: str, identity: Identity) -> None:
        call = self._calls.get(uuid)
        if call is not None:
            call.account, call.user, call.device = (identity.account, identity.user,
                                                    identity.device)
            call.identity_known = True


def _from_fact(fact: ChannelFact) -> Call:
    call = Call(uuid=fact.uuid, node=fact.node)
    _refresh(call, fact)
    call.created_at = fact.at or 0.0
    if fact.answered:
        call.state = CallState.ANSWERED
    return call


def _refresh(call: Call, fact: ChannelFact) -> None:
    """The profile is what was first known (what a placed call was asked to do, or what
    FreeSWITCH first said); the identity may be set later in the dialplan."""
    call.reported = True
    call.direction = call.direction or fact.direction
    call.caller = call.caller or fact.caller
    call.caller_name = call.caller_name or fact.caller_name
    call.destination = call.destination or fact.destination
    call.set_identity(fact.identity)
