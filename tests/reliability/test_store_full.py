"""Finding 4 of issue 13: with the store's file system full, no create is acknowledged
without its callbacks, errors are 503 in the dialect's shape with nothing left behind, the
store reports itself unwritable, and everything resumes by itself when space returns."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
import requests
from api.compat_helpers import LAML, LAML_AUTH, finish, wait_done
from api.conftest import ACCOUNTS, Api
from api.receiver import Receiver
from daemon.conftest import DaemonFactory

from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import SmallDisk

ATTEMPTS = 400  # creates tried on the full disk; a few dozen are enough to fill the WAL


@pytest.fixture
def store_on_small_disk(daemon_factory: DaemonFactory, switch: FakeSwitch,
                        small_disk: SmallDisk) -> Iterator[Api]:
    daemon = daemon_factory(accounts=ACCOUNTS, store={"path": str(small_disk.root / "s.db")},
                            delivery={"initial_delay": 0.05, "max_delay": 0.2})
    assert daemon.app.clients["fs1"].wait_connected(5)
    assert daemon.app.http is not None
    with requests.Session() as http:
        yield Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)


def test_full_store_disk_loses_no_callback_and_recovers(
        store_on_small_disk: Api, small_disk: SmallDisk, receiver: Receiver) -> None:
    api = store_on_small_disk
    store = api.daemon.app.store
    events = "in-progress completed absent"

    def create(uuid: str) -> requests.Response:
        return api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH,
                           data={"RecordingStatusCallback": receiver.url(),
                                 "RecordingStatusCallbackEvent": events})

    before = api.call()
    running = create(before).json()["sid"]  # in-progress, its callback queued
    receiver.wait(1)
    uuid = api.call()
    small_disk.fill()
    assert small_disk.is_full()
    accepted: list[str] = []
    refused = 0
    for _ in range(ATTEMPTS):
        r = create(uuid)
        assert r.status_code in (200, 503), (r.status_code, r.text)
        if r.status_code == 503:
            doc = r.json()
            assert set(doc) == {"code", "message", "more_info", "status"}, doc
            assert doc["status"] == 503 and "store" in doc["message"], doc
            refused += 1
            break
        accepted.append(r.json()["sid"])
    assert refused, f"{ATTEMPTS} creates all succeeded on a full disk"
    assert not store.writable
    ready = api.request("GET", "/readyz")
    assert ready.status_code == 503 and ready.json()["store"] == {"writable": False}

    # nothing half-done: the refused create left no recording; each accepted one is
    # in-progress with its callback queued
    listed = api.request("GET", f"{LAML}/Recordings.json", headers=LAML_AUTH).json()
    assert sorted(r["sid"] for r in listed["recordings"]) == sorted([running, *accepted])

    # FreeSWITCH ends a recording while the disk is full: kept, not lost
    finish(api, before, 1.0)
    api.daemon.wait_until(lambda: api.daemon.app.recordings.unsettled(running),
                          what="the stop kept until the store can be written")
    assert api.daemon.service.get(running).state.value == "in-progress"

    small_disk.free()
    api.daemon.wait_until(lambda: store.writable, what="the store writable again")
    assert api.request("GET", "/readyz").status_code == 200
    assert wait_done(api, running).state.value == "completed"
    sid = create(uuid).json()["sid"]  # accepted again without a restart
    finish(api, uuid, 1.0)
    done = [*accepted, sid]
    for each in done:
        assert wait_done(api, each).state.value == "completed"
    got = receiver.wait(2 * (1 + len(done)), timeout=10)
    statuses = sorted((g.form["RecordingSid"], g.form["RecordingStatus"]) for g in got)
    assert statuses == sorted((s, st) for s in [running, *done]
                              for st in ("in-progress", "completed"))


def test_a_store_locked_by_another_process_is_waited_for_without_holding_up_the_daemon(
        daemon_factory: DaemonFactory, switch: FakeSwitch, receiver: Receiver,
        tmp_path: Path) -> None:
    """Another process holding SQLite's write lock (a backup, an operator's sqlite3 shell):
    a write waits for it while every other request and event goes on (SQLite's own wait
    held the whole daemon for 5 s per write), and one locked past the wait is 503 with
    nothing half-done, the daemon unready until the lock is gone."""
    path = tmp_path / "locked" / "s.db"
    daemon = daemon_factory(accounts=ACCOUNTS, store={"path": str(path)},
                            delivery={"initial_delay": 0.05, "max_delay": 0.2})
    assert daemon.app.clients["fs1"].wait_connected(5) and daemon.app.http is not None
    other = sqlite3.connect(str(path), isolation_level=None)
    with requests.Session() as http, contextlib.closing(other):
        api = Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)

        def create(uuid: str) -> requests.Response:
            return api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json",
                               headers=LAML_AUTH,
                               data={"RecordingStatusCallback": receiver.url(),
                                     "RecordingStatusCallbackEvent": "in-progress"})

        waited, past = api.call(), api.call()
        other.execute("BEGIN IMMEDIATE")
        pending = gevent.spawn(create, waited)
        with requests.Session() as meanwhile:  # the daemon answers while the create waits
            assert meanwhile.get(f"{api.url}/healthz", timeout=5).status_code == 200
            assert meanwhile.get(f"{api.url}/readyz", timeout=5).status_code == 200
        assert not pending.ready(), "the create did not wait for the lock"
        other.execute("ROLLBACK")
        assert pending.get(timeout=10).status_code == 200, pending.value.text

        other.execute("BEGIN IMMEDIATE")
        r = create(past)
        assert r.status_code == 503 and "locked" in r.json()["message"], r.text
        assert daemon.service.list("acme", call_uuid=past) == []
        assert api.request("GET", "/readyz").json()["store"] == {"writable": False}
        other.execute("ROLLBACK")
        daemon.wait_until(lambda: daemon.app.store.writable, what="the store writable again")
        assert api.request("GET", "/readyz").status_code == 200
        sid = create(past).json()["sid"]
        got = receiver.wait(2)
        assert sorted(g.form["RecordingSid"] for g in got) == sorted(
            [pending.value.json()["sid"], sid])
