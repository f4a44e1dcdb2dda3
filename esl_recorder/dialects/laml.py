"""SignalWire LaML (Twilio-compatible) recordings under /api/laml/2010-04-01 (seed 001), and
under /2010-04-01 as SignalWire also serves them (the signalwire 2.x SDK's paths); every
unknown path under either prefix (or anywhere under /api/laml) answers in LaML's error shape.

Mapping: RecordingChannels mono (default) / dual → 1 / 2 channels; RecordingTrack inbound /
outbound / both → Track (a dual recording holds both tracks: dual with one track is a 400);
Trim trim-silence / do-not-trim; no format parameter: settings.recording.default_format,
WAV when trimming. Update: Status paused (PauseBehavior skip → `uuid_record pause`, silence,
the default, → `mask`), in-progress (resume), stopped; the sid may be `Twilio.CURRENT`.

Errors are `{code, message, more_info, status}`. Codes: 20003 authentication (401) and
20404 not found (404) are Twilio's; 70002 is Twilio's "Bad request" (malformed body,
wrong type or Content-Type, invalid value), used for every 400 and 413; 20004 (405),
20422 (422: the recording's state refuses the change), 20500 and 20503 follow Twilio's
20xxx numbering and are not confirmed Twilio codes.

Status callbacks are signed like Twilio's (`X-Twilio-Signature`, also sent as
`X-SignalWire-Signature`) with the account's laml_token.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from ..delivery.signing import twilio_signature
from ..domain.names import RECORDING_SID
from ..domain.options import PauseBehavior, RecordOptions, Track
from ..domain.recording import Recording
from ..errors import NotFound
from ..settings import AccountSettings
from .base import UnsupportedMediaType
from .compat import CompatDialect
from .compat_params import CreateParams, TrackName, UpdateParams
from .compat_render import (
    View,
    channels,
    default_format,
    duration_s,
    error_code,
    rfc2822,
    updated_at,
    vendor_status,
)

API_VERSION = "2010-04-01"
SHORT_PREFIX = f"/{API_VERSION}"  # SignalWire serves both; the signalwire 2.x SDK uses this one
NAMESPACE = "/api/laml"  # another API version under it is still a LaML path, answered as one
SOURCE = "StartCallRecordingApi"
_CODES = {400: 70002, 401: 20003, 404: 20404, 405: 20004, 413: 70002, 422: 20422,
          500: 20500, 503: 20503}


class LamlCreate(CreateParams):
    """Seed 001 CreateCallRecordingRequest."""

    recording_channels: Literal["mono", "dual"] = Field(
        "mono", alias="RecordingChannels",
        description="mono: both legs mixed in one channel; dual: one channel per leg.")
    recording_track: TrackName = Field(
        "both", alias="RecordingTrack",
        description="inbound (the party's audio), outbound (what it hears) or both.")
    trim: Literal["trim-silence", "do-not-trim"] = Field(
        "do-not-trim", alias="Trim", description="Trim leading and trailing silence.")


class LamlUpdate(UpdateParams):
    behavior: Literal["skip", "silence"] = Field(
        "silence", alias="PauseBehavior",
        description="skip: the paused audio is left out; silence: replaced by silence.")

    def pause_behavior(self) -> PauseBehavior | None:
        return PauseBehavior(self.behavior)


class LamlDialect(CompatDialect):
    name = "laml"
    prefix = f"/api/laml/{API_VERSION}"
    aliases = (SHORT_PREFIX,)
    security = {"type": "http", "scheme": "basic",
                "description": "Basic base64(project_id:token)"}
    auth_challenge = 'Basic realm="LaML"'
    args = ("AccountSid", "CallSid", "Sid")
    create_model = LamlCreate
    update_model = LamlUpdate
    current_alias = "Twilio.CURRENT"

    def rules(self) -> list[Rule]:
        rules = super().rules()
        return rules + self.aliased(rules)

    def owns(self, path: str) -> bool:
        return super().owns(path) or path == NAMESPACE or path.startswith(NAMESPACE + "/")

    def authenticate(self, account_sid: str, request: Request) -> AccountSettings:
        return self._accounts.laml(account_sid, request.headers.get("Authorization"))

    def sid_in(self, text: str) -> str:
        if not RECORDING_SID.fullmatch(text):
            raise NotFound(f"no recording {text!r}")
        return text

    def options(self, params: Any) -> RecordOptions:
        assert isinstance(params, LamlCreate)
        trim = params.trim == "trim-silence"
        return RecordOptions(
            channels=2 if params.recording_channels == "dual" else 1,
            track=Track(params.recording_track), trim_silence=trim,
            format=default_format(trim, self._default_format))

    def status_for(self, exc: Exception) -> tuple[int, str]:
        if isinstance(exc, UnsupportedMediaType):
            return 400, str(exc)  # seed 001 answers 400 / 401 / 404 / 422 / 503
        return super().status_for(exc)

    def error_body(self, status: int, message: str) -> Any:
        code = _CODES.get(status, 20000 + status)
        return {"code": code, "message": message, "status": status,
                "more_info": f"https://www.twilio.com/docs/errors/{code}"}

    def render(self, rec: Recording, view: View) -> dict[str, Any]:
        """Seed 001 CallRecordingResponse, every field."""
        ch = str(channels(rec))
        return {
            "sid": rec.sid, "account_sid": view.account_sid, "api_version": API_VERSION,
            "call_sid": rec.call_uuid, "conference_sid": None, "channel": ch, "channels": ch,
            "date_created": rfc2822(rec.created_at), "date_updated": rfc2822(updated_at(rec)),
            "start_time": rfc2822(rec.started_at), "end_time": rfc2822(rec.ended_at),
            "duration": duration_s(rec), "price": None, "price_unit": "USD",
            "source": SOURCE, "status": vendor_status(rec), "error_code": error_code(rec),
            "uri": self.resource_uri(rec, view), "encryption_details": None,
            "subresource_uris": {"transcriptions": self.transcriptions_uri(rec, view)},
            "trim": "trim-silence" if rec.options.trim_silence else "do-not-trim",
        }

    def callback_fields(self, rec: Recording, event: str, view: View) -> list[tuple[str, str]]:
        """SignalWire's recording status callback fields, plus Twilio's RecordingStartTime,
        RecordingTrack and (absent) ErrorCode."""
        fields = [("AccountSid", view.account_sid), ("CallSid", rec.call_uuid),
                  ("RecordingSid", rec.sid), ("RecordingStatus", event),
                  ("RecordingChannels", str(channels(rec))), ("RecordingSource", SOURCE),
                  ("RecordingTrack", rec.options.track.value)]
        if rec.started_at is not None:
            fields.append(("RecordingStartTime", rfc2822(rec.started_at) or ""))
        if event != "absent":
            fields.append(("RecordingUrl", view.base_url + self.account_uri(rec, view)))
        if event != "in-progress":
            fields.append(("RecordingDuration", str(max(duration_s(rec), 0))))
        if event == "absent":
            fields.append(("ErrorCode", error_code(rec) or ""))
        return fields

    def signature_headers(self, acct: AccountSettings, url: str,
                          fields: list[tuple[str, str]]) -> dict[str, str]:
        signature = twilio_signature(url, fields, acct.laml_token)
        return {"X-Twilio-Signature": signature, "X-SignalWire-Signature": signature}
