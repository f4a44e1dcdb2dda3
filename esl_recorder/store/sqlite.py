"""Durable state in SQLite (WAL): calls with recordings, recordings, delivery outbox.

Every write is committed before the daemon acknowledges anything (a new recording and its
call in one transaction, other writes each in their own), so `kill -9` at any moment loses
nothing acknowledged (WAL + synchronous=NORMAL survives a process crash; use FULL for power
loss). All access happens on the gevent hub thread through one connection; each method is
one statement group with no greenlet switch. WAL checkpoints, which flush the disk, run in a
worker thread on a connection of their own (`checkpoint_in_background`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from typing import Any

import gevent
import gevent.event

from ..domain.calls import Call, CallState
from ..domain.options import RecordOptions
from ..domain.ports import OutboxItem, StoreUnavailable
from ..domain.recording import FileFacts, Recording, State, StopReason
from .schema import migrate

log = logging.getLogger(__name__)

# A recording's columns fixed when it is created (they carry most indexes), then the ones
# that change: saving an existing recording updates only the latter.
_REC_FIXED = ("sid", "call_uuid", "node", "account", "path", "source", "options", "created_at")
_REC_CHANGING = (
    "state", "started_at", "ended_at", "stop_requested", "stop_reason", "cause",
    "fs_record_ms", "duration_ms", "channels", "sample_rate", "size", "sha256", "error",
    "paused_by", "meta",
)
_REC_COLUMNS = _REC_FIXED + _REC_CHANGING
_REC_UPDATE = f"UPDATE recordings SET {', '.join(c + '=?' for c in _REC_CHANGING)} WHERE sid=?"
_HUB_CHECKPOINT_PAGES = 10_000  # the WAL's size (40 MB) at which a commit checkpoints it
_CALL_COLUMNS = (
    "uuid", "node", "direction", "account", "user_id", "device", "caller", "destination",
    "created_at", "answered_at", "hungup_at", "hangup_cause", "state", "source", "meta",
)
_POLICY_COLUMNS = ("account", "level", "owner", "patch", "revision", "updated_at")
_TERMINAL_STATES = ("completed", "absent", "failed")
PROBE_EVERY = 1.0  # seconds between probe writes while the store is not writable
_PROBE_BYTES = 16_384  # what a probe writes: a few pages, like a create and its callback


class Store:
    def __init__(self, path: str) -> None:
        self._path = path
        self._checkpoints: gevent.Greenlet | None = None
        self._closing = gevent.event.Event()
        self._depth = 0  # nesting of atomic() blocks: only the outermost commits
        self._writable = True
        self._probed_at = 0.0
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        try:
            migrate(self._db, path)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._closing.set()
        if self._checkpoints is not None:
            self._checkpoints.join()  # lets a checkpoint in progress finish
        self._db.close()

    def checkpoint_in_background(self, interval: float = 0.5) -> None:
        """Copy the WAL into the database every `interval` seconds from a worker thread, so
        commits on the hub do not wait for a checkpoint's disk flush. A commit still
        checkpoints when the WAL reaches _HUB_CHECKPOINT_PAGES (the worker cannot keep up)."""
        if self._path == ":memory:" or self._checkpoints is not None:
            return
        self._db.execute(f"PRAGMA wal_autocheckpoint={_HUB_CHECKPOINT_PAGES}")
        self._checkpoints = gevent.spawn(self._checkpoint_loop, interval)

    def _checkpoint_loop(self, interval: float) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        pool = gevent.get_hub().threadpool
        try:
            while not self._closing.wait(interval):
                try:
                    pool.apply(_checkpoint, (conn,))
                except sqlite3.Error as exc:
                    log.warning("WAL checkpoint of %s failed: %s", self._path, exc)
        finally:
            conn.close()

    # calls -----------------------------------------------------------------------------
    def save_call(self, call: Call) -> None:
        with self.atomic():
            self._upsert("calls", _CALL_COLUMNS, _call_values(call))

    def load_call(self, uuid: str) -> Call | None:
        row = self._db.execute("SELECT * FROM calls WHERE uuid=?", (uuid,)).fetchone()
        return None if row is None else _call_from_row(row)

    def open_calls(self) -> list[Call]:
        """Calls a dialect took charge of that had not ended when last saved."""
        rows = self._db.execute("SELECT * FROM calls WHERE source<>'' AND state<>'ended'")
        return [_call_from_row(r) for r in rows]

    def list_calls(self, *, account: str, source: str, caller: str | None = None,
                   destination: str | None = None, newest_first: bool = True,
                   limit: int = 25, offset: int = 0) -> list[Call]:
        """An account's calls of one `source` (a dialect's), by creation time."""
        where, args = ["account=?", "source=?"], [account, source]
        for column, value in (("caller", caller), ("destination", destination)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        order = "DESC" if newest_first else "ASC"
        rows = self._db.execute(
            f"SELECT * FROM calls WHERE {' AND '.join(where)} "
            f"ORDER BY created_at {order}, uuid {order} LIMIT ? OFFSET ?",
            (*args, limit, offset))
        return [_call_from_row(r) for r in rows]

    # recordings ------------------------------------------------------------------------
    def save_recording(self, rec: Recording) -> None:
        """Update the changing columns of a known recording, else insert it whole."""
        with self.atomic():
            if self._db.execute(_REC_UPDATE, (*_changing_values(rec), rec.sid)).rowcount == 0:
                self._upsert("recordings", _REC_COLUMNS, _recording_values(rec))

    def insert_recording(self, rec: Recording, call: Call | None = None) -> None:
        """Write a new recording, and its call when given, in one transaction: never a
        recording without its call."""
        with self.atomic():
            if call is not None:
                self._upsert("calls", _CALL_COLUMNS, _call_values(call))
            self._upsert("recordings", _REC_COLUMNS, _recording_values(rec))

    def get_recording(self, sid: str) -> Recording | None:
        row = self._db.execute("SELECT * FROM recordings WHERE sid=?", (sid,)).fetchone()
        return _recording_from_row(row) if row else None

    def unfinished_recordings(self) -> list[Recording]:
        rows = self._db.execute(
            "SELECT * FROM recordings WHERE state NOT IN (?,?,?) ORDER BY created_at",
            _TERMINAL_STATES)
        return [_recording_from_row(r) for r in rows]

    def list_recordings(self, *, account: str | None = None, call_uuid: str | None = None,
                        created_from: float | None = None, created_to: float | None = None,
                        limit: int = 50, offset: int = 0) -> list[Recording]:
        """Newest first; `created_from` <= created_at < `created_to` when given."""
        where, args = _filters(account=account, call_uuid=call_uuid)
        clauses = [where.removeprefix("WHERE ")] if where else []
        values: list[Any] = list(args)
        if created_from is not None:
            clauses.append("created_at>=?")
            values.append(created_from)
        if created_to is not None:
            clauses.append("created_at<?")
            values.append(created_to)
        cond = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(
            f"SELECT * FROM recordings {cond} ORDER BY created_at DESC, sid LIMIT ? OFFSET ?",
            (*values, limit, offset))
        return [_recording_from_row(r) for r in rows]

    def delete_recording(self, sid: str) -> bool:
        with self.atomic():
            return self._db.execute("DELETE FROM recordings WHERE sid=?", (sid,)).rowcount > 0

    # outbox ----------------------------------------------------------------------------
    def enqueue(self, kind: str, key: str, target: str, payload: dict[str, Any],
                now: float) -> int:
        with self.atomic():
            cur = self._db.execute(
                "INSERT INTO outbox(kind,key,target,payload,created_at,next_attempt_at) "
                "VALUES(?,?,?,?,?,?)", (kind, key, target, json.dumps(payload), now, now))
        return int(cur.lastrowid or 0)

    def due(self, now: float, limit: int = 100, *, after: tuple[float, int] | None = None,
            target: str | None = None) -> list[OutboxItem]:
        """Pending items whose time has come, only the oldest pending per key (order), by
        (next_attempt_at, id); `after` continues a scan past that position, `target` keeps
        one receiver's items. Walks the partial pending indexes: the cost follows the
        pending rows scanned, never the delivered history."""
        after_at, after_id = after if after is not None else (float("-inf"), 0)
        index, where = (("outbox_pending_target", "target=:target AND ") if target is not None
                        else ("outbox_pending_due", ""))
        rows = self._db.execute(
            f"SELECT * FROM outbox o INDEXED BY {index} WHERE {where}state='pending' "
            "AND next_attempt_at<=:now AND (next_attempt_at,id)>(:at,:id) AND NOT EXISTS("
            "SELECT 1 FROM outbox p INDEXED BY outbox_pending_key WHERE p.key=o.key "
            "AND p.state='pending' AND p.id<o.id) ORDER BY next_attempt_at, id LIMIT :limit",
            {"now": now, "at": after_at, "id": after_id, "target": target, "limit": limit})
        return [_outbox_from_row(r) for r in rows]

    def heads(self, keys: Iterable[str], now: float) -> list[OutboxItem]:
        """The oldest pending item of each of `keys`, when it is due (after its
        predecessor was delivered or given up)."""
        rows = self._db.execute(
            "SELECT o.* FROM (SELECT DISTINCT value AS key FROM json_each(:keys)) k "
            "JOIN outbox o INDEXED BY outbox_pending_key ON o.key=k.key AND "
            "o.state='pending' AND o.id=(SELECT MIN(id) FROM outbox p INDEXED BY "
            "outbox_pending_key WHERE p.key=k.key AND p.state='pending') "
            "WHERE o.next_attempt_at<=:now ORDER BY o.id",
            {"keys": json.dumps(list(keys)), "now": now})
        return [_outbox_from_row(r) for r in rows]

    def next_attempt_after(self, now: float) -> float | None:
        """The earliest next_attempt_at of a pending item that is not due yet."""
        row = self._db.execute("SELECT MIN(next_attempt_at) FROM outbox INDEXED BY "
                               "outbox_pending_due WHERE state='pending' AND "
                               "next_attempt_at>?", (now,)).fetchone()
        return None if row[0] is None else float(row[0])

    def finish_attempts(self, delivered: Iterable[tuple[int, float]],
                        retried: Iterable[tuple[int, float, str]],
                        dead: Iterable[tuple[int, float, str]]) -> None:
        """Record many attempts' results in one transaction: (id, now) delivered,
        (id, next_at, error) to retry, (id, now, error) given up."""
        with self.atomic():
            self._db.executemany("UPDATE outbox SET state='delivered', attempts=attempts+1, "
                                 "finished_at=? WHERE id=?",
                                 [(now, item_id) for item_id, now in delivered])
            self._db.executemany("UPDATE outbox SET attempts=attempts+1, next_attempt_at=?, "
                                 "last_error=? WHERE id=?",
                                 [(at, err[:500], item_id) for item_id, at, err in retried])
            self._db.executemany("UPDATE outbox SET state='dead', attempts=attempts+1, "
                                 "finished_at=?, last_error=? WHERE id=?",
                                 [(now, err[:500], item_id) for item_id, now, err in dead])

    def outbox_count(self, state: str) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM outbox INDEXED BY outbox_state "
                               "WHERE state=?", (state,)).fetchone()
        return int(row[0])

    def purge_delivered(self, before: float, limit: int = 10_000) -> int:
        """Forget up to `limit` delivered items finished before `before`; returns how many."""
        with self.atomic():
            return self._db.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox INDEXED BY "
                "outbox_state WHERE state='delivered' AND finished_at<? ORDER BY id LIMIT ?)",
                (before, limit)).rowcount

    def outbox_items(self, state: str | None = None, limit: int = 100, *,
                     newest_first: bool = False) -> list[OutboxItem]:
        where, args = ("WHERE state=?", (state,)) if state else ("", ())
        order = "DESC" if newest_first else ""
        rows = self._db.execute(f"SELECT * FROM outbox {where} ORDER BY id {order} LIMIT ?",
                                (*args, limit))
        return [_outbox_from_row(r) for r in rows]

    # recording policies (Kazoo): the API's changes ------------------------------------------
    def policy_patches(self) -> list[tuple[str, str, str, str, int]]:
        rows = self._db.execute("SELECT account, level, owner, patch, revision "
                                "FROM policy_patches")
        return [(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

    def save_policy_patch(self, account: str, level: str, owner: str, patch: str,
                          revision: int) -> None:
        with self.atomic():
            self._upsert("policy_patches", _POLICY_COLUMNS,
                         (account, level, owner, patch, revision, time.time()))

    # helpers ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Every write inside committed together, or none; nests (the outermost commits).
        A store that cannot be written raises StoreUnavailable and turns `writable` false.
        The block must not yield to another greenlet: the connection is shared, so that
        greenlet's writes would join this transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield
            except sqlite3.OperationalError as exc:  # the outermost block rolls back
                self._unwritable(exc)
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield
            self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:  # SQLITE_FULL may have rolled it back already
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                self._unwritable(exc)
            raise
        finally:
            self._depth = 0
        self._writable = True

    @property
    def writable(self) -> bool:
        if not self._writable and time.monotonic() - self._probed_at >= PROBE_EVERY:
            self._probe()
        return self._writable

    def _probe(self) -> None:
        self._probed_at = time.monotonic()
        with contextlib.suppress(StoreUnavailable):
            with self.atomic():
                self._db.execute("INSERT OR REPLACE INTO health(id, probed_at, pad) "
                                 "VALUES(1, ?, zeroblob(?))", (time.time(), _PROBE_BYTES))
            log.warning("store %s can be written again", self._path)

    def _unwritable(self, exc: sqlite3.OperationalError) -> None:
        if self._writable:
            log.error("store %s cannot be written (%s): requests are refused until it can",
                      self._path, exc)
        self._writable = False
        self._probed_at = time.monotonic()
        raise StoreUnavailable(f"the store cannot be written ({exc})") from exc

    def _upsert(self, table: str, columns: Iterable[str], values: tuple[Any, ...]) -> None:
        self._db.execute(_upsert_sql(table, tuple(columns)), values)


def _checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


@functools.cache  # a few fixed (table, columns) pairs: built once each
def _upsert_sql(table: str, columns: tuple[str, ...]) -> str:
    placeholders = ",".join("?" * len(columns))
    return f"INSERT OR REPLACE INTO {table}({','.join(columns)}) VALUES({placeholders})"


def _filters(**conditions: str | None) -> tuple[str, tuple[str, ...]]:
    used = {k: v for k, v in conditions.items() if v is not None}
    if not used:
        return "", ()
    return "WHERE " + " AND ".join(f"{k}=?" for k in used), tuple(used.values())


def _call_values(call: Call) -> tuple[Any, ...]:
    """Values of _CALL_COLUMNS."""
    return (call.uuid, call.node, call.direction, call.account, call.user, call.device,
            call.caller, call.destination, call.created_at, call.answered_at,
            call.hungup_at, call.hangup_cause, call.state.value, call.source,
            json.dumps(call.meta))


def _recording_values(rec: Recording) -> tuple[Any, ...]:
    """Values of _REC_COLUMNS."""
    return (rec.sid, rec.call_uuid, rec.node, rec.account, rec.path, rec.source,
            json.dumps(rec.options.to_dict()), rec.created_at, *_changing_values(rec))


def _changing_values(rec: Recording) -> tuple[Any, ...]:
    """Values of _REC_CHANGING."""
    f = rec.file
    return (rec.state.value, rec.started_at, rec.ended_at, _value(rec.stop_requested),
            _value(rec.stop_reason), rec.cause, rec.fs_record_ms, f and f.duration_ms,
            f and f.channels, f and f.sample_rate, f and f.size, f and f.sha256, rec.error,
            rec.paused_by, json.dumps(rec.meta))


def _value(reason: StopReason | None) -> str | None:
    return reason.value if reason else None


def _recording_from_row(row: sqlite3.Row) -> Recording:
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


def _call_from_row(row: sqlite3.Row) -> Call:
    state = CallState(row["state"]) if row["state"] else (
        CallState.ENDED if row["hungup_at"] is not None else CallState.CREATED)
    return Call(uuid=row["uuid"], node=row["node"], direction=row["direction"] or "",
                state=state, account=row["account"] or "", user=row["user_id"] or "",
                device=row["device"] or "", caller=row["caller"] or "",
                destination=row["destination"] or "", created_at=row["created_at"] or 0.0,
                answered_at=row["answered_at"], hungup_at=row["hungup_at"],
                hangup_cause=row["hangup_cause"] or "", source=row["source"] or "",
                meta=json.loads(row["meta"] or "{}"))


def _outbox_from_row(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(id=row["id"], kind=row["kind"], key=row["key"], target=row["target"],
                      payload=json.loads(row["payload"]), attempts=row["attempts"],
                      created_at=row["created_at"], next_attempt_at=row["next_attempt_at"],
                      state=row["state"], last_error=row["last_error"],
                      finished_at=row["finished_at"])
