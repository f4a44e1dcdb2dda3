"""What both stores (store.sqlite, store.postgres) keep and how: the columns of a call and
of a recording, and the conversions between domain objects and rows (a row is any mapping
of column name to value: sqlite3.Row, or a psycopg dict row)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..domain.calls import Call, CallState
from ..domain.options import RecordOptions
from ..domain.ports import OutboxItem
from ..domain.recording import FileFacts, Recording, State, StopReason

log = logging.getLogger(__name__)
Row = Mapping[str, Any]

# A recording's columns fixed when it is created (they carry most indexes), then the ones
# that change: saving an existing recording updates only the latter.
REC_FIXED = ("sid", "node", "account", "path", "source", "options", "meta", "created_at")
REC_CHANGING = (
    "call_uuid",  # the leg it runs on: FreeSWITCH moves it with a transfer (should_follow)
    "state", "started_at", "ended_at", "stop_requested", "stop_reason", "cause",
    "fs_record_ms", "duration_ms", "channels", "sample_rate", "size", "sha256", "error",
    "paused_by",
)
REC_COLUMNS = REC_FIXED + REC_CHANGING
CALL_COLUMNS = (
    "uuid", "node", "direction", "account", "user_id", "device", "caller", "destination",
    "created_at", "answered_at", "hungup_at", "hangup_cause", "state", "source", "meta",
)
TERMINAL_STATES = ("completed", "absent", "failed")
PROBE_EVERY = 1.0  # seconds between probe writes while the store is not writable
PROBE_BYTES = 16_384  # what a probe writes: a few pages, like a create and its callback
OUTBOX_ERROR_CHARS = 500  # an attempt's error is kept to this length


def call_values(call: Call) -> tuple[Any, ...]:
    """Values of _CALL_COLUMNS."""
    return (call.uuid, call.node, call.direction, call.account, call.user, call.device,
            call.caller, call.destination, call.created_at, call.answered_at,
            call.hungup_at, call.hangup_cause, call.state.value, call.source,
            json.dumps(call.meta))


def recording_values(rec: Recording) -> tuple[Any, ...]:
    """Values of _REC_COLUMNS."""
    return (rec.sid, rec.node, rec.account, rec.path, rec.source,
            json.dumps(rec.options.to_dict()), json.dumps(rec.meta), rec.created_at,
            *changing_values(rec))


def changing_values(rec: Recording) -> tuple[Any, ...]:
    """Values of REC_CHANGING."""
    f = rec.file
    return (rec.call_uuid, rec.state.value, rec.started_at, rec.ended_at,
            _value(rec.stop_requested), _value(rec.stop_reason), rec.cause, rec.fs_record_ms,
            f and f.duration_ms, f and f.channels, f and f.sample_rate, f and f.size,
            f and f.sha256, rec.error,
            rec.paused_by)


def _value(reason: StopReason | None) -> str | None:
    return reason.value if reason else None


def recording_from_row(row: Row) -> Recording:
    facts = None
    if row["sha256"]:
        facts = FileFacts(row["duration_ms"], row["channels"], row["sample_rate"],
                          row["size"], row["sha256"])
    return Recording(
        sid=row["sid"], call_uuid=row["call_uuid"], node=row["node"], path=row["path"],
        options=RecordOptions.from_dict(json.loads(row["options"])),
        account=row["account"] or "", state=State(row["state"]), source=row["source"] or "",
        created_at=row["created_at"] or 0.0, started_at=row["started_at"],
        ended_at=row["ended_at"],
        stop_requested=StopReason(row["stop_requested"]) if row["stop_requested"] else None,
        stop_reason=StopReason(row["stop_reason"]) if row["stop_reason"] else None,
        cause=row["cause"], fs_record_ms=row["fs_record_ms"], file=facts, error=row["error"],
        paused_by=row["paused_by"], meta=json.loads(row["meta"] or "{}"))


def call_from_row(row: Row) -> Call:
    state = CallState(row["state"]) if row["state"] else (
        CallState.ENDED if row["hungup_at"] is not None else CallState.CREATED)
    return Call(uuid=row["uuid"], node=row["node"], direction=row["direction"] or "",
                state=state, account=row["account"] or "", user=row["user_id"] or "",
                device=row["device"] or "", caller=row["caller"] or "",
                destination=row["destination"] or "", created_at=row["created_at"] or 0.0,
                answered_at=row["answered_at"], hungup_at=row["hungup_at"],
                hangup_cause=row["hangup_cause"] or "", source=row["source"] or "",
                meta=json.loads(row["meta"] or "{}"))


def outbox_from_row(row: Row) -> OutboxItem:
    return OutboxItem(id=row["id"], kind=row["kind"], key=row["key"], target=row["target"],
                      payload=json.loads(row["payload"]), attempts=row["attempts"],
                      created_at=row["created_at"], next_attempt_at=row["next_attempt_at"],
                      state=row["state"], last_error=row["last_error"],
                      finished_at=row["finished_at"])


def attempt_params(delivered: Iterable[tuple[int, float]],
                   retried: Iterable[tuple[int, float, str]],
                   dead: Iterable[tuple[int, float, str]],
                   ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The parameters of finish_attempts' three updates, in their placeholders' order:
    (finished_at, id) delivered, (next_attempt_at, last_error, id) retried,
    (finished_at, last_error, id) dead. The error is cut to OUTBOX_ERROR_CHARS."""
    return ([(now, item_id) for item_id, now in delivered],
            [(at, err[:OUTBOX_ERROR_CHARS], item_id) for item_id, at, err in retried],
            [(now, err[:OUTBOX_ERROR_CHARS], item_id) for item_id, now, err in dead])


def run_callbacks(callbacks: list[Callable[[], None]]) -> None:
    """Run and forget after_commit's callbacks (a failing one is logged, the rest run)."""
    todo = callbacks[:]
    callbacks.clear()
    for callback in todo:
        try:
            callback()
        except Exception:
            log.exception("store: a callback after commit failed")
