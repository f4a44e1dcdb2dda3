"""What the start-recording request path writes and looks up: recordings updated in place,
a new recording written with its call, a call's recordings found by index, WAL checkpoints
off the committing connection. Those not about SQLite's files run on both stores."""

import sqlite3
from pathlib import Path

import gevent
import pytest
from prometheus_client import CollectorRegistry
from store_backends import StoreFactory

from esl_recorder.domain.calls import Call, CallState
from esl_recorder.domain.options import RecordOptions
from esl_recorder.domain.recording import FileFacts, Recording, State
from esl_recorder.domain.registry import RecordingRegistry
from esl_recorder.metrics import make_metrics
from esl_recorder.store.sqlite import Store


def make(sid: str, call: str = "c1") -> Recording:
    return Recording(sid=sid, call_uuid=call, node="fs1", path=f"/r/{sid}.wav",
                     options=RecordOptions(control_id=sid), account="acme", source="laml",
                     created_at=10.0, meta={"callback": {"url": "http://x/cb"}})


def test_saving_a_known_recording_updates_what_changes_and_keeps_the_rest(
        store_factory: StoreFactory) -> None:
    store = store_factory()
    rec = make("RE1")
    store.save_recording(rec)
    rec.state, rec.started_at, rec.ended_at = State.COMPLETED, 11.0, 15.0
    rec.file = FileFacts(4000, 2, 8000, 64044, "cd" * 32)
    store.save_recording(rec)
    assert store.get_recording("RE1") == rec
    assert [r.sid for r in store.list_recordings(account="acme", call_uuid="c1")] == ["RE1"]
    assert store.delete_recording("RE1")
    store.save_recording(rec)  # saved after a delete: whole again, not a partial row
    assert store.get_recording("RE1") == rec


def test_a_calls_recordings_are_found_by_call_until_they_end(
        store_factory: StoreFactory) -> None:
    registry = RecordingRegistry(store_factory(),
                                 make_metrics(CollectorRegistry()))
    first, second, other = make("RE1"), make("RE2"), make("RE3", call="c2")
    for rec in (first, second, other):
        registry.add(rec)
    assert registry.for_call("c1") == [first, second]
    registry.transition(first, State.ABSENT)  # queued, never started
    assert registry.for_call("c1") == [second]
    assert registry.for_call("c2") == [other]
    registry.transition(other, State.ABSENT)
    assert registry.for_call("c2") == []


def test_background_checkpoints_copy_the_wal_into_the_database(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(str(db))
    store.checkpoint_in_background(interval=0.01)
    size_before = db.stat().st_size
    for i in range(200):
        store.save_recording(make(f"RE{i}"))
    with gevent.Timeout(5, AssertionError("the database file never grew")):
        while db.stat().st_size == size_before:
            gevent.sleep(0.01)
    store.close()
    assert Store(str(db)).get_recording("RE199") == make("RE199")


def test_a_new_recording_is_written_with_its_call(store_factory: StoreFactory) -> None:
    store = store_factory()
    call = Call(uuid="c1", node="fs1", state=CallState.ANSWERED, account="acme", answered_at=2.0)
    store.insert_recording(make("RE1"), call)
    store.close()
    reopened = store_factory()
    assert reopened.load_call("c1") == call and reopened.get_recording("RE1") == make("RE1")


def test_a_recording_that_cannot_be_written_leaves_no_call_row_behind(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.db"))
    call = Call(uuid="c9", node="fs1", state=CallState.ANSWERED, account="acme", answered_at=2.0)
    broken = make("RE9", call="c9")
    broken.path = None  # type: ignore[assignment]  # NOT NULL: the insert fails
    with pytest.raises(sqlite3.IntegrityError):
        store.insert_recording(broken, call)
    assert store.load_call("c9") is None and store.get_recording("RE9") is None
    store.insert_recording(make("RE10", call="c9"), call)
    assert store.load_call("c9") == call
