"""Calls for the dialects: find one (live, or kept by the repository), take charge of one,
place one.

Placing: a domain Call first (known, and saved, before FreeSWITCH rings anything), then
the originate through the node's CallControl, awaited in its own greenlet (never by the
API request). The A leg's uuid is ours (`origination_uuid`), and it carries the account
channel variable, so the engine's tenancy applies to it like to any other call.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import gevent

from ..errors import EslRecorderError, InvalidArgument, NotFound, RecordingError
from ..metrics import Metrics
from .calls import Call, CallListener, CallState, CallTracker
from .names import check_uuid
from .ports import (
    CallControl,
    CallGone,
    ControlUnavailable,
    Dialed,
    OriginateRequest,
    RecordingRepository,
    command_result,
)
from .remote import (
    CALL_LIVE,
    HANGUP,
    PLACE,
    TAKE_CHARGE,
    TRANSFER,
    Forwarding,
    call_from_doc,
    dial_args,
)

log = logging.getLogger(__name__)

RESULT_MARGIN_S = 15.0  # beyond the answer timeout, for FreeSWITCH to report the outcome
LOST_CAUSE = "RESULT_UNKNOWN"  # no result: the node went away or did not say in time
INVALID_CAUSE = "INVALID_NUMBER_FORMAT"  # the dial string could not be sent safely
CALLER_ID_VARIABLE = "effective_caller_id_number"  # what a bridge from the call presents


@dataclass(frozen=True)
class DialRequest:
    """One outbound call, as a dialect asks for it."""

    dial_string: str  # the endpoint, e.g. sofia/gateway/gw/+15551234567
    application: str  # what the answered call runs: &park() or `<ext> XML <context>`
    caller_id_number: str
    destination: str
    account: str
    timeout_s: int
    source: str  # the dialect placing it
    meta: dict[str, Any] = field(default_factory=dict)


def new_call_uuid() -> str:
    return str(uuid_module.uuid4())


class CallService:
    def __init__(self, tracker: CallTracker, repository: RecordingRepository,
                 nodes: Mapping[str, CallControl], metrics: Metrics,
                 clock: Callable[[], float], forwarding: Forwarding | None = None) -> None:
        self._forwarding = forwarding or Forwarding()
        self._tracker = tracker
        self._repository = repository
        self._nodes = nodes
        self._metrics = metrics
        self._clock = clock

    def recover(self, nodes: Collection[str] | None = None) -> int:
        """The calls dialects are in charge of, back in the tracker from the store (the
        next resync with their node keeps those FreeSWITCH still has and ends the others):
        at start-up, or those of `nodes` only when this daemon takes them over from
        another (the store's copies replace what it held of them)."""
        calls = self._repository.open_calls()
        if nodes is not None:
            calls = [c for c in calls if c.node in nodes]
            for node in nodes:
                self._tracker.forget_node(node)
        for call in calls:
            self._tracker.adopt(call)
        log.info("recovered %d calls in the charge of a dialect%s", len(calls),
                 f" on {', '.join(nodes)}" if nodes else "")
        return len(calls)

    def forget_node(self, node: str) -> None:
        """Another daemon follows the calls of `node` now."""
        self._tracker.forget_node(node)

    def subscribe(self, listener: CallListener) -> None:
        """Hear every call's events (created, answered, bridged, ended, released)."""
        self._tracker.subscribe(listener)

    def find(self, call_uuid: str) -> Call | None:
        """A live call, else one the repository kept (a dialect's, or one recorded)."""
        return self._tracker.get(call_uuid) or self._repository.load_call(call_uuid)

    def live(self, call_uuid: str) -> Call | None:
        """A call FreeSWITCH has reported and not yet hung up (on another daemon's node:
        as its owner sees it)."""
        call = self._tracker.get(call_uuid)
        if self._forwarding.enabled:
            nodes = self._forwarding.nodes_of_call(call_uuid, held=call)
            if nodes:
                try:
                    doc = self._forwarding.forward(nodes, CALL_LIVE, {"call_uuid": call_uuid})
                except NotFound:
                    return None
                return call_from_doc(doc["call"])
        return call if call is not None and call.reported and not call.hungup else None

    def list(self, account: str, source: str, *, caller: str | None = None,
             destination: str | None = None, newest_first: bool = True, limit: int = 25,
             offset: int = 0) -> list[Call]:
        """An account's calls placed or taken charge of by `source`, as known now (a live
        call's newest state is the tracker's)."""
        kept = self._repository.list_calls(account=account, source=source, caller=caller,
                                           destination=destination, newest_first=newest_first,
                                           limit=limit, offset=offset)
        return [self._tracker.get(c.uuid) or c for c in kept]

    def hangup(self, call: Call, cause: str = "NORMAL_CLEARING") -> None:
        """Ask FreeSWITCH to hang the call up; it ends by its own events."""
        if self._forwarding.node_elsewhere(call.node):
            self._forwarding.forward([call.node], HANGUP, {"call_uuid": call.uuid,
                                                           "cause": cause})
            return
        self._control(call).hangup(call.uuid, cause)
        log.info("call %s: hangup sent to node %s (%s)", call.uuid, call.node, cause)

    def transfer(self, call: Call, extension: str, context: str,
                 caller_id: str | None = None) -> None:
        """Send the call to `extension` in the XML dialplan's `context` (uuid_transfer);
        with `caller_id`, the call shows that number from then on (its
        effective_caller_id_number, which a bridge in that extension presents)."""
        if self._forwarding.node_elsewhere(call.node):
            self._forwarding.forward([call.node], TRANSFER, {
                "call_uuid": call.uuid, "extension": extension, "context": context,
                "caller_id": caller_id})
            return
        control = self._control(call)
        if caller_id:
            control.set_variables(call.uuid, {CALLER_ID_VARIABLE: caller_id})
        control.transfer(call.uuid, extension, "XML", context)
        log.info("call %s: transferred to %s in context %s%s", call.uuid, extension, context,
                 f" showing {caller_id}" if caller_id else "")

    def _control(self, call: Call) -> CallControl:
        if call.hungup:
            raise CallGone(f"the call {call.uuid} has ended")
        control = self._nodes.get(call.node)
        if control is None or not control.connected:
            raise ControlUnavailable(f"FreeSWITCH node {call.node!r} is not connected")
        return control

    def take_charge(self, call: Call, source: str, meta: dict[str, Any]) -> None:
        """`source` keeps `meta` with the call; the call is saved from now on (by its
        node's owner)."""
        if self._forwarding.node_elsewhere(call.node):
            self._forwarding.forward([call.node], TAKE_CHARGE, {
                "call_uuid": call.uuid, "source": source, "meta": meta})
            call.source, call.meta = source, meta
            return
        self._tracker.take_charge(call, source, meta)

    def place(self, request: DialRequest, call_uuid: str | None = None) -> Call:
        """Choose a connected node, record the call, send the originate in the
        background. Raises RecordingError when no node is connected."""
        node = next((name for name, n in self._nodes.items() if n.connected), None)
        if node is None and self._forwarding.enabled:
            return self._place_elsewhere(request, call_uuid or new_call_uuid())
        if node is None:
            raise RecordingError("no FreeSWITCH node is connected: cannot place the call")
        call = Call(uuid=check_uuid(call_uuid or new_call_uuid()), node=node,
                    direction="outbound", account=request.account,
                    caller=request.caller_id_number, destination=request.destination,
                    created_at=self._clock(), source=request.source, meta=request.meta)
        self._tracker.place(call)
        ident = self._tracker.identity
        originate = OriginateRequest(
            call.uuid, request.dial_string, request.application,
            {"origination_caller_id_number": request.caller_id_number,
             ident.account_variable: request.account}, request.timeout_s)
        gevent.spawn(self._run, self._nodes[node], call, originate)
        log.info("call %s: originate queued for node %s", call.uuid, node)
        return call

    def _place_elsewhere(self, request: DialRequest, call_uuid: str) -> Call:
        """No node of ours is connected: the owner of another node places it (the first
        that takes it; a node without an owner now is skipped)."""
        args = {"request": dial_args(request), "call_uuid": check_uuid(call_uuid)}
        refused: RecordingError = RecordingError(
            "no FreeSWITCH node is connected: cannot place the call")
        for node in self._forwarding.foreign_nodes():
            try:
                return call_from_doc(self._forwarding.forward([node], PLACE, args)["call"])
            except ControlUnavailable as exc:  # no owner, or not taken: never run
                refused = exc
        raise refused

    def _run(self, control: CallControl, call: Call, request: OriginateRequest) -> None:
        result = "ok"
        try:
            dialed = control.originate(request, request.timeout_s + RESULT_MARGIN_S)
        except InvalidArgument as exc:
            log.warning("call %s: originate not sent: %s", call.uuid, exc)
            result, dialed = "error", Dialed(call.uuid, INVALID_CAUSE)
        except EslRecorderError as exc:
            log.warning("call %s: no originate result from node %s: %s", call.uuid,
                        call.node, exc)
            result = command_result(exc)
            dialed = Dialed(call.uuid, LOST_CAUSE)
        if not dialed.answered:
            result = "error" if result == "ok" else result
            log.info("call %s: originate failed on node %s: %s", call.uuid, call.node,
                     dialed.cause)
            self._failed(call, dialed.cause)
        self._metrics.fs_commands.labels(action="originate", result=result).inc()

    def _failed(self, call: Call, cause: str) -> None:
        """End a call FreeSWITCH never reported; one it reported ends by its own events."""
        if call.reported or call.state is CallState.ENDED:
            return
        try:
            self._tracker.end(call, cause, self._clock())
            self._tracker.release(call)
        except Exception:
            log.exception("call %s: handling the failed originate failed", call.uuid)
