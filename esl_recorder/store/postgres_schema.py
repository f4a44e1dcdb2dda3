"""The PostgreSQL store's schema: an ordered list of migrations, counted in one table.

`esl_recorder_schema.version` is the number of migrations applied to the database. Opening
it applies the rest and sets the version in one transaction, under a transaction-level
advisory lock, so daemons starting together over one database migrate it once. A schema
change is a new entry at the end of MIGRATIONS; an entry already released is never edited.
The tables are those of store.schema (SQLite) with PostgreSQL's types.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ..errors import StoreError

MIGRATIONS: tuple[str, ...] = (
    # 1: calls, recordings, the delivery outbox (partial indexes of its pending rows, so no
    # query reads the delivered history), and the one row the writability probe rewrites
    """
    CREATE TABLE calls (
        uuid TEXT PRIMARY KEY, node TEXT NOT NULL, direction TEXT, account TEXT,
        user_id TEXT, device TEXT, caller TEXT, destination TEXT,
        created_at DOUBLE PRECISION, answered_at DOUBLE PRECISION,
        hungup_at DOUBLE PRECISION, hangup_cause TEXT, state TEXT, source TEXT, meta TEXT);
    CREATE INDEX calls_account ON calls(account, source, created_at);
    CREATE TABLE recordings (
        sid TEXT PRIMARY KEY, call_uuid TEXT NOT NULL, node TEXT NOT NULL, account TEXT,
        path TEXT NOT NULL UNIQUE, state TEXT NOT NULL, source TEXT, options TEXT NOT NULL,
        created_at DOUBLE PRECISION, started_at DOUBLE PRECISION, ended_at DOUBLE PRECISION,
        stop_requested TEXT, stop_reason TEXT, cause TEXT, fs_record_ms BIGINT,
        duration_ms BIGINT, channels INTEGER, sample_rate INTEGER, size BIGINT, sha256 TEXT,
        error TEXT, paused_by TEXT, meta TEXT);
    CREATE INDEX recordings_call ON recordings(call_uuid);
    CREATE INDEX recordings_account ON recordings(account, created_at);
    CREATE TABLE outbox (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind TEXT NOT NULL,
        key TEXT NOT NULL, target TEXT NOT NULL, payload TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
        created_at DOUBLE PRECISION NOT NULL, next_attempt_at DOUBLE PRECISION NOT NULL,
        last_error TEXT, finished_at DOUBLE PRECISION);
    CREATE INDEX outbox_state ON outbox(state, id);
    CREATE INDEX outbox_pending_due ON outbox(next_attempt_at, id) WHERE state='pending';
    CREATE INDEX outbox_pending_key ON outbox(key, id) WHERE state='pending';
    CREATE INDEX outbox_pending_target ON outbox(target, next_attempt_at, id)
        WHERE state='pending';
    CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1),
        probed_at DOUBLE PRECISION, pad BYTEA);
    """,
    # 2: the changes made over the Kazoo API to recording policy documents (store.schema's
    # migration 3)
    """
    CREATE TABLE policy_patches (
        account TEXT NOT NULL, level TEXT NOT NULL, owner TEXT NOT NULL,
        patch TEXT NOT NULL, revision INTEGER NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (account, level, owner));
    """,
    # 3: several daemons share the outbox: the daemon attempting a pending item (its lease
    # ends at next_attempt_at, so a lapsed claim is simply due again)
    """
    ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
    """,
    # 4: requests about a node another daemon owns, handed to its owner (store.commands):
    # what to do (operation, args as JSON), who asked, until when it may start (the
    # server's clock), and what became of it (state, result or the domain error as JSON)
    """
    CREATE TABLE node_commands (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, node TEXT NOT NULL,
        operation TEXT NOT NULL, args TEXT NOT NULL, requester TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        expires_at TIMESTAMPTZ NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
        ran_by TEXT, result TEXT, error TEXT, finished_at TIMESTAMPTZ);
    CREATE INDEX node_commands_pending ON node_commands(node, id) WHERE state='pending';
    CREATE INDEX node_commands_created ON node_commands(created_at);
    """,
)

# The key of the advisory lock that serialises migrations (any constant unlikely to be
# used by another application on the same database: "esl_rec" in ASCII).
MIGRATION_LOCK = 0x6573_6C5F_7265_63


def migrate(conn: psycopg.Connection[dict[str, Any]], where: str) -> int:
    """Bring the database on `conn` (autocommit, dict rows) to the newest schema, in one
    transaction; returns the version it was at. Raises StoreError for a version newer than
    this code knows. `where` names the database in messages (no credentials)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS esl_recorder_schema "
                     "(version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM esl_recorder_schema").fetchone()
        if row is None:
            conn.execute("INSERT INTO esl_recorder_schema(version) VALUES (0)")
        found = int(row["version"]) if row is not None else 0
        if found > len(MIGRATIONS):
            raise StoreError(
                f"store {where}: schema version {found} is newer than this esl_recorder "
                f"knows ({len(MIGRATIONS)}); a newer release wrote it: run that release, "
                "or set store.url to another database")
        for script in MIGRATIONS[found:]:
            conn.execute(script.encode())  # several statements: no parameters
        conn.execute("UPDATE esl_recorder_schema SET version=%s", (len(MIGRATIONS),))
    return found
