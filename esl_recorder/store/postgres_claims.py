"""The outbox's claims in PostgreSQL: which daemon attempts an item, for how long (a lease),
and how a claim ends. store.postgres runs these statements on its connections.

A claim is two columns of the item's row: `claimed_by` (the daemon's id) and
`next_attempt_at`, moved to the end of the lease, so a claimed item is not due for anyone
until then; a daemon that dies leaves its items due again when their leases run out. The
claiming statements lock the rows they take with FOR UPDATE SKIP LOCKED: a row another
daemon is claiming at that moment is passed over, never waited for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ..domain.ports import OutboxItem
from .rows import outbox_from_row

Conn = psycopg.Connection[dict[str, Any]]


def due_select(*, target: str | None, besides: Sequence[str]) -> str:
    """The due items in scan order (a `{columns}` placeholder; parameters now, at, id,
    target, besides, limit): the oldest pending of each key only."""
    where = "target=%(target)s AND " if target is not None else ""
    if besides:
        where += "target<>ALL(%(besides)s) AND "
    return (f"SELECT {{columns}} FROM outbox o WHERE {where}state='pending' "
            "AND next_attempt_at<=%(now)s AND (next_attempt_at,id)>(%(at)s,%(id)s) "
            "AND NOT EXISTS(SELECT 1 FROM outbox p WHERE p.key=o.key AND "
            "p.state='pending' AND p.id<o.id) ORDER BY next_attempt_at, id "
            "LIMIT %(limit)s")


HEADS_SELECT = ("SELECT {columns} FROM (SELECT DISTINCT ON (key) * FROM outbox WHERE "
                "state='pending' AND key=ANY(%(keys)s) ORDER BY key, id) h WHERE "
                "next_attempt_at<=%(now)s ORDER BY id")

CLAIMED = "id, next_attempt_at AS was"  # the {columns} of a select given to claim_rows


def claim_rows(conn: Conn, select: str, params: dict[str, Any], me: str,
               until: float) -> list[OutboxItem]:
    """Claim the rows `select` (with CLAIMED as its columns) names, those no other
    transaction is claiming and still pending and due when locked; returned in scan order
    with the next_attempt_at they were found at (their scan position)."""
    rows = conn.execute(
        "UPDATE outbox o SET claimed_by=%(me)s, next_attempt_at=%(until)s FROM ("
        "SELECT c.id, s.was FROM outbox c JOIN (" + select.format(columns=CLAIMED) + ") s "
        "ON c.id=s.id WHERE c.state='pending' AND c.next_attempt_at<=%(now)s FOR UPDATE OF "
        "c SKIP LOCKED) picked WHERE o.id=picked.id RETURNING o.*, picked.was",
        {**params, "me": me, "until": until}).fetchall()
    items = [outbox_from_row({**r, "next_attempt_at": r["was"]}) for r in rows]
    items.sort(key=lambda i: (i.next_attempt_at, i.id))
    return items


def claim(conn: Conn, ids: Sequence[int], now: float, until: float, me: str) -> set[int]:
    """Lock the rows of `ids` no other transaction is claiming (SKIP LOCKED), keep those
    still pending whose lease is over or ours, and whose key has no earlier pending item;
    mark them ours until `until`."""
    rows = conn.execute(
        "UPDATE outbox o SET claimed_by=%(me)s, next_attempt_at=%(until)s WHERE o.id "
        "IN (SELECT c.id FROM outbox c WHERE c.id=ANY(%(ids)s) AND c.state='pending' "
        "AND (c.next_attempt_at<=%(now)s OR c.claimed_by=%(me)s) AND NOT EXISTS("
        "SELECT 1 FROM outbox p WHERE p.key=c.key AND p.state='pending' AND "
        "p.id<c.id) FOR UPDATE SKIP LOCKED) RETURNING o.id",
        {"me": me, "until": until, "now": now, "ids": list(ids)}).fetchall()
    return {int(r["id"]) for r in rows}


def give_back(conn: Conn, positions: Sequence[tuple[int, float]], me: str) -> None:
    """End `me`'s claims of items (id, next_attempt_at): each is due again at once, at the
    scan position it had (for anyone)."""
    conn.execute("UPDATE outbox o SET claimed_by=NULL, next_attempt_at=r.at FROM "
                 "unnest(%s::bigint[], %s::float8[]) AS r(id, at) WHERE o.id=r.id "
                 "AND o.claimed_by=%s AND o.state='pending'",
                 (*columns(list(positions), 2), me))


def release_claims(conn: Conn, now: float) -> int:
    """Every claim ended, its item due at `now`; how many."""
    return len(conn.execute("UPDATE outbox SET claimed_by=NULL, next_attempt_at=%s WHERE "
                            "state='pending' AND claimed_by IS NOT NULL RETURNING id",
                            (now,)).fetchall())


def finish(conn: Conn, done: list[tuple[float, int]], later: list[tuple[float, str, int]],
           given_up: list[tuple[float, str, int]], me: str) -> None:
    """Store attempt results (rows of store.rows.attempt_params), one statement each: each
    ends `me`'s claim, and is not written over an item another daemon claimed since (our
    lease lapsed: its result counts)."""
    mine = "AND (o.claimed_by IS NULL OR o.claimed_by=%s)"
    if done:
        conn.execute("UPDATE outbox o SET state='delivered', attempts=attempts+1, "
                     "claimed_by=NULL, finished_at=r.at FROM unnest(%s::float8[], "
                     f"%s::bigint[]) AS r(at, id) WHERE o.id=r.id {mine}",
                     (*columns(done, 2), me))
    if later:
        conn.execute("UPDATE outbox o SET attempts=attempts+1, next_attempt_at=r.at, "
                     "claimed_by=NULL, last_error=r.err FROM unnest(%s::float8[], "
                     f"%s::text[], %s::bigint[]) AS r(at, err, id) WHERE o.id=r.id "
                     f"{mine}", (*columns(later, 3), me))
    if given_up:
        conn.execute("UPDATE outbox o SET state='dead', attempts=attempts+1, "
                     "claimed_by=NULL, finished_at=r.at, last_error=r.err FROM "
                     "unnest(%s::float8[], %s::text[], %s::bigint[]) AS r(at, err, id) "
                     f"WHERE o.id=r.id {mine}", (*columns(given_up, 3), me))


def columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows of parameters as `width` arrays, one per column (for unnest)."""
    return [[row[i] for row in rows] for i in range(width)]
