"""Applications a script is waiting on: each `CallControl.execute` registers the id its
command carries, the end of that application (a fact from the node) or the end of its
call answers it. One table for every node: application ids are fresh uuids."""

from __future__ import annotations

from dataclasses import dataclass

import gevent.event

from .calls import Call, CallEvent
from .facts import ApplicationDone
from .ports import CallGone, ControlUnavailable


@dataclass
class _Wait:
    call_uuid: str
    node: str
    result: gevent.event.AsyncResult


class Executions:
    def __init__(self) -> None:
        self._waits: dict[str, _Wait] = {}

    def __len__(self) -> int:
        return len(self._waits)

    def expect(self, call_uuid: str, app_uuid: str, node: str = "") -> gevent.event.AsyncResult:
        """Register before sending: the end may be reported before the reply."""
        wait = self._waits[app_uuid] = _Wait(call_uuid, node, gevent.event.AsyncResult())
        return wait.result

    def forget(self, app_uuid: str) -> None:
        self._waits.pop(app_uuid, None)

    def on_application_done(self, fact: ApplicationDone) -> None:
        wait = self._waits.get(fact.app_uuid)
        if wait is not None and wait.call_uuid == fact.call_uuid:
            del self._waits[fact.app_uuid]
            wait.result.set(fact.response)

    def on_call_event(self, event: CallEvent, call: Call) -> None:
        """A call that ended answers every application still running on it with CallGone."""
        if event is not CallEvent.ENDED:
            return
        for app_uuid, wait in list(self._waits.items()):
            if wait.call_uuid == call.uuid:
                del self._waits[app_uuid]
                wait.result.set_exception(CallGone(f"call {call.uuid} hung up"))

    def node_lost(self, node: str) -> None:
        """The connection to `node` dropped: what it would have reported may be lost."""
        for app_uuid, wait in list(self._waits.items()):
            if wait.node == node:
                del self._waits[app_uuid]
                wait.result.set_exception(ControlUnavailable(
                    f"the connection to node {node} dropped while call {wait.call_uuid} "
                    "ran an application"))
