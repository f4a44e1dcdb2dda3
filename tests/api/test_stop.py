"""A daemon's stop lets its background loops end between two turns: none is killed in the
middle of a store query (on PostgreSQL that left the connection with a command in progress:
psycopg logged 'error ignored in rollback' and threw the connection away at each stop)."""

from __future__ import annotations

import logging

import pytest

from .compat_helpers import LAML, LAML_AUTH, finish, wait_done
from .conftest import Api
from .receiver import Receiver


def test_a_stop_cuts_no_store_query_short(api: Api, receiver: Receiver,
                                          caplog: pytest.LogCaptureFixture) -> None:
    uuid = api.call()
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH,
                    data={"RecordingStatusCallback": receiver.url()})
    finish(api, uuid, 1.0)
    wait_done(api, r.json()["sid"])
    receiver.wait(1)
    caplog.set_level(logging.WARNING)
    assert api.daemon.app.stop(timeout=5)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []
