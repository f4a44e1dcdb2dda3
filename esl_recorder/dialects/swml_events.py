"""SWML's HTTP side: the `calling.call.record` status events of recordings a SWML script
started (seed 003), through the durable outbox, and the recordings' media at
`GET /api/swml/recordings/{sid}.{wav|mp3}` (the `record_call_url`), HTTP Basic with the
account's LaML project id and token (SignalWire's credentials for a project).

Event states: in-progress -> `recording`, paused -> `paused`, completed -> `finished`
(with `record.url/duration/size/format`), absent -> `no_input`, failed -> `error`.
`event_channel` is `swml:<session id>` (one per script run), `node_id` the FreeSWITCH
node's name, `project_id` and `space_id` the account's LaML project id.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from werkzeug.routing import Rule
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from ..accounts import AccountBook, basic_credentials
from ..delivery.outbox import OutboundRequest, Outbox
from ..domain.options import MEDIA_TYPES
from ..domain.recording import Recording, State
from ..domain.service import RecordingService
from ..errors import NotFound
from ..metrics import Metrics
from .base import Dialect

log = logging.getLogger(__name__)

PREFIX = "/api/swml"
MEDIA_PATH = f"{PREFIX}/recordings/"
_MEDIA = re.compile(r"(RE[0-9a-f]{32})\.(wav|mp3)")
STATES: dict[State, str] = {State.IN_PROGRESS: "recording", State.PAUSED: "paused",
                            State.COMPLETED: "finished", State.ABSENT: "no_input",
                            State.FAILED: "error"}


def status_event(rec: Recording, url: str, at: float) -> dict[str, Any] | None:
    """The `calling.call.record` body for the recording's new state (None: no event)."""
    state = STATES.get(rec.state)
    if state is None:
        return None
    project = str(rec.meta.get("project_id", ""))
    params: dict[str, Any] = {"call_id": rec.call_uuid, "node_id": rec.node,
                              "control_id": rec.control_id, "state": state}
    if rec.state is State.COMPLETED:
        facts = rec.file
        params["record"] = {"url": url,
                            "duration": round(facts.duration_ms / 1000, 3) if facts else 0.0,
                            "size": facts.size if facts else 0,
                            "format": rec.options.format.value}
    return {"event_type": "calling.call.record",
            "event_channel": f"swml:{rec.meta.get('session', '')}", "timestamp": at,
            "project_id": project, "space_id": project, "params": params}


class SwmlDialect(Dialect):
    name = "swml"
    prefix = PREFIX
    security = {"type": "http", "scheme": "basic"}
    auth_challenge = 'Basic realm="esl_recorder"'

    def __init__(self, *, accounts: AccountBook, recordings: RecordingService, outbox: Outbox,
                 metrics: Metrics, clock: Callable[[], float], public_base_url: str) -> None:
        super().__init__(metrics=metrics, public_base_url=public_base_url)
        self._accounts = accounts
        self._recordings = recordings
        self._outbox = outbox
        self._clock = clock

    # the record_call_url ---------------------------------------------------------------------
    def recording_url(self, rec: Recording) -> str:
        return f"{self._public_base_url}{MEDIA_PATH}{rec.sid}.{rec.options.format.value}"

    def recording_of_url(self, url: str) -> Recording | None:
        """The recording a URL of this daemon names (played from its file, never fetched)."""
        own = urlsplit(self._public_base_url)
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != (own.scheme, own.netloc) or \
                not parts.path.startswith(own.path.rstrip("/") + MEDIA_PATH):
            return None
        match = _MEDIA.fullmatch(parts.path.rsplit("/", 1)[1])
        if match is None:
            return None
        try:
            return self._recordings.get(match.group(1))
        except NotFound:
            return None

    def project_of(self, account: str) -> str:
        acct = self._accounts.get(account)
        return (acct.laml_project_id or acct.id) if acct is not None else ""

    # HTTP ------------------------------------------------------------------------------
    def rules(self) -> list[Rule]:
        return [self.rule("/recordings/<name>", ["GET"], "swml_recording_media", self._media,
                          summary="The media of a recording a SWML script made "
                                  "(record_call_url)")]

    def error_body(self, status: int, message: str) -> Any:
        return {"errors": [{"code": str(status), "message": message}]}

    def _media(self, request: Request, name: str) -> Response:
        match = _MEDIA.fullmatch(name)
        if match is None:
            raise NotFound(f"no recording {name}")
        authorization = request.headers.get("Authorization")
        acct = self._accounts.laml(basic_credentials(authorization)[0], authorization)
        rec = self._recordings.get(match.group(1), acct.id)
        if rec.source != self.name:
            raise NotFound(f"no recording {name}")
        path = self._recordings.media_path(rec.sid, acct.id)
        return send_file(path, request.environ, mimetype=MEDIA_TYPES[rec.options.format])

    # status events ---------------------------------------------------------------------
    def on_recording(self, rec: Recording, previous: State) -> None:
        url = str(rec.meta.get("status_url") or "")
        if not url or rec.state is previous:
            return
        event = status_event(rec, self.recording_url(rec), self._clock())
        if event is None:
            return
        request = OutboundRequest("POST", url, {"Content-Type": "application/json"},
                                  json.dumps(event, separators=(",", ":")))
        self._outbox.enqueue(request, key=rec.sid, dialect=self.name, kind="record-status")
        log.info("recording %s on call %s: calling.call.record %s queued (to %s)", rec.sid,
                 rec.call_uuid, event["params"]["state"], urlsplit(url).hostname)
