"""SignalWire's `calling.call.record` status events (seed 003), for every recording a SignalWire
front end starts: the Calling API (`rec.source == "calling"`) and SWML's `record_call`
(`rec.source == "swml"`); and what both share, SignalWire's record parameters in domain terms.

How a front end gets the events (the SWML runner does exactly what the Calling API does):

1. At request time, refuse a status URL deliveries may not reach: `Dialect.check_target(name,
   url)` (delivery/targets.py), and validate it as the outbox will (`CallbackUrl`).
2. Start the recording with `RecordingService.start(..., source="calling" or "swml",
   meta=status_meta(status_url, base_url, event_channel))`: `base_url` is where clients reach
   this daemon (`Dialect.base_url(request)`, or `http.public_base_url`), `event_channel` the
   event's channel (`"swml:<script session id>"` for SWML; the Calling API uses
   `calling_channel(call_uuid)`).
3. Nothing else: `RelayEvents`, subscribed once to the registry (wiring/dialects.py), queues
   one event per state change in the durable outbox, in the same transaction as the change
   (recording, paused, recording again on resume, then finished / no_input / error). A front
   end must not queue these events itself.

The event: `event_type`, `event_channel`, `timestamp` (when it was made), `project_id` (the
account's LaML project id), `space_id` (a UUID named after the base URL: this daemon is the
"space" its clients reach), `params.call_id` (the FreeSWITCH call UUID), `params.node_id`
(the FreeSWITCH node's name), `params.control_id`, `params.state`, and when finished
`params.record.url/duration/size/format`. The URL is the recording's media under the LaML API
(`record_url`), fetched with the project's credentials. A POST with a JSON body, signed as
SignalWire signs JSON webhooks (`X-SignalWire-Signature`, `X-SignalWire-Sha256-Signature`)
with the account's laml_token; unsigned when the call has no account.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

from ..accounts import AccountBook, vendor_id
from ..delivery.outbox import OutboundRequest, Outbox
from ..delivery.request import wire_form
from ..delivery.signing import signalwire_json_signatures
from ..domain.options import AudioFormat, RecordOptions, SilenceDetection, Track
from ..domain.recording import Recording, State
from .laml import LamlDialect

log = logging.getLogger(__name__)

SOURCES = frozenset({"calling", "swml"})
EVENT_TYPE = "calling.call.record"
KIND = "record-status"  # the outbox item kind (metric label)
Direction = Literal["speak", "listen", "both"]
# speak: what the party says (FreeSWITCH's read stream); listen: what it hears (write)
TRACKS: dict[str, Track] = {"speak": Track.INBOUND, "listen": Track.OUTBOUND,
                            "both": Track.BOTH}
DEFAULT_SENSITIVITY = 44.0  # SignalWire's default input_sensitivity
_THRESHOLD_AT_DEFAULT = SilenceDetection().threshold


# --- record parameters ---------------------------------------------------------------------------


def silence_threshold(sensitivity: float) -> int:
    """input_sensitivity (0-100, larger: quieter sound counts as speech) as FreeSWITCH's energy
    threshold. SignalWire publishes no formula: linear, with its default (44) at the daemon's
    default threshold and 100 at 0 (every sound is speech)."""
    scale = _THRESHOLD_AT_DEFAULT / (100.0 - DEFAULT_SENSITIVITY)
    return round((100.0 - sensitivity) * scale)


def record_options(*, format: str = "wav", direction: Direction = "both", stereo: bool = False,
                   beep: bool = False, terminators: str = "", initial_timeout: float = 0.0,
                   end_silence_timeout: float = 0.0,
                   input_sensitivity: float = DEFAULT_SENSITIVITY, max_length: int = 0,
                   control_id: str = "") -> RecordOptions:
    """SignalWire's record_call / calling.record parameters (seconds, as SignalWire gives
    them; defaults of SWML's record_call) as domain options."""
    silence = SilenceDetection(initial_timeout_ms=round(initial_timeout * 1000),
                               end_silence_timeout_ms=round(end_silence_timeout * 1000),
                               threshold=silence_threshold(input_sensitivity))
    return RecordOptions(channels=2 if stereo else 1, track=TRACKS[direction],
                         format=AudioFormat(format), beep=beep, terminators=terminators,
                         silence=silence, max_length_s=max_length, control_id=control_id)


# --- what a front end stores ---------------------------------------------------------------------


def status_meta(status_url: str | None, base_url: str, event_channel: str) -> dict[str, Any]:
    """The recording's meta that asks for events (see the module docstring)."""
    return {"base_url": base_url,
            "relay": {"status_url": status_url, "event_channel": event_channel}}


def calling_channel(call_uuid: str) -> str:
    return f"calling:{call_uuid}"


def record_url(rec: Recording, base_url: str, project_id: str) -> str:
    """Where the finished recording's media is fetched (the LaML media URL)."""
    return (f"{base_url}{LamlDialect.prefix}/Accounts/{project_id}/Recordings/"
            f"{rec.sid}.{rec.options.format.value}")


def space_id(base_url: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, base_url))


# --- the events ----------------------------------------------------------------------------------


def event_state(rec: Recording, previous: State) -> str | None:
    """The event a state change is, if any (stopped is a step on the way to finished)."""
    if rec.state is previous:
        return None
    if rec.state is State.IN_PROGRESS:
        return "recording"
    return {State.PAUSED: "paused", State.COMPLETED: "finished", State.ABSENT: "no_input",
            State.FAILED: "error"}.get(rec.state)


def record_event(rec: Recording, state: str, *, project_id: str, base_url: str,
                 event_channel: str, now: float) -> dict[str, Any]:
    """Seed 003's event, every field."""
    params: dict[str, Any] = {"call_id": rec.call_uuid, "node_id": rec.node,
                              "control_id": rec.control_id, "state": state}
    if state == "finished":
        params["record"] = {
            "url": record_url(rec, base_url, project_id),
            "duration": rec.file.duration_ms / 1000 if rec.file else 0.0,
            "size": rec.file.size if rec.file else 0,
            "format": rec.options.format.value,
        }
    return {"event_type": EVENT_TYPE, "event_channel": event_channel, "timestamp": now,
            "project_id": project_id, "space_id": space_id(base_url), "params": params}


class RelayEvents:
    """Queues the events of recordings whose source is in SOURCES (a registry listener)."""

    def __init__(self, accounts: AccountBook, outbox: Outbox,
                 clock: Callable[[], float]) -> None:
        self._accounts = accounts
        self._outbox = outbox
        self._clock = clock

    def on_recording(self, rec: Recording, previous: State) -> None:
        if rec.source not in SOURCES:
            return
        spec = rec.meta.get("relay") or {}
        url = spec.get("status_url")
        state = event_state(rec, previous)
        if not url or state is None:
            return
        acct = self._accounts.get(rec.account) if rec.account else None
        if rec.account and acct is None:
            log.warning("recording %s: account %r is no longer configured: no %s event",
                        rec.sid, rec.account, state)
            return
        project_id = vendor_id(acct, "laml") if acct else ""
        doc = record_event(rec, state, project_id=project_id,
                           base_url=rec.meta.get("base_url", ""),
                           event_channel=spec.get("event_channel", ""), now=self._clock())
        body = json.dumps(doc, separators=(",", ":"))
        headers = {"Content-Type": "application/json"}
        if acct is not None and acct.laml_token:
            seen_as = wire_form(url, {})[0]  # credentials in the URL go out as Basic auth
            headers.update(signalwire_json_signatures(seen_as, body, acct.laml_token))
        self._outbox.enqueue(OutboundRequest("POST", url, headers, body), key=rec.sid,
                             dialect=rec.source, kind=KIND)
        log.info("recording %s on call %s: %s event queued (to %s)", rec.sid, rec.call_uuid,
                 state, urlsplit(url).hostname)

