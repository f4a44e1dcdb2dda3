"""Bandwidth Catapult v1 documents: ids, times, call and recording resources, call events.

Ids: a call is its FreeSWITCH A-leg uuid; a recording is `rec-` + the hex of our sid (and
parsed back, nothing stored); its media is `<recordingId>.<wav|mp3>`, never a user path.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any
from urllib.parse import urlencode

from ..delivery.request import OutboundRequest
from ..domain.names import SID_HEX
from ..domain.recording import Recording, State
from .bandwidth_calls import BwCall

_CALL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RECORDING_ID = re.compile(f"rec-({SID_HEX})")
_MEDIA_NAME = re.compile(f"(rec-{SID_HEX})\\.(?:wav|mp3)")

# Recording resource states: recording (running), saving (closed, not yet downloadable),
# complete, error (nothing usable was saved).
_RESOURCE_STATE = {
    State.QUEUED: "recording", State.IN_PROGRESS: "recording", State.PAUSED: "recording",
    State.STOPPED: "saving", State.COMPLETED: "complete", State.ABSENT: "error",
    State.FAILED: "error",
}


def is_call_id(value: str) -> bool:
    return bool(_CALL_ID.fullmatch(value))


def recording_id(sid: str) -> str:
    return "rec-" + sid[2:].lower()


def sid_of(recording_id_: str) -> str | None:
    """The sid behind a recordingId, or None when it is not one of ours."""
    match = _RECORDING_ID.fullmatch(recording_id_)
    return "RE" + match.group(1) if match else None


def sid_of_media(name: str) -> str | None:
    match = _MEDIA_NAME.fullmatch(name)
    return sid_of(match.group(1)) if match else None


def media_name(rec: Recording) -> str:
    return f"{recording_id(rec.sid)}.{rec.options.format.value}"


def iso(ts: float | None) -> str | None:
    """ISO-8601 UTC with milliseconds and Z, as Catapult writes times."""
    if ts is None:
        return None
    whole = math.floor(ts)
    millis = min(999, round((ts - whole) * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def user_url(base: str, user_id: str) -> str:
    return f"{base}/v1/users/{user_id}"


def call_url(base: str, user_id: str, call_id: str) -> str:
    return f"{user_url(base, user_id)}/calls/{call_id}"


def recording_url(base: str, user_id: str, rec: Recording) -> str:
    return f"{user_url(base, user_id)}/recordings/{recording_id(rec.sid)}"


def recording_doc(rec: Recording, base: str, user_id: str) -> dict[str, Any]:
    """The recording resource (`GET /recordings/{id}` and the lists)."""
    doc: dict[str, Any] = {
        "id": recording_id(rec.sid),
        "call": call_url(base, user_id, rec.call_uuid),
        "media": f"{user_url(base, user_id)}/media/{media_name(rec)}",
        "startTime": iso(rec.started_at or rec.created_at),
        "state": resource_state(rec),
    }
    if rec.ended_at is not None:
        doc["endTime"] = iso(rec.ended_at)
    return doc


def resource_state(rec: Recording) -> str:
    return _RESOURCE_STATE[rec.state]


def page_links(url: str, page: int, size: int, *, has_next: bool,
               filters: list[tuple[str, str]] | None = None) -> str:
    """The `Link` header of a list page: first, previous and next pages (with the
    request's filters kept)."""
    links = [(0, "first")]
    if page > 0:
        links.append((page - 1, "previous"))
    if has_next:
        links.append((page + 1, "next"))
    kept = [(k, v) for k, v in filters or []]
    return ", ".join(f'<{url}?{urlencode([*kept, ("page", p), ("size", size)])}>; rel="{rel}"'
                     for p, rel in links)


def recording_event(rec: Recording, call: BwCall) -> dict[str, Any]:
    """The `recording` callback of seed 000, sent once the recording is final."""
    status = "complete" if rec.state is State.COMPLETED else "error"
    return {
        "callId": rec.call_uuid,
        "eventType": "recording",
        "recordingId": recording_id(rec.sid),
        "recordingUri": recording_url(call.wishes.base, call.wishes.user_id, rec),
        "status": status,
        "state": status,
        "startTime": iso(rec.started_at or rec.created_at),
        "endTime": iso(rec.ended_at or rec.started_at or rec.created_at),
    }


def call_doc(call: BwCall, base: str, now: float) -> dict[str, Any]:
    """The call resource (`GET /calls/{callId}`)."""
    url = call_url(base, call.wishes.user_id, call.id)
    doc: dict[str, Any] = {
        "id": call.id,
        "direction": call.direction,
        "from": call.from_,
        "to": call.to,
        "state": call.state,
        "startTime": iso(call.created_at),
        "activeTime": iso(call.answered_at),
        "endTime": iso(call.ended_at),
        "chargeableDuration": chargeable_seconds(call, now),
        "callTimeout": call.wishes.call_timeout,
        "callbackUrl": call.wishes.callback_url or None,
        "callbackHttpMethod": call.wishes.callback_method.upper(),
        "recordingEnabled": call.wishes.recording_enabled,
        "recordingMaxDuration": call.wishes.recording_max_duration,
        "recordingFileFormat": call.wishes.recording_file_format,
        "transcriptionEnabled": False,
        "recordings": f"{url}/recordings",
        "events": f"{url}/events",
    }
    if call.wishes.tag:
        doc["tag"] = call.wishes.tag
    return {k: v for k, v in doc.items() if v is not None}


def chargeable_seconds(call: BwCall, now: float) -> int:
    """Answered time rounded up to whole minutes (Catapult bills per minute)."""
    if call.answered_at is None:
        return 0
    end = call.ended_at if call.ended_at is not None else now
    return 60 * math.ceil(max(0.0, end - call.answered_at) / 60)


def call_event(kind: str, call: BwCall, at: float | None) -> dict[str, Any]:
    """The `answer`, `hangup` and `timeout` callbacks (ap-docs apiCallbacks/answer,
    hangup, timeout: the last has no callState)."""
    doc: dict[str, Any] = {
        "eventType": kind,
        "callId": call.id,
        "callUri": call_url(call.wishes.base, call.wishes.user_id, call.id),
        "from": call.from_,
        "to": call.to,
        "callState": "active" if kind == "answer" else "completed",
        "time": iso(at),
    }
    if kind == "timeout":
        del doc["callState"]
    if kind == "hangup":
        doc["cause"] = call.cause or "NORMAL_CLEARING"
    if call.wishes.tag:
        doc["tag"] = call.wishes.tag
    return doc


def transfer_event(call: BwCall, to: str, at: float) -> dict[str, Any]:
    """The call was sent to `to` (state transferring): the answer event's fields, with
    callState transferring and transferTo."""
    doc = call_event("answer", call, at)
    doc.update(eventType="transfer", callState="transferring", transferTo=to)
    return doc


def call_events(call: BwCall) -> list[dict[str, Any]]:
    """`GET /calls/{callId}/events`: create, answer, transfers, timeout and hangup, as far as
    they happened, in the order they happen in a call's life (a transfer's time is the
    API's clock, the others FreeSWITCH's: ordering by time could mix the two clocks)."""
    events: list[dict[str, Any]] = [{"id": "create", "time": iso(call.created_at),
                                     "name": "create"}]
    if call.answered_at is not None:
        events.append({"id": "answer", "time": iso(call.answered_at), "name": "answer"})
    for n, (at, to) in enumerate(call.wishes.transfers):
        events.append({"id": f"transfer-{n + 1}", "time": iso(float(at)), "name": "transfer",
                       "data": to})
    if call.ended_at is not None:
        if call.timed_out:
            events.append({"id": "timeout", "time": iso(call.ended_at), "name": "timeout"})
        events.append({"id": "hangup", "time": iso(call.ended_at), "name": "hangup",
                       "data": call.cause})
    return events


def callback_request(call: BwCall, doc: dict[str, Any], user_agent: str) -> OutboundRequest:
    """The event as the call's callbackUrl wants it: a JSON POST, or a GET with the fields
    in the query; callbackTimeout (ms) and fallbackUrl go with it."""
    timeout = call.wishes.callback_timeout_ms / 1000 if call.wishes.callback_timeout_ms else None
    headers = {"User-Agent": user_agent}
    if call.wishes.callback_method == "get":
        return OutboundRequest("GET", _with_query(call.wishes.callback_url, doc), headers,
                               timeout=timeout,
                               fallback_url=call.wishes.fallback_url and _with_query(
                                   call.wishes.fallback_url, doc))
    headers["Content-Type"] = "application/json; charset=utf-8"
    return OutboundRequest("POST", call.wishes.callback_url, headers,
                           json.dumps(doc, separators=(",", ":")), timeout=timeout,
                           fallback_url=call.wishes.fallback_url)


def _with_query(url: str, doc: dict[str, Any]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(doc)
