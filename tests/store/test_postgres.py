"""What only the PostgreSQL store does: a transaction per greenlet, migrations shared by
daemons starting together, and its refusal to run without gevent's patching."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import gevent
import gevent.event
import psycopg
import pytest
from delivery.conftest import (  # noqa: F401 (fixtures)
    HarnessFactory,
    Scripted,
    harness_factory,
    no_safety_nets,
    receivers,
)
from store_backends import StoreFactory

from esl_recorder.errors import StoreError
from esl_recorder.store.postgres import PostgresStore
from esl_recorder.store.postgres_schema import MIGRATIONS

from .test_stores import rec


@pytest.fixture
def store_backend() -> str:
    return "postgres"


def test_each_greenlet_has_its_own_transaction(store_factory: StoreFactory) -> None:
    store, reader = store_factory(), store_factory()
    inside, release = gevent.event.Event(), gevent.event.Event()

    def slow_block() -> None:
        with store.atomic():
            store.insert_recording(rec("RE1"))
            inside.set()
            release.wait(5)  # other greenlets run meanwhile
            raise RuntimeError("rolled back")

    slow = gevent.spawn(slow_block)
    assert inside.wait(5)
    store.insert_recording(rec("RE2"))  # its own transaction: committed at once
    assert reader.get_recording("RE2") is not None
    assert reader.get_recording("RE1") is None  # not committed yet
    release.set()
    slow.join(5)
    assert isinstance(slow.exception, RuntimeError)
    assert store.get_recording("RE1") is None and store.get_recording("RE2") is not None


def test_daemons_starting_together_migrate_once(store_section: dict[str, str]) -> None:
    url = store_section["url"]
    opening = [gevent.spawn(PostgresStore, url, pool_size=2) for _ in range(4)]
    gevent.joinall(opening, timeout=20, raise_error=True)
    for job in opening:
        job.value.close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT version FROM esl_recorder_schema").fetchall() == [
            (len(MIGRATIONS),)]


def test_a_schema_newer_than_this_release_is_refused(store_factory: StoreFactory,
                                                     store_section: dict[str, str]) -> None:
    store_factory().close()
    with psycopg.connect(store_section["url"], autocommit=True) as conn:
        conn.execute("UPDATE esl_recorder_schema SET version=%s", (len(MIGRATIONS) + 1,))
    with pytest.raises(StoreError, match="newer than this esl_recorder knows"):
        store_factory()


def test_an_unreachable_server_is_refused_at_start_without_the_password() -> None:
    with pytest.raises(StoreError) as info:
        PostgresStore("postgresql://u:s3cret@127.0.0.1:1/db", timeout=1.0)
    assert "127.0.0.1:1/db" in str(info.value) and "s3cret" not in str(info.value)


@pytest.mark.parametrize("prelude", [
    "",  # gevent never patched
    "import psycopg\nfrom gevent import monkey\nmonkey.patch_all()\n",  # patched too late
])
def test_it_refuses_to_run_unless_gevent_patched_first(prelude: str,
                                                      store_section: dict[str, str]) -> None:
    url = store_section["url"]
    code = (prelude + "from esl_recorder.errors import StoreError\n"
            "from esl_recorder.store.postgres import PostgresStore\n"
            f"try:\n    PostgresStore({url!r})\nexcept StoreError as exc:\n    print(exc)\n"
            "else:\n    print('opened')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert "needs gevent's monkey.patch_all() to run before psycopg" in done.stdout, done
    patched = "from gevent import monkey\nmonkey.patch_all()\n" + code
    done = subprocess.run([sys.executable, "-c", patched], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "opened", done


def test_an_item_committed_behind_the_scan_is_delivered_at_once(
        harness_factory: HarnessFactory,  # noqa: F811
        receivers: Callable[..., Scripted]) -> None:  # noqa: F811
    """Transactions commit out of id order: the deliverer's scan may have passed an item's
    position before the item could be read. no_safety_nets: no periodic rewind helps."""
    r = receivers()
    h = harness_factory()
    inside, release = gevent.event.Event(), gevent.event.Event()

    def slow_transaction() -> None:
        with h.store.atomic():
            h.send(r.url(), key="RE1", body="i=1")  # the lower id and time
            inside.set()
            release.wait(5)

    slow = gevent.spawn(slow_transaction)
    assert inside.wait(5)
    h.send(r.url(), key="RE2", body="i=2")  # committed first
    h.wait_for(lambda: h.count("delivered") == 1, what="the second item delivered")
    release.set()
    slow.join(5)
    h.wait_for(lambda: h.count("delivered") == 2, what="the first item delivered")
    assert sorted(g.form["i"] for g in r.wait(2)) == ["1", "2"]
