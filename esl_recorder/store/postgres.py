"""Durable state in PostgreSQL: the ports and behaviour of store.sqlite, over a server that
several daemons can share (settings store.url).

Through psycopg 3 and its pool. Under gevent, psycopg waits for the socket in a way that
yields to other greenlets only when gevent patched `select` before psycopg was imported, and
the pool's workers are greenlets only when `threading` was patched: PostgresStore refuses
to open otherwise (the daemon's entry point patches first).

Transactions: `atomic()` binds one pooled connection to the greenlet that opened it until
the block ends; every statement that greenlet runs meanwhile joins that transaction, and
other greenlets use other connections (so, unlike SQLite, a block may yield). Outside a
block each statement group runs on a connection borrowed for it, in autocommit. A server
that cannot be reached, refuses a write (disk full, read-only) or leaves no connection free
within store.timeout raises StoreUnavailable, as SQLite does for a full disk.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import gevent.local
import psycopg
import psycopg.waiting
from gevent import monkey
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from ..domain.calls import Call
from ..domain.ports import OutboxItem, StoreUnavailable
from ..domain.recording import Recording
from ..errors import StoreError
from . import postgres_claims as claims
from .postgres_schema import migrate
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
    outbox_from_row,
    recording_from_row,
    recording_values,
    run_callbacks,
)

log = logging.getLogger(__name__)

Conn = psycopg.Connection[dict[str, Any]]
_FAILURES = (psycopg.OperationalError, PoolTimeout)  # the server, not the statement


def _upsert_sql(table: str, key: str, columns: tuple[str, ...],
                updated: tuple[str, ...]) -> str:
    values = ",".join(["%s"] * len(columns))
    sets = ",".join(f"{c}=EXCLUDED.{c}" for c in updated)
    return (f"INSERT INTO {table}({','.join(columns)}) VALUES({values}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {sets}")


_CALL_UPSERT = _upsert_sql("calls", "uuid", CALL_COLUMNS, CALL_COLUMNS[1:])
_REC_UPSERT = _upsert_sql("recordings", "sid", REC_COLUMNS, REC_COLUMNS[1:])
# saving a known recording changes only its changing columns (store.sqlite does the same)
_REC_SAVE = _upsert_sql("recordings", "sid", REC_COLUMNS, REC_CHANGING)
_POLICY_COLUMNS = ("account", "level", "owner", "patch", "revision", "updated_at")
_POLICY_UPSERT = _upsert_sql("policy_patches", "account, level, owner", _POLICY_COLUMNS,
                             _POLICY_COLUMNS[3:])


def require_green_psycopg() -> None:
    """Raise StoreError unless psycopg cooperates with gevent in this process."""
    patched = all(monkey.is_module_patched(m) for m in ("select", "socket", "threading"))
    if not patched or getattr(psycopg.waiting.wait, "__name__", "") == "wait_c":
        raise StoreError(
            "store.url: PostgreSQL needs gevent's monkey.patch_all() to run before psycopg "
            "is imported (else every query blocks the whole daemon); the esl-recorder "
            "command does so: start the daemon with it, or patch first in your own entry "
            "point")


def describe(url: str) -> str:
    """`url` without credentials, for messages: postgresql://host:port/dbname."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unreadable store.url)"
    return (f"postgresql://{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}"
            f"/{parts.get('dbname') or ''}")


class PostgresStore:
    """store.sqlite.Store's methods over a PostgreSQL database (see that module for what
    each query means)."""

    def __init__(self, url: str, *, pool_size: int = 10, timeout: float = 5.0) -> None:
        require_green_psycopg()
        self._where = describe(url)
        # who claims outbox items (and owns nodes): unique per process, readable in the
        # database (host:pid:random, the random part for a pid reused after a restart)
        self.daemon_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._local = gevent.local.local()  # .conn: the greenlet's atomic() connection
        self._writable = True
        self._probed_at = 0.0
        self._pool: ConnectionPool[Conn] = ConnectionPool(
            url, min_size=1, max_size=pool_size, timeout=timeout, open=False,
            name="esl_recorder", kwargs={"autocommit": True, "row_factory": dict_row},
            check=ConnectionPool.check_connection, connection_class=psycopg.Connection)
        try:
            self._pool.open(wait=True, timeout=timeout)
            with self._pool.connection() as conn:
                migrate(conn, self._where)
        except _FAILURES as exc:
            self._pool.close()
            raise StoreError(f"store {self._where}: cannot open it ({_reason(exc)})") from None
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        self._pool.close()

    def checkpoint_in_background(self, interval: float = 0.5) -> None:
        """Nothing to do: the server checkpoints its own log (store.sqlite needs this)."""

    # calls -----------------------------------------------------------------------------
    def save_call(self, call: Call) -> None:
        with self.atomic(), self._conn() as conn:
            conn.execute(_CALL_UPSERT, call_values(call))

    def load_call(self, uuid: str) -> Call | None:
        row = self._one("SELECT * FROM calls WHERE uuid=%s", (uuid,))
        return None if row is None else call_from_row(row)

    def open_calls(self) -> list[Call]:
        rows = self._all("SELECT * FROM calls WHERE source<>'' AND state<>'ended'")
        return [call_from_row(r) for r in rows]

    def list_calls(self, *, account: str, source: str, caller: str | None = None,
                   destination: str | None = None, newest_first: bool = True,
                   limit: int = 25, offset: int = 0) -> list[Call]:
        where, args = ["account=%s", "source=%s"], [account, source]
        for column, value in (("caller", caller), ("destination", destination)):
            if value is not None:
                where.append(f"{column}=%s")
                args.append(value)
        order = "DESC" if newest_first else "ASC"
        rows = self._all(f"SELECT * FROM calls WHERE {' AND '.join(where)} "
                         f"ORDER BY created_at {order}, uuid {order} LIMIT %s OFFSET %s",
                         (*args, limit, offset))
        return [call_from_row(r) for r in rows]

    # recordings ------------------------------------------------------------------------
    def save_recording(self, rec: Recording) -> None:
        with self.atomic(), self._conn() as conn:
            conn.execute(_REC_SAVE, recording_values(rec))

    def insert_recording(self, rec: Recording, call: Call | None = None) -> None:
        with self.atomic(), self._conn() as conn:
            if call is not None:
                conn.execute(_CALL_UPSERT, call_values(call))
            conn.execute(_REC_UPSERT, recording_values(rec))

    def get_recording(self, sid: str) -> Recording | None:
        row = self._one("SELECT * FROM recordings WHERE sid=%s", (sid,))
        return recording_from_row(row) if row else None

    def unfinished_recordings(self) -> list[Recording]:
        rows = self._all("SELECT * FROM recordings WHERE state <> ALL(%s) ORDER BY created_at",
                         (list(TERMINAL_STATES),))
        return [recording_from_row(r) for r in rows]

    def list_recordings(self, *, account: str | None = None, call_uuid: str | None = None,
                        created_from: float | None = None, created_to: float | None = None,
                        limit: int = 50, offset: int = 0) -> list[Recording]:
        clauses: list[str] = []
        values: list[Any] = []
        for clause, value in (("account=%s", account), ("call_uuid=%s", call_uuid),
                              ("created_at>=%s", created_from), ("created_at<%s", created_to)):
            if value is not None:
                clauses.append(clause)
                values.append(value)
        cond = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._all(f"SELECT * FROM recordings {cond} ORDER BY created_at DESC, sid "
                         "LIMIT %s OFFSET %s", (*values, limit, offset))
        return [recording_from_row(r) for r in rows]

    def delete_recording(self, sid: str) -> bool:
        with self.atomic(), self._conn() as conn:
            return conn.execute("DELETE FROM recordings WHERE sid=%s", (sid,)).rowcount > 0

    # recording policies (Kazoo): the API's changes ------------------------------------------
    def policy_patches(self) -> list[tuple[str, str, str, str, int]]:
        rows = self._all("SELECT account, level, owner, patch, revision FROM policy_patches")
        return [(r["account"], r["level"], r["owner"], r["patch"], int(r["revision"]))
                for r in rows]

    def save_policy_patch(self, account: str, level: str, owner: str, patch: str,
                          revision: int) -> None:
        with self.atomic(), self._conn() as conn:
            conn.execute(_POLICY_UPSERT, (account, level, owner, patch, revision, time.time()))

    # outbox ----------------------------------------------------------------------------
    def enqueue(self, kind: str, key: str, target: str, payload: dict[str, Any],
                now: float) -> int:
        with self.atomic(), self._conn() as conn:
            row = conn.execute(
                "INSERT INTO outbox(kind,key,target,payload,created_at,next_attempt_at) "
                "VALUES(%s,%s,%s,%s,%s,%s) RETURNING id",
                (kind, key, target, json.dumps(payload), now, now)).fetchone()
        return int(row["id"]) if row else 0

    def due(self, now: float, limit: int = 100, *, after: tuple[float, int] | None = None,
            target: str | None = None, claim_until: float | None = None,
            besides: Sequence[str] = ()) -> list[OutboxItem]:
        """As store.sqlite. With `claim_until`, the same statement claims what it returns
        (postgres_claims.claim_rows): rows another daemon is claiming at that moment are
        skipped, the returned ones are this daemon's until then; each returned item keeps
        the next_attempt_at it was found at (its scan position), the row holds
        `claim_until`."""
        after_at, after_id = after if after is not None else (float("-inf"), 0)
        select = claims.due_select(target=target, besides=besides)
        params = {"now": now, "at": after_at, "id": after_id, "target": target,
                  "limit": limit, "besides": list(besides)}
        return self._read_or_claim(select, params, claim_until)

    def heads(self, keys: Iterable[str], now: float, *,
              claim_until: float | None = None) -> list[OutboxItem]:
        """As store.sqlite; `claim_until` claims them as `due` does."""
        return self._read_or_claim(claims.HEADS_SELECT, {"keys": list(keys), "now": now},
                                   claim_until)

    def _read_or_claim(self, select: str, params: dict[str, Any],
                       claim_until: float | None) -> list[OutboxItem]:
        with self._conn() as conn:
            if claim_until is not None:
                return claims.claim_rows(conn, select, params, self.daemon_id, claim_until)
            rows = conn.execute(select.format(columns="*"), params).fetchall()
        return [outbox_from_row(r) for r in rows]

    def claim(self, ids: Sequence[int], now: float, until: float) -> set[int]:
        """One statement (postgres_claims.claim)."""
        if not ids:
            return set()
        with self._conn() as conn:
            return claims.claim(conn, ids, now, until, self.daemon_id)

    def give_back(self, positions: Sequence[tuple[int, float]]) -> None:
        if positions:
            with self._conn() as conn:
                claims.give_back(conn, positions, self.daemon_id)

    def release_claims(self, now: float) -> int:
        with self._conn() as conn:
            return claims.release_claims(conn, now)

    def next_attempt_after(self, now: float) -> float | None:
        row = self._one("SELECT MIN(next_attempt_at) AS at FROM outbox WHERE "
                        "state='pending' AND next_attempt_at>%s", (now,))
        return None if row is None or row["at"] is None else float(row["at"])

    def finish_attempts(self, delivered: Iterable[tuple[int, float]],
                        retried: Iterable[tuple[int, float, str]],
                        dead: Iterable[tuple[int, float, str]]) -> None:
        """As store.sqlite; each result also ends this daemon's claim, and is not written
        over an item another daemon claimed since (our lease lapsed: its result counts)."""
        done, later, given_up = attempt_params(delivered, retried, dead)
        with self.atomic(), self._conn() as conn:
            claims.finish(conn, done, later, given_up, self.daemon_id)

    def outbox_count(self, state: str) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM outbox WHERE state=%s", (state,))
        return int(row["n"]) if row else 0

    def purge_delivered(self, before: float, limit: int = 10_000) -> int:
        with self.atomic(), self._conn() as conn:
            return conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE "
                "state='delivered' AND finished_at<%s ORDER BY id LIMIT %s)",
                (before, limit)).rowcount

    def outbox_items(self, state: str | None = None, limit: int = 100, *,
                     newest_first: bool = False) -> list[OutboxItem]:
        where, args = ("WHERE state=%s", (state,)) if state else ("", ())
        order = "DESC" if newest_first else ""
        rows = self._all(f"SELECT * FROM outbox {where} ORDER BY id {order} LIMIT %s",
                         (*args, limit))
        return [outbox_from_row(r) for r in rows]

    # transactions and connections ------------------------------------------------------
    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Every write the current greenlet makes inside is committed together, or none;
        nests (the outermost commits). A store that cannot be written raises
        StoreUnavailable and turns `writable` false."""
        if getattr(self._local, "conn", None) is not None:
            yield  # the outermost block commits or rolls back
            return
        committed: list[Callable[[], None]] = []
        self._local.committed = committed
        try:
            with self._pool.connection() as conn, conn.transaction():
                self._local.conn = conn
                try:
                    yield
                finally:
                    self._local.conn = None
        except _FAILURES as exc:
            self._unwritable(exc)
        finally:
            self._local.committed = None
        self._writable = True
        run_callbacks(committed)

    def after_commit(self, callback: Callable[[], None]) -> None:
        if getattr(self._local, "conn", None) is not None:
            self._local.committed.append(callback)
        else:
            callback()

    def connection(self) -> contextlib.AbstractContextManager[Conn]:
        """A connection for another module of store/ (store.commands): the greenlet's
        atomic() one, or one borrowed from the pool (autocommit, dict rows); a failure of
        the server raises StoreUnavailable."""
        return self._conn()

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Conn]:
        """The greenlet's atomic() connection, or one borrowed from the pool (autocommit);
        a failure of the server becomes StoreUnavailable."""
        bound = getattr(self._local, "conn", None)
        try:
            if bound is not None:
                yield bound
                return
            with self._pool.connection() as conn:
                yield conn
        except _FAILURES as exc:
            self._unwritable(exc)

    def _one(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        with self._conn() as conn:
            return conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        with self._conn() as conn:
            return conn.execute(sql, params).fetchall()

    @property
    def writable(self) -> bool:
        if not self._writable and time.monotonic() - self._probed_at >= PROBE_EVERY:
            self._probe()
        return self._writable

    def _probe(self) -> None:
        self._probed_at = time.monotonic()
        with contextlib.suppress(StoreUnavailable):
            with self.atomic(), self._conn() as conn:
                conn.execute("INSERT INTO health(id, probed_at, pad) VALUES(1, %s, %s) "
                             "ON CONFLICT (id) DO UPDATE SET probed_at=EXCLUDED.probed_at, "
                             "pad=EXCLUDED.pad", (time.time(), bytes(PROBE_BYTES)))
            log.warning("store %s can be written again", self._where)

    def _unwritable(self, exc: Exception) -> None:
        interrupted = _interruption(exc)
        if interrupted is not None:  # a kill (GreenletExit) while psycopg cleaned up
            raise interrupted
        if self._writable:
            log.error("store %s cannot be written (%s): requests are refused until it can",
                      self._where, _reason(exc))
        self._writable = False
        self._probed_at = time.monotonic()
        raise StoreUnavailable(f"the store cannot be written ({_reason(exc)})") from exc


def _reason(exc: Exception) -> str:
    """The first line of a psycopg or pool error (they hold no credentials)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _interruption(exc: BaseException) -> BaseException | None:
    """The GreenletExit, KeyboardInterrupt or the like that `exc` was raised while
    handling, if any: that one must go on, not become StoreUnavailable."""
    seen = exc.__context__
    while seen is not None:
        if not isinstance(seen, Exception):
            return seen
        seen = seen.__context__
    return None
