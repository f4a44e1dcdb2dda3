"""Which store and media backend the tests run on (tests/conftest.py applies it), and the type
of the `store_factory` fixture. A module of its own: `from conftest import ...` is ambiguous
here (tests/esl has a conftest.py of its own).

Every test that opens a store or runs a daemon takes its `store` settings from the
`store_section` fixture and its `media` settings from `media_section` (`tmp_settings`, and so
`daemon_factory`, use both). Those follow two switches, read once per session:

    ESL_RECORDER_TEST_STORE  sqlite (default) | postgresql   (a throwaway server per session)
    ESL_RECORDER_TEST_MEDIA  local (default)  | s3           (a throwaway SeaweedFS per session)

`.ci/run` runs the whole suite with the defaults, then the tests that use either fixture (marked
`backends` at collection) again with `postgresql` and `s3`. A test that makes an SQLite file
of its own under its tmp_path, outside `store_section`, fails (tests/conftest.py checks), so a
store opened around the switch cannot go unnoticed; tests pinned to one store or one media
backend by nature are listed below, with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from postgres_server import ThrowawayPostgres

from esl_recorder.store.opener import StateStore
from esl_recorder.testing.seaweed import ACCESS_KEY, BUCKET, SECRET_KEY, Seaweed

StoreFactory = Callable[[], StateStore]

STORE_ENV = "ESL_RECORDER_TEST_STORE"
MEDIA_ENV = "ESL_RECORDER_TEST_MEDIA"
STORES = {"sqlite": "sqlite", "postgresql": "postgres", "postgres": "postgres"}
MEDIA = ("local", "s3")

# Tests that run on one store whatever the switch says, and why: a directory (ending in /), a
# file, or one test (file::name), relative to tests/.
ONE_STORE: dict[str, tuple[str, str]] = {
    "reliability/test_store_full.py": ("sqlite", "fills the disk under SQLite's file; "
                                       "store/test_postgres_outage.py is its counterpart"),
    "unit/test_store_schema.py": ("sqlite", "SQLite's schema and its migrations"),
    "delivery/test_listing.py::test_limit_and_a_missing_store": (
        "sqlite", "an SQLite file that does not exist is not created by the listing"),
    "unit/test_request_path_writes.py::test_background_checkpoints_copy_the_wal_into_the_"
    "database": ("sqlite", "SQLite's WAL checkpoints"),
    "unit/test_request_path_writes.py::test_a_recording_that_cannot_be_written_leaves_no_"
    "call_row_behind": ("sqlite", "breaks an insert with SQLite's NOT NULL error"),
    "lifecycle/test_startup_errors.py": ("sqlite", "start-up errors named before the daemon "
                                         "serves (store.path's own directory among them)"),
    "edge/test_tls.py::test_run_with_a_missing_certificate_is_one_line_and_exit_2": (
        "sqlite", "a start-up error named before the daemon serves"),
    "store/test_postgres.py": ("postgres", "what only the PostgreSQL store does"),
    "store/test_postgres_outage.py": ("postgres", "a PostgreSQL server stopped and restarted"),
    "scale/": ("postgres", "several daemons share one PostgreSQL (claims, node locks)"),
}

# Tests that run on one media backend whatever the switch says, and why.
ONE_MEDIA: dict[str, tuple[str, str]] = {
    "media/": ("s3", "the S3 backend itself: uploads, relays, presigned redirects, S3 outages"),
}


def pinned(nodeid: str, table: dict[str, tuple[str, str]]) -> str | None:
    """The backend `table` pins the test `nodeid` (tests/dir/file.py::name[param]) to."""
    where = nodeid.removeprefix("tests/")
    for key, (backend, _reason) in table.items():
        tail = "/" if key.endswith("/") else ("[" if "::" in key else "::")
        if where == key or where.startswith(key if tail == "/" else key + tail):
            return backend
    return None


def store_switch() -> str:
    """The store of this session: `sqlite` or `postgres` (from ESL_RECORDER_TEST_STORE)."""
    value = os.environ.get(STORE_ENV, "sqlite")
    if value not in STORES:
        raise ValueError(f"{STORE_ENV}={value!r}: expected sqlite or postgresql")
    return STORES[value]


def media_switch() -> str:
    """The media backend of this session: `local` or `s3` (from ESL_RECORDER_TEST_MEDIA)."""
    value = os.environ.get(MEDIA_ENV, "local")
    if value not in MEDIA:
        raise ValueError(f"{MEDIA_ENV}={value!r}: expected local or s3")
    return value


def s3_media_settings(endpoint: str, **more: Any) -> dict[str, Any]:
    """The `media` settings of a daemon on the test SeaweedFS at `endpoint`."""
    return {"backend": "s3", "s3_endpoint": endpoint, "s3_bucket": BUCKET,
            "s3_access_key": ACCESS_KEY, "s3_secret_key": SECRET_KEY, **more}


class Backends:
    """The session's store and media settings (of the switches, or of a pinned backend);
    session-scoped, so module-scoped daemons use it too (fixture `backends`)."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self.sqlite_files: set[Path] = set()  # every SQLite path handed out

    def store(self, directory: Path, backend: str | None = None,
              migrated: bool = True) -> dict[str, Any]:
        """`store` settings: SQLite under `directory`, or (postgres) a fresh database of
        its own on the session's server, with the schema already (unless not `migrated`)."""
        section: dict[str, Any] = {"path": str(directory / "state.db")}
        if (backend or store_switch()) == "postgres":
            server: ThrowawayPostgres = self._request.getfixturevalue("postgres_server")
            section["url"] = server.new_database(migrated)
        else:
            self.sqlite_files.add(directory / "state.db")
        return section

    def drop(self, url: str) -> None:
        """Drop a database `store` made (its connections are closed first)."""
        server: ThrowawayPostgres = self._request.getfixturevalue("postgres_server")
        server.drop_database(url)

    def media(self, backend: str | None = None) -> dict[str, Any]:
        """`media` settings: local disk (the defaults), or the session's SeaweedFS."""
        if (backend or media_switch()) == "local":
            return {}
        server: Seaweed = self._request.getfixturevalue("seaweed")
        return s3_media_settings(server.endpoint)

    def sections(self, directory: Path) -> dict[str, dict[str, Any]]:
        """Both, as YAML sections: `{"store": ..., "media": ...}`."""
        return {"store": self.store(directory), "media": self.media()}
