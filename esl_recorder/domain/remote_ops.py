"""The owner's side of domain.remote: carry out what another daemon handed over.

`RemoteOperations.run` calls the same service methods a local request uses, and answers
with JSON-able results: the recording or call as the service returned it here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..errors import NotFound
from .call_service import CallService, DialRequest
from .calls import Call
from .options import PauseBehavior, RecordOptions
from .recording import StopReason
from .remote import (
    CALL_GET,
    CALL_LIVE,
    HANGUP,
    PAUSE,
    PLACE,
    RESUME,
    SCRIPT_START,
    START,
    STOP,
    TAKE_CHARGE,
    TRANSFER,
    Args,
    Forwarding,
    Result,
    call_doc,
    encode_error,
    recording_doc,
)
from .scripts import ScriptRoute, ScriptRunner
from .service import RecordingService

log = logging.getLogger(__name__)

class RemoteOperations:
    """The owner's side: run an operation another daemon handed over, as a local request
    would (tenancy included: the account travels with it and is checked here again)."""

    def __init__(self, recordings: RecordingService, calls: CallService,
                 forwarding: Forwarding, scripts: ScriptRunner | None = None) -> None:
        self._recordings = recordings
        self._calls = calls
        self._scripts = scripts
        self._forwarding = forwarding
        self._table: dict[str, Callable[[Args], Result]] = {
            START: self._start, STOP: self._stop, PAUSE: self._pause, RESUME: self._resume,
            CALL_GET: self._call_get, CALL_LIVE: self._call_live, HANGUP: self._hangup,
            TRANSFER: self._transfer, TAKE_CHARGE: self._take_charge, PLACE: self._place,
            SCRIPT_START: self._script_start}

    def run(self, node: str, operation: str, args: Args) -> tuple[bool, Result]:
        """(True, result) or (False, the encoded domain error). The operation is about
        `node` only: a call this daemon holds on another of its nodes is not this
        command's (a call the store did not know was asked of every node)."""
        handler = self._table.get(operation)
        if handler is None:
            return False, {"type": "RecordingError",
                           "message": f"operation {operation!r} is not known here"}
        try:
            with self._forwarding.here():
                self._check_node(node, operation, args)
                return True, handler(args)
        except Exception as exc:
            if not isinstance(exc, NotFound):
                log.info("forwarded %s refused: %s", operation, exc)
            return False, encode_error(exc)

    def _check_node(self, node: str, operation: str, args: Args) -> None:
        """A call this daemon has not seen yet is missing here too (but for PLACE, which
        makes it): a request about a call the store did not know goes to every node, so
        one daemon owning two of them runs it twice, and had the first check let an unseen
        call through, its events arriving meanwhile would let both runs act on it (two
        recordings for one request)."""
        if "call_uuid" in args and operation != PLACE:
            call = self._calls.find(args["call_uuid"])
            if call is None or call.node != node:
                raise NotFound(f"no live call {args['call_uuid']}")
        elif "sid" in args and self._recordings.get(args["sid"]).node != node:
            raise NotFound(f"no recording {args['sid']}")

    # recordings ------------------------------------------------------------------------
    def _start(self, a: Args) -> Result:
        rec = self._recordings.start(a["call_uuid"], RecordOptions.from_dict(a["options"]),
                                     account=a["account"], source=a["source"],
                                     meta=a["meta"])
        return {"recording": recording_doc(rec)}

    def _stop(self, a: Args) -> Result:
        rec = self._recordings.stop(a["sid"], account=a["account"],
                                    reason=StopReason(a["reason"]))
        return {"recording": recording_doc(rec)}

    def _pause(self, a: Args) -> Result:
        behavior = PauseBehavior(a["behavior"]) if a["behavior"] else None
        return {"recording": recording_doc(self._recordings.pause(
            a["sid"], account=a["account"], behavior=behavior))}

    def _resume(self, a: Args) -> Result:
        return {"recording": recording_doc(self._recordings.resume(a["sid"],
                                                                   account=a["account"]))}

    # calls -----------------------------------------------------------------------------
    def _call_get(self, a: Args) -> Result:
        return {"call": call_doc(self._recordings.call(a["call_uuid"], a["account"]))}

    def _call_live(self, a: Args) -> Result:
        call = self._calls.live(a["call_uuid"])
        if call is None:
            raise NotFound(f"no live call {a['call_uuid']}")
        return {"call": call_doc(call)}

    def _hangup(self, a: Args) -> Result:
        self._calls.hangup(self._owned_call(a["call_uuid"]), a["cause"])
        return {}

    def _transfer(self, a: Args) -> Result:
        self._calls.transfer(self._owned_call(a["call_uuid"]), a["extension"], a["context"],
                             a.get("caller_id"))
        return {}

    def _take_charge(self, a: Args) -> Result:
        call = self._calls.find(a["call_uuid"])
        if call is None:
            raise NotFound(f"no call {a['call_uuid']}")
        self._calls.take_charge(call, a["source"], a["meta"])
        return {}

    def _place(self, a: Args) -> Result:
        call = self._calls.place(DialRequest(**a["request"]), a["call_uuid"])
        return {"call": call_doc(call)}

    def _script_start(self, a: Args) -> Result:
        if self._scripts is None:
            raise NotFound("running SWML over the API is off (scripts.run_endpoint)")
        session = self._scripts.start(a["call_uuid"], ScriptRoute(**a["route"]))
        return {"session": session.id}

    def _owned_call(self, call_uuid: str) -> Call:
        call = self._calls.find(call_uuid)
        if call is None:
            raise NotFound(f"no call {call_uuid}")
        return call
