"""The outbox's queries, on SQLite and on PostgreSQL: order, cursors, batches, purge."""

from __future__ import annotations

import pytest
from store_backends import StoreFactory

from esl_recorder.store.opener import StateStore as Store

A, B = "http://a.test:80", "http://b.test:80"


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    return store_factory()


def add(store: Store, key: str, target: str = A, now: float = 10.0) -> int:
    return store.enqueue("cb", key, target, {"key": key}, now)


def test_due_continues_after_a_position_and_keeps_one_origin(store: Store) -> None:
    ids = [add(store, f"K{i}", A if i % 2 else B, now=float(i)) for i in range(6)]
    assert [i.id for i in store.due(10.0)] == ids
    assert [i.id for i in store.due(10.0, 2, after=(1.0, ids[1]))] == ids[2:4]
    assert [i.id for i in store.due(10.0, target=A)] == ids[1::2]
    assert [i.id for i in store.due(10.0, target=A, after=(1.0, ids[1]))] == ids[3::2]
    assert [i.id for i in store.due(2.5)] == ids[:3]  # not due yet: left out
    assert [i.id for i in store.due(10.0, besides=[A])] == ids[::2]  # A's lane reads its own
    assert [i.id for i in store.due(10.0, besides=[A, B])] == []


def test_due_and_heads_return_only_the_oldest_pending_of_a_key(store: Store) -> None:
    first, second, third = (add(store, "RE1") for _ in range(3))
    other = add(store, "RE2")
    assert [i.id for i in store.due(10.0)] == [first, other]
    assert store.heads(["RE1", "RE2", "RE9"], 10.0) == store.due(10.0)
    store.finish_attempts(delivered=[(first, 11.0)], retried=[], dead=[])
    assert [i.id for i in store.heads(["RE1"], 11.0)] == [second]
    store.finish_attempts(delivered=[], retried=[], dead=[(second, 12.0, "HTTP 404")])
    assert [i.id for i in store.heads(["RE1", "RE1"], 12.0)] == [third]


def test_results_are_written_together(store: Store) -> None:
    a, b, c = add(store, "A"), add(store, "B"), add(store, "C")
    store.finish_attempts(delivered=[(a, 11.0)], retried=[(b, 20.0, "HTTP 503")],
                          dead=[(c, 11.0, "x" * 600)])
    items = {i.id: i for i in store.outbox_items()}
    assert (items[a].state, items[a].attempts, items[a].finished_at) == ("delivered", 1, 11.0)
    assert (items[b].state, items[b].attempts, items[b].next_attempt_at,
            items[b].last_error) == ("pending", 1, 20.0, "HTTP 503")
    assert items[c].state == "dead" and len(items[c].last_error or "") == 500
    assert store.next_attempt_after(11.0) == 20.0 and store.next_attempt_after(20.0) is None
    assert (store.outbox_count("pending"), store.outbox_count("dead")) == (1, 1)


def test_a_failed_batch_changes_nothing(store: Store) -> None:
    a = add(store, "A")
    with pytest.raises(TypeError):  # after the first statement of the batch ran
        store.finish_attempts(delivered=[(a, 11.0)], retried=[],
                              dead=[(a, 11.0, object())])  # type: ignore[list-item]
    [item] = store.outbox_items()
    assert (item.state, item.attempts) == ("pending", 0)
    add(store, "B")  # the connection is usable again (no transaction left open)


def test_old_delivered_items_are_purged_dead_and_pending_kept(store: Store) -> None:
    old, recent, dead, pending = (add(store, k) for k in "ABCD")
    store.finish_attempts(delivered=[(old, 100.0), (recent, 200.0)], retried=[],
                          dead=[(dead, 50.0, "HTTP 410")])
    assert store.purge_delivered(before=150.0) == 1
    assert sorted(i.id for i in store.outbox_items()) == [recent, dead, pending]
