"""The store's recordings, calls and outbox order, on SQLite and on PostgreSQL."""

from store_backends import StoreFactory

from esl_recorder.domain.calls import Call, CallState
from esl_recorder.domain.options import RecordOptions, Track
from esl_recorder.domain.recording import FileFacts, Recording, State, StopReason


def make(sid: str, state: State = State.IN_PROGRESS, account: str = "acc1") -> Recording:
    return Recording(sid=sid, call_uuid="c-" + sid, node="fs1", path=f"/r/{sid}.wav",
                     options=RecordOptions(channels=1, track=Track.INBOUND), account=account,
                     state=state, created_at=float(len(sid)), meta={"dialect": "x"})


def test_recordings_survive_reopening(store_factory: StoreFactory) -> None:
    store = store_factory()
    rec = make("RE1")
    rec.stop_requested = StopReason.REQUESTED
    rec.file = FileFacts(1000, 1, 8000, 16044, "ab" * 32)
    store.save_recording(rec)
    store.save_recording(make("RE2", State.COMPLETED))
    store.close()
    again = store_factory()
    loaded = again.get_recording("RE1")
    assert loaded == rec
    assert [r.sid for r in again.unfinished_recordings()] == ["RE1"]
    assert again.get_recording("RE2") == make("RE2", State.COMPLETED)


def test_list_filters_by_account_and_call(store_factory: StoreFactory) -> None:
    store = store_factory()
    for sid, acc in (("RE1", "a"), ("RE22", "a"), ("RE333", "b")):
        store.save_recording(make(sid, account=acc))
    assert [r.sid for r in store.list_recordings(account="a")] == ["RE22", "RE1"]
    assert [r.sid for r in store.list_recordings(call_uuid="c-RE333")] == ["RE333"]
    assert store.delete_recording("RE1") and not store.delete_recording("RE1")


def test_calls_round_trip(store_factory: StoreFactory) -> None:
    store = store_factory()
    call = Call(uuid="u1", node="fs1", direction="inbound", state=CallState.ANSWERED, account="a",
                user="u", device="d", caller="100", destination="200", created_at=1.0,
                answered_at=2.0)
    store.save_call(call)
    assert store.load_call("u1") == call
    assert store.load_call("nope") is None


def test_outbox_keeps_order_per_key(store_factory: StoreFactory) -> None:
    store = store_factory()
    first = store.enqueue("cb", "RE1", "http://x/a", {"n": 1}, now=10)
    store.enqueue("cb", "RE1", "http://x/a", {"n": 2}, now=10)
    other = store.enqueue("cb", "RE2", "http://x/b", {"n": 3}, now=10)
    assert [i.id for i in store.due(now=10)] == [first, other]
    store.finish_attempts(delivered=[], retried=[(first, 20, "receiver down")], dead=[])
    assert [i.id for i in store.due(now=15)] == [other]  # RE1's second waits behind its first
    store.finish_attempts(delivered=[(first, 21)], retried=[], dead=[])
    assert [i.payload["n"] for i in store.due(now=21)] == [2, 3]
    store.finish_attempts(delivered=[], retried=[], dead=[(other, 22, "expired")])
    assert [store.outbox_count(s) for s in ("delivered", "pending", "dead")] == [1, 1, 1]
