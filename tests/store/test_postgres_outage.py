"""PostgreSQL stopped under a running daemon (the counterpart of reliability/
test_store_full.py for SQLite): no create is acknowledged without its callbacks, errors are
503 in the dialect's shape, the store reports itself unwritable, a recording that ends
meanwhile is kept, and everything resumes by itself once the server is back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from api.compat_helpers import LAML, LAML_AUTH, finish, wait_done
from api.conftest import ACCOUNTS, Api
from api.receiver import Receiver
from daemon.conftest import DaemonFactory, daemon_factory, switch  # noqa: F401 (fixtures)
from postgres_server import ThrowawayPostgres

from esl_recorder.testing.fakeswitch import FakeSwitch


@pytest.fixture
def own_postgres(postgres_server: ThrowawayPostgres) -> Iterator[ThrowawayPostgres]:
    """A server of this test's own, to stop and start (the session's stays up)."""
    server = ThrowawayPostgres(postgres_server.bindir)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def api_on_postgres(daemon_factory: DaemonFactory, switch: FakeSwitch,  # noqa: F811
                    own_postgres: ThrowawayPostgres) -> Iterator[Api]:
    daemon = daemon_factory(accounts=ACCOUNTS, store={"url": own_postgres.url(),
                                                      "timeout": 1.0},
                            delivery={"initial_delay": 0.05, "max_delay": 0.2})
    assert daemon.app.clients["fs1"].wait_connected(5)
    assert daemon.app.http is not None
    with requests.Session() as http:
        yield Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)


def test_postgres_down_refuses_cleanly_and_recovers(
        api_on_postgres: Api, own_postgres: ThrowawayPostgres,
        receiver: Receiver) -> None:
    api = api_on_postgres
    store = api.daemon.app.store

    def create(uuid: str) -> requests.Response:
        return api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH,
                           data={"RecordingStatusCallback": receiver.url(),
                                 "RecordingStatusCallbackEvent": "in-progress completed"})

    before = api.call()
    running = create(before).json()["sid"]  # in-progress, its callback queued
    receiver.wait(1)
    uuid = api.call()
    own_postgres.stop()

    r = create(uuid)
    assert r.status_code == 503, (r.status_code, r.text)
    doc = r.json()
    assert set(doc) == {"code", "message", "more_info", "status"}, doc
    assert doc["status"] == 503 and "store" in doc["message"], doc
    assert not store.writable
    ready = api.request("GET", "/readyz")
    assert ready.status_code == 503 and ready.json()["store"] == {"writable": False}

    # FreeSWITCH ends a recording while the server is down: kept, not lost
    finish(api, before, 1.0)
    api.daemon.wait_until(lambda: api.daemon.app.recordings.unsettled(running),
                          what="the stop kept until the store can be written")

    own_postgres.restart_on_same_port()
    api.daemon.wait_until(lambda: store.writable, timeout=15, what="the store writable again")
    assert api.request("GET", "/readyz").status_code == 200
    assert wait_done(api, running).state.value == "completed"
    sid = create(uuid).json()["sid"]  # accepted again without a restart of the daemon
    finish(api, uuid, 1.0)
    assert wait_done(api, sid).state.value == "completed"
    got = receiver.wait(4, timeout=15)
    statuses = sorted((g.form["RecordingSid"], g.form["RecordingStatus"]) for g in got)
    assert statuses == sorted((s, st) for s in (running, sid)
                              for st in ("in-progress", "completed"))
    listed = api.request("GET", f"{LAML}/Recordings.json", headers=LAML_AUTH).json()
    assert sorted(r["sid"] for r in listed["recordings"]) == sorted([running, sid])
