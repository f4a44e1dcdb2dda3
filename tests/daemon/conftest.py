"""The daemon (build_app, real EslClient) against the FreeSWITCH simulator over a socket."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import pytest
import requests
import yaml

from esl_recorder.app import App, build_app
from esl_recorder.domain.ports import MediaFile, MediaRedirect
from esl_recorder.domain.recording import Recording, State
from esl_recorder.testing.fakeswitch import FakeSwitch

FAST_ESL = {"connect_timeout": 2, "command_timeout": 3, "reconnect_initial_delay": 0.05,
            "reconnect_max_delay": 0.3}


@contextlib.contextmanager
def killed_after(proc: subprocess.Popen[Any]) -> Iterator[None]:
    """Run the block, then kill -9 the daemon process `proc` (the kill -9 tests); a block
    that fails still leaves no process behind."""
    try:
        yield
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def process_config(tmp_path: Path, switch: FakeSwitch, **sections: Any) -> Path:
    """tmp_path/esl_recorder.yaml for a daemon process (`esl-recorder run`, the kill -9
    driver) on `switch`: node fs1, recordings under tmp_path (where a daemon_factory daemon
    of the same test keeps them), HTTP on a free port, FAST_ESL; `sections` are added, or
    replace these whole."""
    config = tmp_path / "esl_recorder.yaml"
    config.write_text(yaml.safe_dump({
        "nodes": [{"name": "fs1", "host": switch.address[0], "port": switch.address[1],
                   "password": "ClueCon"}],
        "recording": {"root": str(tmp_path / "recordings")},
        "http": {"port": 0}, "esl": FAST_ESL, **sections,
    }))
    return config


class Daemon:
    """A running App plus waiting helpers (events with timeouts, never sleeps)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.service = app.service
        self._changed = gevent.event.Event()
        self._scratch: str | None = None
        app.recordings.subscribe(lambda rec, prev: self._poke())
        app.tracker.subscribe(lambda name, call: self._poke())

    def _poke(self) -> None:
        self._changed.set()
        self._changed = gevent.event.Event()

    def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0,
                   what: str = "condition") -> Any:
        with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
            while True:
                waiter = self._changed
                result = predicate()
                if result:
                    return result
                waiter.wait(0.05)

    def wait_call(self, uuid: str, answered: bool = True) -> None:
        self.wait_until(lambda: (c := self.app.tracker.get(uuid)) is not None
                        and (c.answered or not answered), what=f"call {uuid}")

    def wait_state(self, sid: str, *states: State, timeout: float = 5.0) -> Recording:
        return self.wait_until(
            lambda: (r := self.app.recordings.get(sid)).state in states and r,
            timeout, what=f"recording {sid} in {[s.value for s in states]}")

    def media(self, rec: Recording, timeout: float = 15.0) -> bytes:
        """A completed recording's media as the daemon serves it (service.media): with
        media in S3, once uploaded (from the bucket when its local file is removed: unless
        kept, or its call is still up); else from its local file."""
        if self.app.settings.media.backend == "s3":
            self.wait_until(lambda: any(
                i.key == f"media:{rec.sid}" and i.kind == "media"
                for i in self.app.store.outbox_items("delivered", 10_000)), timeout,
                f"the upload of recording {rec.sid}")
        served = self.service.media(rec.sid)
        if isinstance(served, MediaFile):
            return Path(served.path).read_bytes()
        if isinstance(served, MediaRedirect):
            return requests.get(served.url, timeout=10).content
        try:
            return b"".join(served.chunks)
        finally:
            served.close()

    def media_file(self, rec: Recording) -> str:
        """A copy of `media(rec)` in a scratch directory (removed at stop): a path for
        tones.analyse."""
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix="esl_recorder_media.")
        path = os.path.join(self._scratch, os.path.basename(rec.path))
        Path(path).write_bytes(self.media(rec))
        return path

    def stop(self) -> None:
        self.app.stop(timeout=5)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


@pytest.fixture
def switch() -> Iterator[FakeSwitch]:
    sim = FakeSwitch(clock="manual")
    sim.start()
    yield sim
    sim.stop()


DaemonFactory = Callable[..., Daemon]


@pytest.fixture
def daemon_factory(switch: FakeSwitch, tmp_settings: Callable[..., Any],
                   tmp_path: Path) -> Iterator[DaemonFactory]:
    started: list[Daemon] = []

    def make(**sections: Any) -> Daemon:
        sections.setdefault("esl", FAST_ESL)
        settings = tmp_settings(switch.address, password=sections.pop("password", "ClueCon"),
                                **sections)
        daemon = Daemon(build_app(settings))
        daemon.app.start()
        started.append(daemon)
        return daemon

    yield make
    for daemon in started:
        daemon.stop()


@pytest.fixture
def daemon(daemon_factory: DaemonFactory) -> Daemon:
    d = daemon_factory()
    assert d.app.clients["fs1"].wait_connected(5), "daemon did not connect to the simulator"
    return d
