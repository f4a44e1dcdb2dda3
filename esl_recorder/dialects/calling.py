"""SignalWire's Calling API, its recording commands: `POST /api/calling/calls` with
`{"command": "calling.record" | "calling.record.pause" | "calling.record.resume" |
"calling.record.stop", "id": <call id>, "params": {...}}` (calling_models.py), as
signalwire-sdk 3.x sends them (`client.calling.record(call_id, control_id=..., audio={...},
status_url=...)`, `record_pause`, `record_resume`, `record_stop`).

- Auth: HTTP Basic `project_id:token`, the account's LaML credentials.
- The call id is the FreeSWITCH call UUID the daemon tracks (as LaML's CallSid is). A call
  that is not live, not this account's, or not a call id at all answers the same 404.
- The recordings of one call are told apart by control_id (default: the recording sid);
  commands address the call's newest recording with that control_id.
- Answer: 200 with the call (SignalWire's CallResponse: id, from, to, direction, status,
  ...), plus the command's `control_id`, so a caller that let the daemon choose it can pause
  and stop the recording.
- Status: `calling.call.record` events to `params.status_url` (relay.py).

Errors are SignalWire's REST shape, `{"errors": [{"type", "code", "message", "attribute",
"url"}]}`. `validation_error` / `invalid_parameter` (422: a value is wrong; `attribute`
names it, e.g. `params.audio.format`) and `call_update_failed` (503: FreeSWITCH did not
carry the command out) are SignalWire's own codes; `bad_request` (400: the body is not a
JSON object), `unauthorized` (401), `not_found` (404), `invalid_state` (422: the recording's
state refuses the command), `method_not_allowed` (405), `request_too_large` (413) and
`internal_error` (500) follow the same shape with names of our own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..accounts import AccountBook, basic_credentials
from ..delivery.targets import TargetPolicy, TargetRefused
from ..domain.calls import Call, CallState
from ..domain.names import check_uuid
from ..domain.options import PauseBehavior
from ..domain.recording import Recording
from ..domain.service import RecordingService
from ..errors import Conflict, InvalidArgument, NotFound
from ..metrics import Metrics
from ..settings import AccountSettings
from .base import Dialect, Operation, json_object
from .calling_models import (
    COMMANDS,
    CallCommand,
    Command,
    Control,
    PauseCommand,
    RecordCommand,
    ResumeCommand,
)
from .relay import calling_channel, record_options, status_meta

SOURCE = "calling"
ERROR_DOCS = "https://developer.signalwire.com/rest/overview/error-codes/#"
_ERRORS = {400: ("invalid_request_error", "bad_request"),
           401: ("authentication_error", "unauthorized"),
           404: ("not_found_error", "not_found"),
           405: ("invalid_request_error", "method_not_allowed"),
           413: ("invalid_request_error", "request_too_large"),
           422: ("validation_error", "invalid_parameter"),
           503: ("server_error", "call_update_failed")}
_STATUS = {CallState.CREATED: "created", CallState.RINGING: "ringing",
           CallState.ANSWERED: "answered", CallState.BRIDGED: "answered",
           CallState.ENDED: "ended"}
_LOOKBACK = 500  # finished recordings of one call searched for a control_id


class BadBody(InvalidArgument):
    """The body is not a JSON object (400); other InvalidArguments are values (422)."""


class InvalidParameter(InvalidArgument):
    """A value is wrong; `attribute` names it as the body spells it."""

    def __init__(self, attribute: str | None, problem: str) -> None:
        super().__init__(f"{attribute}: {problem}" if attribute else problem)
        self.attribute = attribute
        self.problem = problem


class CallingDialect(Dialect):
    name = SOURCE
    prefix = "/api/calling"
    security = {"type": "http", "scheme": "basic",
                "description": "Basic base64(project_id:token): the LaML credentials"}
    auth_challenge = 'Basic realm="SignalWire"'

    def __init__(self, *, accounts: AccountBook, recordings: RecordingService,
                 metrics: Metrics, public_base_url: str = "",
                 targets: TargetPolicy | None = None) -> None:
        super().__init__(metrics=metrics, public_base_url=public_base_url, targets=targets)
        self._accounts = accounts
        self._recordings = recordings

    def rules(self) -> list[Rule]:
        op = Operation(self, "call_command", self._command,
                       "A recording command on a live call: calling.record, "
                       "calling.record.pause, calling.record.resume, calling.record.stop",
                       CallCommand,
                       extra={"content_types": ("application/json",),
                              "errors": {"422": "a parameter's value is invalid, or the "
                                                "recording's state refuses the command"}})
        return [Rule(self.prefix + "/calls", methods=["POST"], endpoint=op)]

    # errors -----------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        return errors_doc(status, message)

    def status_for(self, exc: Exception) -> tuple[int, str]:
        if isinstance(exc, BadBody):
            return 400, str(exc)
        if isinstance(exc, (InvalidArgument, Conflict)):
            return 422, str(exc)
        return super().status_for(exc)

    def failure(self, exc: Exception, request: Request | None = None) -> Response:
        """The shared failure (metrics, 401 challenge, logging), with the attribute of a
        wrong value, or `invalid_state` when the recording's state refuses the command."""
        response = super().failure(exc, request)
        if isinstance(exc, InvalidParameter):
            doc = errors_doc(422, exc.problem, attribute=exc.attribute)
        elif isinstance(exc, Conflict):
            doc = errors_doc(422, str(exc), code="invalid_state")
        else:
            return response
        response.set_data(json.dumps(doc, separators=(",", ":")))
        return response

    # the view ---------------------------------------------------------------------------
    def _command(self, request: Request) -> Response:
        acct = self._authenticate(request)
        cmd = parse_command(json_body(request))
        call = self._recordings.call(live_call_id(cmd.id), acct.id)
        if isinstance(cmd, RecordCommand):
            control_id = self._record(request, acct, call, cmd).control_id
        else:
            control_id = self._control(acct, call, cmd).control_id
        return self.json({**call_doc(call), "control_id": control_id})

    def _authenticate(self, request: Request) -> AccountSettings:
        authorization = request.headers.get("Authorization")
        project, _ = basic_credentials(authorization)
        return self._accounts.laml(project, authorization)

    def _record(self, request: Request, acct: AccountSettings, call: Call,
                cmd: RecordCommand) -> Recording:
        params, audio = cmd.params, cmd.params.audio
        if params.status_url:
            try:
                self._targets.check_url(params.status_url)
            except TargetRefused as exc:
                raise InvalidParameter("params.status_url", str(exc)) from None
        options = record_options(
            format=audio.format, direction=audio.direction, stereo=audio.stereo,
            beep=audio.beep, terminators=audio.terminators,
            initial_timeout=audio.initial_timeout,
            end_silence_timeout=audio.end_silence_timeout,
            input_sensitivity=audio.input_sensitivity, control_id=params.control_id or "")
        meta = status_meta(params.status_url, self.base_url(request),
                           calling_channel(call.uuid))
        try:
            return self._recordings.start(call.uuid, options, account=acct.id, source=SOURCE,
                                          meta=meta)
        except Conflict as exc:  # the control_id is taken on this call
            raise InvalidParameter("params.control_id", str(exc)) from None

    def _control(self, acct: AccountSettings, call: Call, cmd: Control) -> Recording:
        rec = self._find(acct, call, cmd.params.control_id)
        service = self._recordings
        if isinstance(cmd, PauseCommand):
            behavior = PauseBehavior(cmd.params.behavior)
            return service.pause(rec.sid, account=acct.id, behavior=behavior)
        if isinstance(cmd, ResumeCommand):
            return service.resume(rec.sid, account=acct.id)
        return service.stop(rec.sid, account=acct.id)

    def _find(self, acct: AccountSettings, call: Call, control_id: str) -> Recording:
        """The call's newest recording with this control_id: a running one, else a
        finished one (stopping it again is harmless; pausing it is refused)."""
        live = [r for r in self._recordings.for_call(call.uuid)
                if r.account == acct.id and r.control_id == control_id]
        if live:
            return max(live, key=lambda r: r.created_at)
        for rec in self._recordings.list(acct.id, call_uuid=call.uuid, limit=_LOOKBACK):
            if rec.control_id == control_id:
                return rec
        raise NotFound(f"no recording with control_id {control_id!r} on call {call.uuid}")


# --- parsing and rendering -----------------------------------------------------------------------


def json_body(request: Request) -> Any:
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise BadBody(f"unsupported Content-Type {mimetype or '(none)'!r}: send "
                      "application/json")
    body = request.get_data(cache=True)  # enforces http.max_body_bytes (413)
    try:
        return json_object(body)
    except InvalidArgument as exc:
        raise BadBody(str(exc)) from None


def parse_command(doc: dict[str, Any]) -> Command:
    """The command, or InvalidParameter naming the first wrong value (`params.audio.format`)."""
    command = doc.get("command")
    if command not in COMMANDS:
        shown = f" {command!r}" if isinstance(command, str) else ""
        raise InvalidParameter("command", f"command{shown[:80]} is not one this server "
                               "carries out: calling.record, calling.record.pause, "
                               "calling.record.resume or calling.record.stop")
    try:
        return CallCommand.model_validate(doc).root
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"][1:])  # [0] is the command's tag
        value = err.get("input")
        shown = f" (got {value!r})" if isinstance(value, (str, int, float, bool)) else ""
        raise InvalidParameter(where or None, f"{err['msg']}{shown}"[:300]) from None


def errors_doc(status: int, message: str, *, attribute: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    kind, default_code = _ERRORS.get(status, ("server_error", "internal_error"))
    code = code or default_code
    return {"errors": [{"type": kind, "code": code, "message": message,
                        "attribute": attribute, "url": ERROR_DOCS + code}]}


def live_call_id(text: str) -> str:
    """The call UUID a request names; anything that is not one is a call we do not have."""
    try:
        return check_uuid(text)
    except InvalidArgument:
        raise NotFound(f"no live call {text[:128]}") from None


def iso(ts: float | None) -> str | None:
    """ISO 8601 UTC; None when unknown (a call learned from a resync)."""
    if not ts:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def call_doc(call: Call) -> dict[str, Any]:
    """SignalWire's call resource (CallResponse) from what the daemon knows of the call."""
    return {"id": call.uuid, "from": call.caller, "to": call.destination,
            "direction": call.direction or "inbound", "status": _STATUS[call.state],
            "source": "realtime_api", "type": "relay_sip_call", "url": None,
            "created_at": iso(call.created_at), "parent_id": call.other_leg or None}
