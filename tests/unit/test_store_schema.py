"""The store's schema versions: new databases, databases written before versioning, and
databases from a newer release."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from esl_recorder.cli import main
from esl_recorder.domain.calls import CallState
from esl_recorder.errors import StoreError
from esl_recorder.store.schema import MIGRATIONS
from esl_recorder.store.sqlite import Store

# The DDL the store ran at every start before its schema was versioned (user_version 0):
# the last such version, the 0.x one (calls without state/source/meta, Bandwidth's calls in
# api_calls), and the first release's (other indexes, no api_calls).
UNVERSIONED = """
CREATE TABLE IF NOT EXISTS calls (
    uuid TEXT PRIMARY KEY, node TEXT NOT NULL, direction TEXT, account TEXT,
    user_id TEXT, device TEXT, caller TEXT, destination TEXT, created_at REAL,
    answered_at REAL, hungup_at REAL, hangup_cause TEXT, state TEXT, source TEXT, meta TEXT);
CREATE TABLE IF NOT EXISTS recordings (
    sid TEXT PRIMARY KEY, call_uuid TEXT NOT NULL, node TEXT NOT NULL, account TEXT,
    path TEXT NOT NULL UNIQUE, state TEXT NOT NULL, source TEXT, options TEXT NOT NULL,
    created_at REAL, started_at REAL, ended_at REAL, stop_requested TEXT, stop_reason TEXT,
    cause TEXT, fs_record_ms INTEGER, duration_ms INTEGER, channels INTEGER,
    sample_rate INTEGER, size INTEGER, sha256 TEXT, error TEXT, paused_by TEXT, meta TEXT);
DROP INDEX IF EXISTS recordings_state;
CREATE INDEX IF NOT EXISTS recordings_call ON recordings(call_uuid);
CREATE INDEX IF NOT EXISTS recordings_account ON recordings(account, created_at);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL,
    target TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL, last_error TEXT, finished_at REAL);
DROP INDEX IF EXISTS outbox_due;
DROP INDEX IF EXISTS outbox_key;
CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state, id);
CREATE INDEX IF NOT EXISTS outbox_pending_due ON outbox(next_attempt_at, id)
    WHERE state='pending';
CREATE INDEX IF NOT EXISTS outbox_pending_key ON outbox(key, id) WHERE state='pending';
CREATE INDEX IF NOT EXISTS outbox_pending_target ON outbox(target, next_attempt_at, id)
    WHERE state='pending';
CREATE TABLE IF NOT EXISTS housekeeping (key TEXT PRIMARY KEY, value);
"""
OLD_0X = """
CREATE TABLE IF NOT EXISTS calls (
    uuid TEXT PRIMARY KEY, node TEXT NOT NULL, direction TEXT, account TEXT,
    user_id TEXT, device TEXT, caller TEXT, destination TEXT, created_at REAL,
    answered_at REAL, hungup_at REAL, hangup_cause TEXT);
CREATE TABLE IF NOT EXISTS recordings (
    sid TEXT PRIMARY KEY, call_uuid TEXT NOT NULL, node TEXT NOT NULL, account TEXT,
    path TEXT NOT NULL UNIQUE, state TEXT NOT NULL, source TEXT, options TEXT NOT NULL,
    created_at REAL, started_at REAL, ended_at REAL, stop_requested TEXT, stop_reason TEXT,
    cause TEXT, fs_record_ms INTEGER, duration_ms INTEGER, channels INTEGER,
    sample_rate INTEGER, size INTEGER, sha256 TEXT, error TEXT, paused_by TEXT, meta TEXT);
DROP INDEX IF EXISTS recordings_state;
CREATE INDEX IF NOT EXISTS recordings_call ON recordings(call_uuid);
CREATE INDEX IF NOT EXISTS recordings_account ON recordings(account, created_at);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL,
    target TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL, last_error TEXT, finished_at REAL);
DROP INDEX IF EXISTS outbox_due;
DROP INDEX IF EXISTS outbox_key;
CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state, id);
CREATE INDEX IF NOT EXISTS outbox_pending_due ON outbox(next_attempt_at, id)
    WHERE state='pending';
CREATE INDEX IF NOT EXISTS outbox_pending_key ON outbox(key, id) WHERE state='pending';
CREATE INDEX IF NOT EXISTS outbox_pending_target ON outbox(target, next_attempt_at, id)
    WHERE state='pending';
CREATE TABLE IF NOT EXISTS api_calls (
    id TEXT PRIMARY KEY, dialect TEXT NOT NULL, account TEXT NOT NULL,
    open INTEGER NOT NULL, created_at REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS api_calls_open ON api_calls(dialect, open);
CREATE TABLE IF NOT EXISTS housekeeping (key TEXT PRIMARY KEY, value);
"""
FIRST_RELEASE = """
CREATE TABLE calls (
    uuid TEXT PRIMARY KEY, node TEXT NOT NULL, direction TEXT, account TEXT,
    user_id TEXT, device TEXT, caller TEXT, destination TEXT, created_at REAL,
    answered_at REAL, hungup_at REAL, hangup_cause TEXT);
CREATE TABLE recordings (
    sid TEXT PRIMARY KEY, call_uuid TEXT NOT NULL, node TEXT NOT NULL, account TEXT,
    path TEXT NOT NULL UNIQUE, state TEXT NOT NULL, source TEXT, options TEXT NOT NULL,
    created_at REAL, started_at REAL, ended_at REAL, stop_requested TEXT, stop_reason TEXT,
    cause TEXT, fs_record_ms INTEGER, duration_ms INTEGER, channels INTEGER,
    sample_rate INTEGER, size INTEGER, sha256 TEXT, error TEXT, paused_by TEXT, meta TEXT);
CREATE INDEX recordings_state ON recordings(state);
CREATE INDEX recordings_call ON recordings(call_uuid);
CREATE INDEX recordings_account ON recordings(account, created_at);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL,
    target TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL, last_error TEXT, finished_at REAL);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_key ON outbox(key, id);
"""
OPTIONS = '{"channels": 2, "track": "both", "format": "wav", "control_id": "ctl-1"}'


def old_database(path: Path, ddl: str) -> None:
    """A database as an unversioned release left it, with a row in each of its tables."""
    db = sqlite3.connect(path)
    db.executescript(ddl)
    db.execute("INSERT INTO calls(uuid, node, direction, account, created_at, answered_at) "
               "VALUES ('c1', 'fs1', 'inbound', 'acme', 1.0, 2.0)")
    if "hangup_cause TEXT, state TEXT" in ddl:
        db.execute("UPDATE calls SET state='answered', source='bandwidth', meta=? "
                   "WHERE uuid='c1'", (json.dumps({"callback": "http://x/cb"}),))
    db.execute("INSERT INTO recordings(sid, call_uuid, node, account, path, state, source, "
               "options, created_at, started_at, meta) VALUES ('RE1', 'c1', 'fs1', 'acme', "
               "'/r/RE1.wav', 'in-progress', 'laml', ?, 3.0, 3.5, '{}')", (OPTIONS,))
    db.execute("INSERT INTO outbox(kind, key, target, payload, created_at, next_attempt_at) "
               "VALUES ('callback', 'RE1', 'http://a.test:80', '{\"n\": 1}', 4.0, 4.0)")
    if "api_calls" in ddl:
        db.execute("INSERT INTO api_calls VALUES ('CA1', 'bandwidth', 'acme', 1, 5.0, ?)",
                   (json.dumps({"state": "active"}),))
    db.commit()
    db.close()


def schema_of(path: Path) -> tuple[int, set[tuple[str, str, str]]]:
    """The database's user_version and its tables and indexes (whitespace-normalised), but
    the 0.x api_calls table, which migrations leave as it is."""
    db = sqlite3.connect(path)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        rows = db.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                          "AND name NOT LIKE 'sqlite_%' AND tbl_name<>'api_calls'").fetchall()
    finally:
        db.close()
    return version, {(t, n, " ".join(sql.replace("IF NOT EXISTS ", "").split()))
                     for t, n, sql in rows}


def test_a_new_database_gets_every_migration_and_its_version(tmp_path: Path) -> None:
    Store(str(tmp_path / "new.db")).close()
    version, objects = schema_of(tmp_path / "new.db")
    assert version == len(MIGRATIONS)
    assert {n for t, n, _ in objects if t == "table"} == {"calls", "recordings", "outbox",
                                                         "health", "policy_patches"}


@pytest.mark.parametrize("ddl", [UNVERSIONED, OLD_0X, FIRST_RELEASE],
                         ids=["last", "0.x", "first"])
def test_an_unversioned_database_is_brought_forward_with_its_rows(tmp_path: Path,
                                                                  ddl: str) -> None:
    old = tmp_path / "old.db"
    old_database(old, ddl)
    store = Store(str(old))
    try:
        call = store.load_call("c1")
        assert call is not None
        assert (call.node, call.direction, call.account, call.created_at,
                call.answered_at) == ("fs1", "inbound", "acme", 1.0, 2.0)
        if "hangup_cause TEXT, state TEXT" in ddl:
            assert (call.state, call.source, call.meta) == (
                CallState.ANSWERED, "bandwidth", {"callback": "http://x/cb"})
            assert store.open_calls() == [call]
        [rec] = store.unfinished_recordings()
        assert (rec.sid, rec.path, rec.options.control_id) == ("RE1", "/r/RE1.wav", "ctl-1")
        assert [(i.key, i.payload) for i in store.due(10.0)] == [("RE1", {"n": 1})]
        call.hangup_cause = "NORMAL_CLEARING"
        store.save_call(call)  # every column is there to write
        assert store.load_call("c1") == call
    finally:
        store.close()
    Store(str(tmp_path / "new.db")).close()
    assert schema_of(old) == schema_of(tmp_path / "new.db")
    if "api_calls" in ddl:
        kept = sqlite3.connect(old)
        assert kept.execute("SELECT id, data FROM api_calls").fetchall() == [
            ("CA1", json.dumps({"state": "active"}))]
        kept.close()


def test_a_database_from_a_newer_release_is_refused_untouched(tmp_path: Path) -> None:
    db_path = tmp_path / "future.db"
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE from_the_future (x)")
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db.close()
    before = schema_of(db_path)
    with pytest.raises(StoreError, match=rf"{db_path}: schema version {len(MIGRATIONS) + 1} "
                                         rf"is newer than this esl_recorder knows"):
        Store(str(db_path))
    assert schema_of(db_path) == before


def test_the_outbox_command_says_so_in_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    db_path = tmp_path / "future.db"
    db = sqlite3.connect(db_path)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db.close()
    config = tmp_path / "c.yaml"
    config.write_text(f"store:\n  path: {db_path}\n")
    assert main(["outbox", "-c", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: store {db_path}: schema version") and err.count("\n") == 1
