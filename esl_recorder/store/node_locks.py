"""Which daemon owns which FreeSWITCH node, with PostgreSQL session advisory locks.

A lock belongs to one server connection and lasts as long as it: this module holds one
connection of its own (never the pool's, which hands connections around). A daemon that
dies closes it (the kernel does, even for kill -9), and the server releases its locks at
once; a host that vanishes is noticed by the server's TCP keepalives, set short here. A
failed query means the connection, and so every lock, may be gone: `alive` turns false
and the caller gives its nodes up before opening a new connection.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .postgres import describe, require_green_psycopg

log = logging.getLogger(__name__)

LOCK_PREFIX = "esl_recorder:node:"  # the lock's key is a hash of this and the node name
KEEPALIVE = {"tcp_keepalives_idle": 2, "tcp_keepalives_interval": 1,
             "tcp_keepalives_count": 3}


class PostgresNodeLocks:
    """Session advisory locks, one per node, on a connection of their own."""

    def __init__(self, url: str, daemon_id: str, timeout: float) -> None:
        require_green_psycopg()
        self._url = url
        self._where = describe(url)
        self._daemon_id = daemon_id
        self._timeout = timeout
        self._conn: psycopg.Connection[dict[str, Any]] | None = None

    @property
    def alive(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def check(self) -> bool:
        """Whether the connection (so every lock taken on it) is still there; opens a new
        one (holding no lock) when there is none. False: every lock is lost."""
        try:
            if self._conn is None or self._conn.closed:
                self._open()
                return False
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error as exc:
            log.error("node locks on %s: connection lost (%s): giving the nodes up",
                      self._where, _first_line(exc))
            self.close()
            return False

    def try_take(self, node: str) -> bool:
        """Take `node`'s lock if no other session holds it (never waits)."""
        if self._conn is None:
            return False
        try:
            row = self._conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0)) AS got",
                (LOCK_PREFIX + node,)).fetchone()
        except psycopg.Error as exc:
            log.error("node locks on %s: %s", self._where, _first_line(exc))
            self.close()
            return False
        return bool(row and row["got"])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the server releases the locks with the session
            self._conn = None

    def _open(self) -> None:
        self._conn = psycopg.connect(
            self._url, autocommit=True, row_factory=dict_row,
            connect_timeout=max(1, round(self._timeout)),
            application_name=f"esl_recorder node locks {self._daemon_id}"[:63],
            options=" ".join(f"-c {k}={v}" for k, v in KEEPALIVE.items()))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
