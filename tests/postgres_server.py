"""A throwaway PostgreSQL cluster for the tests: its own data directory, a free port on
127.0.0.1, started with Debian's (or $ESL_RECORDER_PG_BINDIR's) initdb and pg_ctl, as the
`postgres` user when the tests run as root (initdb and pg_ctl refuse root)."""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

FAST = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c max_connections=300")  # throwaway data: no flushing; a pool per store per test


def find_bindir() -> str | None:
    """The directory of initdb and pg_ctl: $ESL_RECORDER_PG_BINDIR, the newest
    /usr/lib/postgresql/<n>/bin, or the PATH."""
    explicit = os.environ.get("ESL_RECORDER_PG_BINDIR")
    if explicit:
        return explicit if os.path.isfile(os.path.join(explicit, "initdb")) else None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return str(Path(found[-1]).parent)
    initdb = shutil.which("initdb")
    return str(Path(initdb).parent) if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    """One cluster; `new_database()` gives each test a database of its own."""

    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.user = "postgres" if os.geteuid() == 0 else None  # run as this user
        self.dir = tempfile.mkdtemp(prefix="esl_recorder_pg.")
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.port = 0
        self._names = itertools.count(1)
        self._template = ""
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([os.path.join(self.bindir, tool), *args], user=self.user,
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()}")

    def start(self) -> None:
        """Start on a free port (another on a clash); waits until it accepts connections."""
        for _ in range(3):
            self.port = free_port()
            try:
                self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"),
                          "-w", "-t", "30", "-o",
                          f"-k {self.dir} -h 127.0.0.1 -p {self.port} {FAST}", "start")
                return
            except RuntimeError:
                if "could not bind" not in self.log():
                    raise
        raise RuntimeError(f"PostgreSQL did not start: {self.log()[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        """Stop it (`immediate`: like a crash, no shutdown checkpoint)."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def restart_on_same_port(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w",
                  "-o", f"-k {self.dir} -h 127.0.0.1 -p {self.port} {FAST}", "start")

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        try:
            return Path(self.dir, "log").read_text(errors="replace")
        except OSError:
            return ""

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def new_database(self, migrated: bool = False) -> str:
        """A fresh database, empty or (`migrated`) with the store's schema; returns its URL.
        A file copy of the template: quicker than PostgreSQL 15's default (WAL_LOG) for
        these small ones, and the schema's migrations run once per session, not per test."""
        import psycopg  # after tests/conftest.py patched gevent

        template = self._migrated_template() if migrated else "template1"
        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template} "
                         "STRATEGY FILE_COPY".encode())
        return self.url(name)

    def _migrated_template(self) -> str:
        if not self._template:
            from esl_recorder.store.postgres import PostgresStore

            url = self.new_database()
            PostgresStore(url).close()  # its migrations; no connection left to it
            self._template = url.rsplit("/", 1)[1]
        return self._template

    def drop_database(self, url: str) -> None:
        """Drop a database new_database() made, whoever is still connected to it."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())
