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
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import gevent
import gevent.event
import gevent.lock

from ..domain.calls import Call
from ..domain.ports import OutboxItem, StoreUnavailable
from ..domain.recording import Recording
from ..errors import StoreError
from .rows import (
    CALL_COLUMNS,
    PROBE_BYTES,
    PROBE_EVERY,
    REC_CHANGING,
    REC_COLUMNS,
    TERMINAL_STATES,
    attempt_params,
    call_from_row,
    call_values,
    changing_values,
    outbox_from_row,
    recording_from_row,
    recording_values,
    run_callbacks,
)
from .schema import migrate

log = logging.getLogger(__name__)

# A recording's columns fixed when it is created (they carry most indexes), then the ones
# that change: saving an existing recording updates only the latter.
_REC_UPDATE = f"UPDATE recordings SET {', '.join(c + '=?' for c in REC_CHANGING)} WHERE sid=?"
_HUB_CHECKPOINT_PAGES = 10_000  # the WAL's size (40 MB) at which a commit checkpoints it
_POLICY_COLUMNS = ("account", "level", "owner", "patch", "revision", "updated_at")
# Another process holding the write lock: a write waits this long for it, then the store is
# unwritable (503, unready). SQLite's own wait sleeps in the hub's thread, where every
# greenlet runs, so it is kept to a millisecond and the waiting is done here, by gevent.
LOCK_WAIT = 5.0
_LOCK_POLL = (0.005, 0.1)  # first and longest pause between two tries of the lock
_SQLITE_WAIT_MS = 1


class Store:
    def __init__(self, path: str) -> None:
        self._path = path
        self._checkpoints: gevent.Greenlet | None = None
        self._closing = gevent.event.Event()
        self._depth = 0  # nesting of atomic() blocks: only the outermost commits
        self._committed: list[Callable[[], None]] = []  # after_commit's, for the block
        self._writable = True
        self._probed_at = 0.0
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            migrate(self._db, path)
        except sqlite3.DatabaseError as exc:  # not a database, read-only, corrupt
            self._db.close()
            raise StoreError(f"store {path}: cannot open it as an SQLite database ({exc}); "
                             "set store.path (or ESL_RECORDER_STORE_PATH) to another file"
                             ) from None
        except BaseException:
            self._db.close()
            raise
        self._db.execute(f"PRAGMA busy_timeout={_SQLITE_WAIT_MS}")  # serving from here on
        self._lock_waiters = gevent.lock.Semaphore()  # one greenlet tries the lock at a time

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
            self._upsert("calls", CALL_COLUMNS, call_values(call))

    def load_call(self, uuid: str) -> Call | None:
        row = self._db.execute("SELECT * FROM calls WHERE uuid=?", (uuid,)).fetchone()
        return None if row is None else call_from_row(row)

    def open_calls(self) -> list[Call]:
        """Calls a dialect took charge of that had not ended when last saved."""
        rows = self._db.execute("SELECT * FROM calls WHERE source<>'' AND state<>'ended'")
        return [call_from_row(r) for r in rows]

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
        return [call_from_row(r) for r in rows]

    # recordings ------------------------------------------------------------------------
    def save_recording(self, rec: Recording) -> None:
        """Update the changing columns of a known recording, else insert it whole."""
        with self.atomic():
            if self._db.execute(_REC_UPDATE, (*changing_values(rec), rec.sid)).rowcount == 0:
                self._upsert("recordings", REC_COLUMNS, recording_values(rec))

    def insert_recording(self, rec: Recording, call: Call | None = None) -> None:
        """Write a new recording, and its call when given, in one transaction: never a
        recording without its call."""
        with self.atomic():
            if call is not None:
                self._upsert("calls", CALL_COLUMNS, call_values(call))
            self._upsert("recordings", REC_COLUMNS, recording_values(rec))

    def get_recording(self, sid: str) -> Recording | None:
        row = self._db.execute("SELECT * FROM recordings WHERE sid=?", (sid,)).fetchone()
        return recording_from_row(row) if row else None

    def unfinished_recordings(self) -> list[Recording]:
        rows = self._db.execute(
            "SELECT * FROM recordings WHERE state NOT IN (?,?,?) ORDER BY created_at",
            TERMINAL_STATES)
        return [recording_from_row(r) for r in rows]

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
        return [recording_from_row(r) for r in rows]

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
            target: str | None = None, claim_until: float | None = None,
            besides: Sequence[str] = ()) -> list[OutboxItem]:
        """Pending items whose time has come, only the oldest pending per key (order), by
        (next_attempt_at, id); `after` continues a scan past that position, `target` keeps
        one receiver's items, `besides` leaves those of some receivers out; `claim_until`
        changes nothing here (one daemon). Walks the
        partial pending indexes: the cost follows the pending rows scanned, never the
        delivered history."""
        after_at, after_id = after if after is not None else (float("-inf"), 0)
        index, where = (("outbox_pending_target", "target=:target AND ") if target is not None
                        else ("outbox_pending_due", ""))
        if besides:
            where += "target NOT IN (SELECT value FROM json_each(:besides)) AND "
        rows = self._db.execute(
            f"SELECT * FROM outbox o INDEXED BY {index} WHERE {where}state='pending' "
            "AND next_attempt_at<=:now AND (next_attempt_at,id)>(:at,:id) AND NOT EXISTS("
            "SELECT 1 FROM outbox p INDEXED BY outbox_pending_key WHERE p.key=o.key "
            "AND p.state='pending' AND p.id<o.id) ORDER BY next_attempt_at, id LIMIT :limit",
            {"now": now, "at": after_at, "id": after_id, "target": target, "limit": limit,
             "besides": json.dumps(list(besides))})
        return [outbox_from_row(r) for r in rows]

    def heads(self, keys: Iterable[str], now: float, *,
              claim_until: float | None = None) -> list[OutboxItem]:
        """The oldest pending item of each of `keys`, when it is due (after its
        predecessor was delivered or given up); `claim_until` as in `due`."""
        rows = self._db.execute(
            "SELECT o.* FROM (SELECT DISTINCT value AS key FROM json_each(:keys)) k "
            "JOIN outbox o INDEXED BY outbox_pending_key ON o.key=k.key AND "
            "o.state='pending' AND o.id=(SELECT MIN(id) FROM outbox p INDEXED BY "
            "outbox_pending_key WHERE p.key=k.key AND p.state='pending') "
            "WHERE o.next_attempt_at<=:now ORDER BY o.id",
            {"keys": json.dumps(list(keys)), "now": now})
        return [outbox_from_row(r) for r in rows]

    def claim(self, ids: Sequence[int], now: float, until: float) -> set[int]:
        """All of them: one daemon owns this file, so nobody else attempts its items."""
        return set(ids)

    def give_back(self, positions: Sequence[tuple[int, float]]) -> None:
        """Nothing to give back: no item here is claimed (see claim)."""

    def release_claims(self, now: float) -> int:
        return 0

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
        done, later, given_up = attempt_params(delivered, retried, dead)
        with self.atomic():
            self._db.executemany("UPDATE outbox SET state='delivered', attempts=attempts+1, "
                                 "finished_at=? WHERE id=?", done)
            self._db.executemany("UPDATE outbox SET attempts=attempts+1, next_attempt_at=?, "
                                 "last_error=? WHERE id=?", later)
            self._db.executemany("UPDATE outbox SET state='dead', attempts=attempts+1, "
                                 "finished_at=?, last_error=? WHERE id=?", given_up)

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
        return [outbox_from_row(r) for r in rows]

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
        greenlet's writes would join this transaction. Before the transaction begins other
        greenlets may run, while another process holds the write lock (`_begin`)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            except sqlite3.OperationalError as exc:  # the outermost block rolls back
                self._unwritable(exc)
            finally:
                self._depth -= 1
            return
        try:
            self._begin()
            self._depth = 1
            yield
            self._db.execute("COMMIT")
        except BaseException as exc:
            self._committed.clear()
            if self._db.in_transaction:  # SQLITE_FULL may have rolled it back already
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                self._unwritable(exc)
            raise
        finally:
            self._depth = 0
        self._writable = True
        run_callbacks(self._committed)

    def _begin(self) -> None:
        """BEGIN IMMEDIATE; while another process holds the write lock, try again (one
        waiting greenlet at a time, every other greenlet free to run) until LOCK_WAIT has
        passed, then raise SQLite's `database is locked`."""
        locked = self._try_begin()
        if locked is None:
            return
        deadline = time.monotonic() + LOCK_WAIT
        if not self._lock_waiters.acquire(timeout=LOCK_WAIT):
            raise locked
        try:
            pause = _LOCK_POLL[0]
            while time.monotonic() + pause <= deadline:
                gevent.sleep(pause)
                if (busy := self._try_begin()) is None:
                    return
                locked = busy
                pause = min(pause * 2, _LOCK_POLL[1])
            raise locked
        finally:
            self._lock_waiters.release()

    def _try_begin(self) -> sqlite3.OperationalError | None:
        """BEGIN IMMEDIATE: None once begun, SQLite's error while another process holds the
        write lock; any other error raised."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
            return exc
        return None

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._committed.append(callback)
        if not self._depth:
            run_callbacks(self._committed)

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
                                 "VALUES(1, ?, zeroblob(?))", (time.time(), PROBE_BYTES))
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


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock (SQLITE_BUSY and its extended codes)."""
    return exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY


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
