"""Names of the events the daemon uses and accessors for the headers it reads.

Only `esl.ingest` reads events (into domain facts), through these functions. Each takes
anything with `.get(name) -> str | None` (esl.frames.Event).
"""

from __future__ import annotations

from typing import Protocol

CHANNEL_CREATE = "CHANNEL_CREATE"
CHANNEL_ANSWER = "CHANNEL_ANSWER"
CHANNEL_BRIDGE = "CHANNEL_BRIDGE"
CHANNEL_HANGUP = "CHANNEL_HANGUP"
CHANNEL_HANGUP_COMPLETE = "CHANNEL_HANGUP_COMPLETE"
RECORD_START = "RECORD_START"
RECORD_STOP = "RECORD_STOP"
DTMF = "DTMF"
BACKGROUND_JOB = "BACKGROUND_JOB"
HEARTBEAT = "HEARTBEAT"  # every 20 s by default: the node is alive even when idle
CHANNEL_PARK = "CHANNEL_PARK"
CHANNEL_EXECUTE_COMPLETE = "CHANNEL_EXECUTE_COMPLETE"

# Only these: mod_event_socket kills a listener that falls 500 events behind.
SUBSCRIBED: tuple[str, ...] = (
    CHANNEL_CREATE,
    CHANNEL_ANSWER,
    CHANNEL_BRIDGE,
    CHANNEL_HANGUP,
    CHANNEL_HANGUP_COMPLETE,
    RECORD_START,
    RECORD_STOP,
    DTMF,
    BACKGROUND_JOB,
    HEARTBEAT,
)

# Only when scripts are configured: a parked call hands itself to a script, and every
# application a script runs reports its end (every call's applications do, hence "only").
SCRIPT_EVENTS: tuple[str, ...] = (CHANNEL_PARK, CHANNEL_EXECUTE_COMPLETE)


class HeaderSource(Protocol):
    def get(self, header: str, default: str | None = None) -> str | None: ...


_DOWN_STATES = frozenset({"CS_HANGUP", "CS_REPORTING", "CS_DESTROY"})


def unique_id(ev: HeaderSource) -> str | None:
    return ev.get("Unique-ID")


def channel_name(ev: HeaderSource) -> str | None:
    return ev.get("Channel-Name")


def direction(ev: HeaderSource) -> str | None:
    """`inbound` or `outbound`, from FreeSWITCH's point of view."""
    return ev.get("Call-Direction")


def answer_state(ev: HeaderSource) -> str | None:
    return ev.get("Answer-State")


def channel_down(ev: HeaderSource) -> bool:
    """The channel was hanging up when FreeSWITCH sent this event (its own state, whatever
    order the CHANNEL_HANGUP and this event are dispatched in)."""
    return answer_state(ev) == "hangup" or ev.get("Channel-State") in _DOWN_STATES


def is_answered(ev: HeaderSource) -> bool:
    return answer_state(ev) == "answered"


def caller_number(ev: HeaderSource) -> str | None:
    return ev.get("Caller-Caller-ID-Number")


def caller_name(ev: HeaderSource) -> str | None:
    """The caller id name. An originated leg carries none until it enters the dialplan,
    where FreeSWITCH makes its callee id its caller id (switch_channel_sort_cid: flip_cid):
    for an outbound leg without one, that callee id name."""
    name = ev.get("Caller-Caller-ID-Name")
    if not name and direction(ev) == "outbound":
        return ev.get("Caller-Callee-ID-Name")
    return name


def destination_number(ev: HeaderSource) -> str | None:
    return ev.get("Caller-Destination-Number")


def other_leg(ev: HeaderSource) -> str | None:
    return ev.get("Other-Leg-Unique-ID")


def hangup_cause(ev: HeaderSource) -> str | None:
    return ev.get("Hangup-Cause")


def event_time(ev: HeaderSource) -> float | None:
    """Event-Date-Timestamp (microseconds since the epoch) in seconds."""
    raw = ev.get("Event-Date-Timestamp")
    return int(raw) / 1e6 if raw and raw.isdigit() else None


def channel_var(ev: HeaderSource, name: str) -> str | None:
    value = ev.get("variable_" + name)
    return None if value in (None, "", "_undef_") else value


def record_path(ev: HeaderSource) -> str | None:
    return ev.get("Record-File-Path")


def completion_cause(ev: HeaderSource) -> str | None:
    """The event header, never the stale `variable_record_completion_cause`."""
    return ev.get("Record-Completion-Cause")


def record_ms(ev: HeaderSource) -> int | None:
    raw = ev.get("variable_record_ms")
    return int(raw) if raw and raw.isdigit() else None


def dtmf_digit(ev: HeaderSource) -> str | None:
    return ev.get("DTMF-Digit")


def job_uuid(ev: HeaderSource) -> str | None:
    return ev.get("Job-UUID")


def application_uuid(ev: HeaderSource) -> str | None:
    """The `Event-UUID` a sendmsg carried (FreeSWITCH's own for dialplan applications)."""
    return ev.get("Application-UUID")


def application(ev: HeaderSource) -> str | None:
    return ev.get("Application")


def application_response(ev: HeaderSource) -> str:
    """What the application left (`FILE PLAYED`, `FILE NOT FOUND`, `_none_`...)."""
    return ev.get("Application-Response") or ""
