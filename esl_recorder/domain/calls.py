"""Calls known from FreeSWITCH events: node, direction, answer state and tenant identity."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..esl import events as ev
from ..settings import IdentitySettings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Call:
    uuid: str
    node: str
    direction: str = ""
    answered: bool = False
    hungup: bool = False
    account: str = ""
    user: str = ""
    device: str = ""
    caller: str = ""
    destination: str = ""
    other_leg: str = ""
    created_at: float = 0.0
    answered_at: float | None = None
    hungup_at: float | None = None
    hangup_cause: str = ""
    identity_known: bool = True  # False for calls learned from a resync (no variables)


CallListener = Callable[[str, Call], None]  # (event name, call)


class CallTracker:
    """Keeps the live calls of every node up to date from the subscribed events."""

    def __init__(self, identity: IdentitySettings) -> None:
        self._identity = identity
        self._calls: dict[str, Call] = {}
        self._listeners: list[CallListener] = []
        self._handlers: Mapping[str, Callable[[Call, ev.HeaderSource], None]] = {
            ev.CHANNEL_CREATE: self._on_create,
            ev.CHANNEL_ANSWER: self._on_answer,
            ev.CHANNEL_BRIDGE: self._on_bridge,
            ev.CHANNEL_HANGUP: self._on_hangup,
            ev.CHANNEL_HANGUP_COMPLETE: self._on_hangup_complete,
        }

    def subscribe(self, listener: CallListener) -> None:
        self._listeners.append(listener)

    def get(self, uuid: str) -> Call | None:
        return self._calls.get(uuid)

    def __len__(self) -> int:
        return len(self._calls)

    def calls(self, node: str | None = None) -> list[Call]:
        return [c for c in self._calls.values() if node is None or c.node == node]

    def handle(self, node: str, event: ev.HeaderSource, name: str | None = None) -> Call | None:
        """Apply one channel event; returns the call it concerned (or None)."""
        name = name or event.get("Event-Name") or ""
        handler = self._handlers.get(name)
        uuid = ev.unique_id(event)
        if handler is None or not uuid:
            return None
        call = self._calls.get(uuid)
        if call is None:
            if name == ev.CHANNEL_HANGUP_COMPLETE:
                return None
            call = self._calls[uuid] = Call(uuid=uuid, node=node)
            self._read_profile(call, event)
            self._read_identity_vars(call, event)
        elif name == ev.CHANNEL_ANSWER:
            # identity variables may be set after CREATE (dialplan `set`): refresh them
            self._read_identity_vars(call, event)
        handler(call, event)
        for listener in self._listeners:
            listener(name, call)
        if name == ev.CHANNEL_HANGUP_COMPLETE:
            del self._calls[uuid]
        return call

    def _read_profile(self, call: Call, event: ev.HeaderSource) -> None:
        call.direction = ev.direction(event) or ""
        call.caller = ev.caller_number(event) or ""
        call.destination = ev.destination_number(event) or ""
        call.created_at = ev.event_time(event) or 0.0
        call.answered = ev.is_answered(event)

    def _on_create(self, call: Call, event: ev.HeaderSource) -> None:
        log.debug("call %s created on %s", call.uuid, call.node)

    def _on_answer(self, call: Call, event: ev.HeaderSource) -> None:
        call.answered = True
        call.answered_at = ev.event_time(event)

    def _on_bridge(self, call: Call, event: ev.HeaderSource) -> None:
        call.other_leg = ev.other_leg(event) or call.other_leg

    def _on_hangup(self, call: Call, event: ev.HeaderSource) -> None:
        call.hungup = True
        call.hungup_at = ev.event_time(event)
        call.hangup_cause = ev.hangup_cause(event) or ""

    def _on_hangup_complete(self, call: Call, event: ev.HeaderSource) -> None:
        if not call.hungup:
            self._on_hangup(call, event)

    def _read_identity_vars(self, call: Call, event: ev.HeaderSource) -> None:
        ident = self._identity
        account = ev.channel_var(event, ident.account_variable)
        if account:  # a call learned from a resync has its identity once an event shows it
            call.identity_known = True
        call.account = account or call.account
        call.user = ev.channel_var(event, ident.user_variable) or call.user
        call.device = ev.channel_var(event, ident.device_variable) or call.device

    def resync(self, node: str, rows: Iterable[Mapping[str, str]]) -> set[str]:
        """Replace what we know of `node` with `show channels as json` rows.

        Returns the uuids present. Calls of that node not in the rows are dropped
        (they ended while we were not listening)."""
        present: set[str] = set()
        for row in rows:
            uuid = row.get("uuid", "")
            if not uuid:
                continue
            present.add(uuid)
            call = self._calls.get(uuid) or Call(uuid=uuid, node=node, identity_known=False)
            call.direction = row.get("direction", call.direction)
            call.answered = call.answered or row.get("callstate") == "ACTIVE"
            call.caller = row.get("cid_num", call.caller)
            call.destination = row.get("dest", call.destination)
            self._calls[uuid] = call
        for gone in [c.uuid for c in self.calls(node) if c.uuid not in present]:
            del self._calls[gone]
        return present

    def adopt(self, call: Call) -> None:
        """Take a call known from the store (it is alive but missing from the resync)."""
        call.hungup = False
        self._calls.setdefault(call.uuid, call)

    def set_identity(self, uuid: str, account: str, user: str, device: str) -> None:
        call = self._calls.get(uuid)
        if call is not None:
            call.account, call.user, call.device = account, user, device
            call.identity_known = True

    @property
    def identity(self) -> IdentitySettings:
        return self._identity
