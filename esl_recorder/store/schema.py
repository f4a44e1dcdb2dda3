"""The store's schema: an ordered list of migrations, applied by `PRAGMA user_version`.

A database's user_version is the number of migrations applied to it. Opening one applies
the rest and sets the version in one transaction. A schema change is a new entry at the
end of MIGRATIONS; an entry already released is never edited.
"""

from __future__ import annotations

import sqlite3

from ..errors import StoreError

MIGRATIONS: tuple[str, ...] = (
    # 1: calls (with the lifecycle state, and the dialect that placed or took charge of a
    # call), recordings, the delivery outbox (partial indexes of its pending rows, so no
    # query reads the delivered history)
    """
    CREATE TABLE IF NOT EXISTS calls (
        uuid TEXT PRIMARY KEY, node TEXT NOT NULL, direction TEXT, account TEXT,
        user_id TEXT, device TEXT, caller TEXT, destination TEXT, created_at REAL,
        answered_at REAL, hungup_at REAL, hangup_cause TEXT, state TEXT, source TEXT,
        meta TEXT);
    CREATE TABLE IF NOT EXISTS recordings (
        sid TEXT PRIMARY KEY, call_uuid TEXT NOT NULL, node TEXT NOT NULL, account TEXT,
        path TEXT NOT NULL UNIQUE, state TEXT NOT NULL, source TEXT, options TEXT NOT NULL,
        created_at REAL, started_at REAL, ended_at REAL, stop_requested TEXT,
        stop_reason TEXT, cause TEXT, fs_record_ms INTEGER, duration_ms INTEGER,
        channels INTEGER, sample_rate INTEGER, size INTEGER, sha256 TEXT, error TEXT,
        paused_by TEXT, meta TEXT);
    CREATE INDEX IF NOT EXISTS recordings_call ON recordings(call_uuid);
    CREATE INDEX IF NOT EXISTS recordings_account ON recordings(account, created_at);
    CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL,
        target TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL, last_error TEXT, finished_at REAL);
    CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state, id);
    CREATE INDEX IF NOT EXISTS outbox_pending_due ON outbox(next_attempt_at, id)
        WHERE state='pending';
    CREATE INDEX IF NOT EXISTS outbox_pending_key ON outbox(key, id) WHERE state='pending';
    CREATE INDEX IF NOT EXISTS outbox_pending_target ON outbox(target, next_attempt_at, id)
        WHERE state='pending';
    """,
    # 2: one row rewritten by the probe that tells when a store that could not be written
    # (disk full, read-only) can be again
    """
    CREATE TABLE IF NOT EXISTS health (id INTEGER PRIMARY KEY CHECK (id = 1),
        probed_at REAL, pad BLOB);
    """,
    # 3: the changes made over the Kazoo API to recording policy documents (the policy
    # file's documents are not stored: they are read from the file)
    """
    CREATE TABLE IF NOT EXISTS policy_patches (
        account TEXT NOT NULL, level TEXT NOT NULL, owner TEXT NOT NULL,
        patch TEXT NOT NULL, revision INTEGER NOT NULL, updated_at REAL NOT NULL,
        PRIMARY KEY (account, level, owner));
    """,
)

# A database written before the schema was versioned has user_version 0 and migration 1's
# tables, rows included. _adopt_unversioned removes what those versions made that migration 1
# does not have and adds the calls columns the 0.x releases lacked; migration 1 (all IF NOT
# EXISTS) then adds any missing table or index. The 0.x api_calls table is left as it is.
_UNVERSIONED_LEFTOVERS = """
    DROP INDEX IF EXISTS recordings_state;
    DROP INDEX IF EXISTS outbox_due;
    DROP INDEX IF EXISTS outbox_key;
    DROP TABLE IF EXISTS housekeeping;
"""
_CALL_COLUMNS_ADDED = ("state TEXT", "source TEXT", "meta TEXT")


def migrate(db: sqlite3.Connection, path: str) -> int:
    """Bring the database on `db` (an autocommit connection) to the newest schema, in one
    transaction; returns the version it was at. Raises StoreError for a version newer than
    this code knows."""
    if _version(db) == len(MIGRATIONS):
        return len(MIGRATIONS)
    db.execute("BEGIN IMMEDIATE")  # another process may be migrating it too
    try:
        found = _version(db)
        if found > len(MIGRATIONS):
            raise StoreError(
                f"store {path}: schema version {found} is newer than this esl_recorder "
                f"knows ({len(MIGRATIONS)}); a newer release wrote it: run that release, "
                "or set store.path to another file")
        if found == 0 and _has_tables(db):
            _adopt_unversioned(db)
        for script in MIGRATIONS[found:]:
            _run(db, script)
        db.execute(f"PRAGMA user_version={len(MIGRATIONS)}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return found


def _version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _has_tables(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type='table'").fetchone() is not None


def _adopt_unversioned(db: sqlite3.Connection) -> None:
    _run(db, _UNVERSIONED_LEFTOVERS)
    have = {row[1] for row in db.execute("PRAGMA table_info(calls)")}
    if have:
        for column in _CALL_COLUMNS_ADDED:
            if column.split()[0] not in have:
                db.execute(f"ALTER TABLE calls ADD COLUMN {column}")


def _run(db: sqlite3.Connection, script: str) -> None:
    """The statements of `script`, separated by semicolons (none inside a literal), inside
    the caller's transaction (executescript would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)
