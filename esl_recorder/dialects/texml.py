"""Telnyx TeXML recordings under /v2/texml (seed 002).

Mapping: PlayBeep (default true) → beep before the recording; RecordingChannels single /
dual (default dual) → 1 / 2 channels, except that a RecordingTrack of inbound or outbound
without RecordingChannels records that track alone (single); dual with one track is a
400. No format parameter: settings.recording.default_format. Update: Status paused
(silence kept: `mask`), in-progress, stopped. SendRecordingUrl=false leaves RecordingUrl
out of the callbacks.

Telnyx's recording sid is a UUID: ours ('RE' + 32 hex) is shown as the UUID of those 32
hex digits, and both forms are accepted in paths. Errors are Telnyx v2's
`{"errors": [{"code", "title", "detail"}]}` with Telnyx's generic codes (10005 not found,
10009 authentication failed, 10014 unsupported media type, 10015 bad request (also used
for 405, 413 and 422), 10007 unexpected error). Callbacks are signed as Telnyx signs them
(Ed25519 over `<timestamp>|<body>`, made at each attempt) with the account's
texml_signing_key, when it has one: receivers check them with its public key, as they would
Telnyx's.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from pydantic import Field
from werkzeug.wrappers import Request

from ..delivery.signing import TELNYX_ED25519
from ..domain.names import RECORDING_SID
from ..domain.options import RecordOptions, Track
from ..domain.recording import Recording, State
from ..errors import NotFound
from ..settings import AccountSettings
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

SOURCE = "StartCallRecordingAPI"
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_ERRORS = {400: ("10015", "Bad Request"), 401: ("10009", "Authentication failed"),
           404: ("10005", "Resource not found"), 415: ("10014", "Unsupported Media Type")}


class TexmlCreate(CreateParams):
    """Seed 002 request parameters."""

    play_beep: bool = Field(True, alias="PlayBeep",
                            description="Play a beep when the recording starts.")
    recording_channels: Literal["single", "dual"] = Field(
        "dual", alias="RecordingChannels",
        description="dual: the first leg on channel A, the rest on B; single: mixed.")
    recording_track: TrackName = Field("both", alias="RecordingTrack",
                                       description="The audio track to record.")
    send_recording_url: bool = Field(True, alias="SendRecordingUrl",
                                     description="Include RecordingUrl in callbacks.")

    def callback(self) -> dict[str, Any] | None:
        spec = super().callback()
        return None if spec is None else {**spec, "send_url": self.send_recording_url}

    def stereo(self) -> bool:
        if "recording_channels" not in self.model_fields_set:
            return self.recording_track == "both"
        return self.recording_channels == "dual"


class TexmlDialect(CompatDialect):
    name = "texml"
    prefix = "/v2/texml"
    security = {"type": "http", "scheme": "bearer", "description": "Telnyx API key"}
    auth_challenge = "Bearer"
    args = ("account_sid", "call_sid", "recording_sid")
    create_model = TexmlCreate
    update_model = UpdateParams

    def authenticate(self, account_sid: str, request: Request) -> AccountSettings:
        return self._accounts.texml(account_sid, request.headers.get("Authorization"))

    def sid_in(self, text: str) -> str:
        if RECORDING_SID.fullmatch(text):
            return text
        if _UUID.fullmatch(text):
            return "RE" + text.replace("-", "").lower()
        raise NotFound(f"no recording {text!r}")

    def sid_out(self, sid: str) -> str:
        match = RECORDING_SID.fullmatch(sid)
        return str(uuid.UUID(hex=match.group(1))) if match else sid

    def options(self, params: Any) -> RecordOptions:
        assert isinstance(params, TexmlCreate)
        return RecordOptions(
            channels=2 if params.stereo() else 1, track=Track(params.recording_track),
            beep=params.play_beep,
            format=default_format(False, self._default_format))

    def error_body(self, status: int, message: str) -> Any:
        code, title = _ERRORS.get(status, ("10007" if status >= 500 else "10015",
                                           "Unexpected error" if status >= 500
                                           else "Bad Request"))
        return {"errors": [{"code": code, "title": title, "detail": message}]}

    def render(self, rec: Recording, view: View) -> dict[str, Any]:
        """Seed 002's response fields, with the fetch resource's status, subresources_uris
        and media_url."""
        sid = self.sid_out(rec.sid)
        return {
            "account_sid": view.account_sid, "call_sid": rec.call_uuid,
            "conference_sid": None, "channels": channels(rec),
            "date_created": rfc2822(rec.created_at), "date_updated": rfc2822(updated_at(rec)),
            "start_time": rfc2822(rec.started_at), "price": None, "price_unit": "USD",
            "duration": str(duration_s(rec)), "sid": sid, "source": SOURCE,
            "status": vendor_status(rec), "error_code": error_code(rec),
            "track": rec.options.track.value, "uri": self.resource_uri(rec, view),
            "subresources_uris": {"transcriptions": self.transcriptions_uri(rec, view)},
            "media_url": self.media_url(rec, view) if rec.state is State.COMPLETED else None,
        }

    def media_url(self, rec: Recording, view: View) -> str:
        return f"{view.base_url}{self.account_uri(rec, view)}.{rec.options.format.value}"

    def send_time_signer(self, acct: AccountSettings) -> str:
        return f"{TELNYX_ED25519}:{acct.id}" if acct.texml_signing_key else ""

    def callback_fields(self, rec: Recording, event: str, view: View) -> list[tuple[str, str]]:
        """Telnyx's TeXML recording callback fields (ConnectionId left out: there is none)."""
        fields = [("AccountSid", view.account_sid), ("CallSid", rec.call_uuid),
                  ("CallSidLegacy", rec.call_uuid), ("RecordingSid", self.sid_out(rec.sid)),
                  ("RecordingStatus", event), ("RecordingChannels", str(channels(rec))),
                  ("RecordingSource", SOURCE)]
        if event != "in-progress":
            fields.append(("RecordingDuration", str(max(duration_s(rec), 0))))
        if event == "completed" and rec.meta.get("callback", {}).get("send_url", True):
            fields.append(("RecordingUrl", self.media_url(rec, view)))
        if event == "absent":
            fields.append(("ErrorCode", error_code(rec) or ""))
        return fields
