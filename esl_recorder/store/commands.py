"""The command channel between daemons, through PostgreSQL (domain.remote's RemoteOwner).

A daemon asked about a call or recording of a node another daemon owns writes a row in
`node_commands` (node, operation, arguments as JSON, who asks, until when it may start) and
NOTIFYs `esl_recorder_commands`; the owner, LISTENing on a connection of this module's own,
claims the row (`FOR UPDATE SKIP LOCKED`), runs the operation with its own services, stores
the result or the domain error, and NOTIFYs `esl_recorder_replies` with the row's id. A
NOTIFY can be lost (the listening connection was being reopened): the owner also looks for
pending rows of its nodes every `interval` seconds, and the requester re-reads its rows
while it waits.

A row not claimed by its deadline (`expires_at`, the server's clock) is never run: the
requester marks it `abandoned` when it stops waiting, and an owner (a new one after a
takeover included) claims only rows whose deadline has not passed. A node no session holds
the lock of (store.node_locks) has no owner: the requester says so at once, writing nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

import gevent
import gevent.event
import psycopg
from prometheus_client import Counter
from psycopg.rows import dict_row

from ..domain.ports import ControlTimeout, ControlUnavailable, StoreUnavailable
from ..domain.remote import Args, Result, decode_error
from ..errors import NotFound
from .node_locks import KEEPALIVE, LOCK_PREFIX
from .postgres import PostgresStore, describe

log = logging.getLogger(__name__)

COMMANDS = "esl_recorder_commands"  # payload: the node a command waits for
REPLIES = "esl_recorder_replies"  # payload: the id of the command that finished
REREAD = 0.5  # seconds between re-reads of a waiting command (a lost reply NOTIFY)
KEEP_FINISHED = 3600  # seconds finished commands stay in the table (for inspection)
CLAIM_BATCH = 20
Handler = Callable[[str, str, Args], tuple[bool, Result]]  # (node, operation, args)

# One statement (one round trip, one transaction): for each node of %(nodes)s, whether a
# session holds its lock (store.node_locks: a bigint advisory lock, its high half in classid
# and low half in objid); a command row for each owned one, and a NOTIFY to its owner. Each
# node comes back with its row's id, or none (no owner: nothing written).
_ASK = """
WITH asked AS (
    SELECT n, EXISTS (
        SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(%(prefix)s || n, 0)
    ) AS owned FROM unnest(%(nodes)s::text[]) AS n),
made AS (
    INSERT INTO node_commands(node, operation, args, requester, expires_at)
    SELECT n, %(operation)s, %(args)s, %(requester)s,
        clock_timestamp() + make_interval(secs => %(timeout)s)
    FROM asked WHERE owned RETURNING id, node)
SELECT asked.n AS node, made.id, pg_notify(%(channel)s, made.node) IS NULL AS told
FROM asked LEFT JOIN made ON made.node = asked.n
"""
# the owner's answer stored and the requester told, in one statement
_ANSWER = """
WITH done AS (UPDATE node_commands SET state = %(state)s, result = %(result)s,
    error = %(error)s, finished_at = clock_timestamp() WHERE id = %(id)s RETURNING id)
SELECT pg_notify(%(channel)s, id::text) FROM done
"""
_CLAIM = """
UPDATE node_commands SET state = 'running', ran_by = %s WHERE id IN (
    SELECT id FROM node_commands WHERE state = 'pending' AND node = ANY(%s)
    AND expires_at > clock_timestamp() ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
RETURNING id, node, operation, args
"""


class PostgresCommands:
    """Both ends of the channel for one daemon: `forward` (the domain's port) and, for the
    nodes `owned()` names, running what other daemons forward (`handler`)."""

    def __init__(self, store: PostgresStore, url: str, *, nodes: Sequence[str],
                 owned: Callable[[], Collection[str]], timeout: float, interval: float,
                 connect_timeout: float, forwarded: Counter) -> None:
        self._store = store
        self._url = url
        self._where = describe(url)
        self._daemon_id = getattr(store, "daemon_id", "")
        self._nodes = tuple(nodes)
        self._owned = owned
        self._timeout = timeout
        self._interval = interval
        self._connect_timeout = connect_timeout
        self._forwarded = forwarded
        self._handler: Handler | None = None
        self._waiters: dict[int, gevent.event.Event] = {}
        self._listener: gevent.Greenlet | None = None
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._swept_at = 0.0

    # the port (domain.remote.RemoteOwner) ------------------------------------------------
    def owns(self, node: str) -> bool:
        return node in self._owned()

    def foreign_nodes(self) -> list[str]:
        owned = self._owned()
        return [n for n in self._nodes if n not in owned]

    def call_home(self, call_uuid: str) -> tuple[str, str] | None:
        with self._store.connection() as conn:
            row = conn.execute(
                "SELECT node, account FROM calls WHERE uuid = %s UNION ALL "
                "SELECT node, account FROM recordings WHERE call_uuid = %s LIMIT 1",
                (call_uuid, call_uuid)).fetchone()
        return None if row is None else (row["node"], row["account"] or "")

    def forward(self, nodes: Sequence[str], operation: str, args: Args) -> Result:
        try:
            result = self._forward(list(dict.fromkeys(nodes)), operation, args)
        except Exception as exc:
            self._forwarded.labels(operation=operation, outcome=_outcome(exc)).inc()
            raise
        self._forwarded.labels(operation=operation, outcome="ok").inc()
        return result

    def _forward(self, nodes: list[str], operation: str, args: Args) -> Result:
        with self._store.connection() as conn:
            rows = conn.execute(_ASK, {
                "nodes": nodes, "prefix": LOCK_PREFIX, "operation": operation,
                "args": json.dumps(args), "requester": self._daemon_id,
                "timeout": self._timeout, "channel": COMMANDS}).fetchall()
        unowned = [r["node"] for r in rows if r["id"] is None]
        ids = {r["id"]: r["node"] for r in rows if r["id"] is not None}
        if not ids:
            raise NoOwner(unowned[0])
        # a reply handled before this line finds no waiter: it is read at the next REREAD
        event = gevent.event.Event()
        for command_id in ids:
            self._waiters[command_id] = event
        try:
            return self._await(ids, event, time.monotonic() + self._timeout, unowned)
        finally:
            for command_id in ids:
                self._waiters.pop(command_id, None)

    def _await(self, ids: dict[int, str], event: gevent.event.Event, deadline: float,
               unowned: list[str]) -> Result:
        """The answer of the commands `ids` (one per node asked): see _decide. A node
        without an owner, or one that did not take its command in time, makes a call no
        other node has unknowable (NoOwner, NotTaken: 503), not missing."""
        answers: dict[int, tuple[str, dict[str, Any]]] = {}
        while True:
            event.wait(min(max(0.0, deadline - time.monotonic()), REREAD))
            event.clear()
            answers.update(self._finished([i for i in ids if i not in answers]))
            decided = _decide(answers, len(ids))
            if decided is not None or time.monotonic() >= deadline:
                break
        waiting = [i for i in ids if i not in answers]
        abandoned = self._abandon(waiting) if waiting else set()
        if decided is None:  # out of time: what finished meanwhile still counts
            answers.update(self._finished([i for i in waiting if i not in abandoned]))
            decided = _decide(answers, len(ids))
        if isinstance(decided, dict):
            return decided
        if decided is not None and not isinstance(decided, NotFound):
            raise decided
        running = [ids[i] for i in ids if i not in answers and i not in abandoned]
        if running:
            raise UnderWay(running[0], self._timeout)
        if abandoned:
            raise NotTaken(ids[next(iter(abandoned))], self._timeout)
        if unowned:
            raise NoOwner(unowned[0])
        assert decided is not None
        raise decided

    def _finished(self, ids: list[int]) -> dict[int, tuple[str, dict[str, Any]]]:
        if not ids:
            return {}
        with self._store.connection() as conn:
            rows = conn.execute("SELECT id, state, result, error FROM node_commands "
                                "WHERE id = ANY(%s) AND state IN ('done', 'failed')",
                                (ids,)).fetchall()
        return {r["id"]: (r["state"], json.loads(r["result"] or r["error"] or "{}"))
                for r in rows}

    def _abandon(self, ids: list[int]) -> set[int]:
        """Mark the commands not taken yet so that no owner runs them late."""
        with self._store.connection() as conn:
            rows = conn.execute("UPDATE node_commands SET state = 'abandoned', "
                                "finished_at = clock_timestamp() WHERE id = ANY(%s) "
                                "AND state = 'pending' RETURNING id", (ids,)).fetchall()
        return {r["id"] for r in rows}

    # the owner's side --------------------------------------------------------------------
    def start(self, handler: Handler) -> None:
        self._handler = handler
        if self._listener is None:
            self._listener = gevent.spawn(self._listen)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.kill()
            self._listener = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _listen(self) -> None:
        while True:
            try:
                self._conn = psycopg.connect(
                    self._url, autocommit=True, row_factory=dict_row,
                    connect_timeout=max(1, round(self._connect_timeout)),
                    application_name=f"esl_recorder commands {self._daemon_id}"[:63],
                    options=" ".join(f"-c {k}={v}" for k, v in KEEPALIVE.items()))
                self._conn.execute(f"LISTEN {COMMANDS}")
                self._conn.execute(f"LISTEN {REPLIES}")
                for event in list(self._waiters.values()):
                    event.set()  # replies may have been missed: re-read
                while True:
                    self._turn()
                    for note in self._conn.notifies(timeout=self._interval):
                        self._notified(note.channel, note.payload)
            except (psycopg.Error, StoreUnavailable) as exc:
                log.warning("command channel on %s: %s: listening again in 1 s", self._where,
                            (str(exc).strip().splitlines() or [type(exc).__name__])[0])
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            gevent.sleep(1.0)

    def _notified(self, channel: str, payload: str) -> None:
        if channel == REPLIES:
            event = self._waiters.get(int(payload)) if payload.isdigit() else None
            if event is not None:
                event.set()
        elif channel == COMMANDS and payload in self._owned():
            try:
                self._claim()
            except StoreUnavailable as exc:
                log.warning("command channel: cannot claim commands of node %s: %s",
                            payload, exc)

    def _turn(self) -> None:
        """Every `interval`: commands whose NOTIFY was missed, and old rows removed."""
        try:
            self._claim()
            if time.monotonic() - self._swept_at >= KEEP_FINISHED / 10:
                self._swept_at = time.monotonic()
                with self._store.connection() as conn:
                    conn.execute("DELETE FROM node_commands WHERE created_at < "
                                 "clock_timestamp() - make_interval(secs => %s)",
                                 (KEEP_FINISHED,))
        except StoreUnavailable as exc:
            log.warning("command channel: cannot look for commands: %s", exc)

    def _claim(self) -> None:
        owned = list(self._owned())
        if not owned or self._handler is None:
            return
        while True:
            with self._store.connection() as conn:
                rows = conn.execute(_CLAIM, (self._daemon_id, owned, CLAIM_BATCH)).fetchall()
            for row in rows:
                gevent.spawn(self._run, row)
            if len(rows) < CLAIM_BATCH:
                return

    def _run(self, row: dict[str, Any]) -> None:
        assert self._handler is not None
        try:
            ok, doc = self._handler(row["node"], row["operation"], json.loads(row["args"]))
        except Exception as exc:  # the handler answers domain errors itself
            log.exception("command %s (%s on node %s) failed", row["id"], row["operation"],
                          row["node"])
            ok, doc = False, {"type": "RecordingError", "message": str(exc)[:300]}
        text = json.dumps(doc)
        try:
            with self._store.connection() as conn:
                conn.execute(_ANSWER, {"state": "done" if ok else "failed", "id": row["id"],
                                       "result": text if ok else None,
                                       "error": None if ok else text, "channel": REPLIES})
        except (psycopg.Error, StoreUnavailable) as exc:
            log.error("command %s (%s on node %s): its result could not be stored: %s",
                      row["id"], row["operation"], row["node"], exc)
        log.debug("command %s: %s on node %s for %s", row["id"], row["operation"],
                  row["node"], "ok" if ok else doc.get("type"))


class NoOwner(ControlUnavailable):
    """No daemon holds the node's lock now (a takeover is under way): nothing was written."""

    def __init__(self, node: str) -> None:
        super().__init__(f"node {node} has no owning daemon now (its owner is being "
                         "replaced): try again in a few seconds")


class NotTaken(ControlUnavailable):
    """The owner did not take the command in time: it is marked so that none runs it."""

    def __init__(self, node: str, timeout: float) -> None:
        super().__init__(f"the daemon owning node {node} did not take the request within "
                         f"{timeout:g} s (it was not carried out): try again")


class UnderWay(ControlTimeout):
    """The owner took the command but did not answer in time."""

    def __init__(self, node: str, timeout: float) -> None:
        super().__init__(f"the daemon owning node {node} did not finish the request within "
                         f"{timeout:g} s; its outcome is reported as usual")


def _decide(answers: dict[int, tuple[str, dict[str, Any]]],
            asked: int) -> Result | Exception | None:
    """What the answers so far come to: the result of the node that carried it out, its
    error, NotFound once every node asked said so, or None (not yet)."""
    missing: Exception | None = None
    for state, doc in answers.values():
        if state == "done":
            return doc
        error = decode_error(doc)
        if not isinstance(error, NotFound):
            return error
        missing = missing or error
    return missing if len(answers) == asked else None


_OUTCOMES = {NoOwner: "no_owner", NotTaken: "not_taken", UnderWay: "under_way"}


def _outcome(exc: Exception) -> str:
    """The metric's outcome: the channel's own failures, else the owner's domain error
    (or a store failure here)."""
    if isinstance(exc, StoreUnavailable):
        return "store_unavailable"
    return _OUTCOMES.get(type(exc), "refused")
