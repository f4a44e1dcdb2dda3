"""Running a SWML document sent over HTTP on a live call:
`POST /api/swml/calls/{call_id}` with the document as the body (`application/json`, or YAML:
`application/yaml`, `application/x-yaml`, `text/yaml`), HTTP Basic with the account's LaML
`project_id:token` (as the Calling API). The call must be the account's and live, and should
be idle in `park`: each step is a `sendmsg` execute.

The document is checked whole before anything runs (422 naming the step, e.g.
`SWML sections.main[1]: unknown or unsupported verb 'dance'`); then 202 with the call
(SignalWire's call resource) and the script's `session_id` (its events' `event_channel` is
`swml:<session_id>`). A script already running on the call: 422 `invalid_state`. A document
sent this way cannot play local files (the operator's documents can). Off unless
`scripts.run_endpoint` is true: 404.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..accounts import AccountBook, basic_credentials
from ..domain.scripts import ScriptError, ScriptRoute, ScriptRunner
from ..domain.service import RecordingService
from ..errors import NotFound
from ..metrics import Metrics
from .base import Operation
from .calling import BadBody, CallingDialect, InvalidParameter, call_doc, live_call_id
from .swml import NAME
from .swml_document import parse

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
JSON_TYPES = ("application/json",)


class SwmlDocument(BaseModel):
    """A SWML document (only its outline is described here; every verb is checked)."""

    model_config = ConfigDict(extra="allow")

    version: str = Field("1.0.0", description="1.x")
    sections: dict[str, list[Any]] = Field(
        description="`main` and other sections: lists of steps, `{verb: params}`.")


class SwmlDialect(CallingDialect):
    """SignalWire's REST shapes (auth, errors, the call resource) as the Calling API."""

    name = NAME
    prefix = "/api/swml"

    def __init__(self, *, accounts: AccountBook, recordings: RecordingService,
                 metrics: Metrics, runner: ScriptRunner | None, tts: tuple[str, str]) -> None:
        super().__init__(accounts=accounts, recordings=recordings, metrics=metrics)
        self._runner = runner
        self._tts = tts

    def rules(self) -> list[Rule]:
        op = Operation(self, "run_swml", self._run,
                       "Run a SWML document on a live call (the call should be idle in park)",
                       SwmlDocument, response_status=202,
                       extra={"content_types": JSON_TYPES + YAML_TYPES,
                              "errors": {"422": "the document is wrong (the message names "
                                                "the step), or a script already runs on the "
                                                "call"}})
        return [Rule(self.prefix + "/calls/<call_id>", methods=["POST"], endpoint=op)]

    def _run(self, request: Request, call_id: str) -> Response:
        authorization = request.headers.get("Authorization")
        acct = self._accounts.laml(basic_credentials(authorization)[0], authorization)
        if self._runner is None:
            raise NotFound("running SWML over the API is off (scripts.run_endpoint)")
        text = _document_text(request)
        try:
            parse(text)
        except ScriptError as exc:
            raise InvalidParameter(None, str(exc)) from None
        call = self._recordings.call(live_call_id(call_id), acct.id)
        engine, voice = self._tts
        session_id = self._runner.run_on_call(call.uuid, ScriptRoute(
            document="", dialect=NAME, text=text, trusted=False, tts_engine=engine,
            tts_voice=voice))
        return self.json({**call_doc(call), "session_id": session_id}, 202)


def _document_text(request: Request) -> str:
    mimetype = request.mimetype
    if mimetype not in JSON_TYPES + YAML_TYPES and not mimetype.endswith("+json"):
        raise BadBody(f"unsupported Content-Type {mimetype or '(none)'!r}: send the SWML "
                      "document as application/json or application/yaml")
    body = request.get_data(cache=True)  # enforces http.max_body_bytes (413)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("the body is not UTF-8 text") from None
