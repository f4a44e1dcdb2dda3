"""Several daemons on one PostgreSQL outbox: each item attempted by one daemon at a time,
per-key order across daemons, a dead daemon's claim taken over when its lease is over.
Each store handle here is another daemon (its own daemon id and connections)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import pytest
from delivery.conftest import FAST, Harness, HarnessFactory
from delivery.test_outbox import Receivers, body_of
from store_backends import StoreFactory

from esl_recorder.domain.ports import OutboxItem

A = "http://a.test:80"


@pytest.fixture
def store_backend() -> str:
    return "postgres"


def test_an_item_claimed_by_one_daemon_is_not_granted_to_another(
        store_factory: StoreFactory) -> None:
    one, two = store_factory(), store_factory()
    first = one.enqueue("cb", "K1", A, {}, 10.0)
    other = one.enqueue("cb", "K2", A, {}, 10.0)
    assert one.claim([first], 10.0, 40.0) == {first}
    assert two.claim([first, other], 11.0, 41.0) == {other}
    assert one.claim([first], 20.0, 50.0) == {first}  # its own claim: the lease extended
    assert two.claim([first], 45.0, 75.0) == set()  # not over yet (50)
    assert first not in [i.id for i in two.due(45.0)]  # not due for anyone meanwhile
    assert two.claim([first], 50.5, 80.0) == {first}  # over: taken over


def test_a_keys_next_item_waits_for_the_one_in_flight_elsewhere(
        store_factory: StoreFactory) -> None:
    one, two = store_factory(), store_factory()
    first = one.enqueue("cb", "K1", A, {}, 10.0)
    second = one.enqueue("cb", "K1", A, {}, 10.0)
    assert one.claim([first], 10.0, 40.0) == {first}
    assert two.claim([second], 10.0, 40.0) == set()
    assert [i.id for i in two.due(11.0)] == []
    one.finish_attempts(delivered=[(first, 12.0)], retried=[], dead=[])
    assert [i.id for i in two.heads(["K1"], 12.0)] == [second]
    assert two.claim([second], 12.0, 42.0) == {second}


def test_a_scan_claims_what_it_reads_so_another_daemons_scan_does_not_read_it(
        store_factory: StoreFactory) -> None:
    one, two = store_factory(), store_factory()
    ids = [one.enqueue("cb", f"K{k}", A, {}, 10.0 + k) for k in range(4)]
    behind = one.enqueue("cb", "K0", A, {}, 10.0)
    got = one.due(20.0, 2, claim_until=50.0)
    assert [(i.id, i.next_attempt_at) for i in got] == [(ids[0], 10.0), (ids[1], 11.0)]
    assert [i.id for i in two.due(20.0, claim_until=50.0)] == ids[2:]  # not K0's second
    assert two.due(21.0, claim_until=51.0) == []  # everything due is held by one or two
    assert two.claim([ids[0]], 21.0, 51.0) == set()
    one.give_back([(ids[1], 11.0)])  # the lanes could not hold it: due again, in place
    assert [(i.id, i.next_attempt_at) for i in two.due(22.0, claim_until=52.0)] == [
        (ids[1], 11.0)]
    one.finish_attempts(delivered=[(ids[0], 23.0)], retried=[], dead=[])
    assert [i.id for i in two.heads(["K0"], 23.0, claim_until=53.0)] == [behind]
    assert one.heads(["K0"], 23.0, claim_until=53.0) == []
    assert one.claim([behind], 24.0, 54.0) == set()
    assert two.claim([behind], 30.0, 60.0) == {behind}  # two's own: renewed


def test_a_result_is_not_written_over_a_claim_taken_over(store_factory: StoreFactory) -> None:
    one, two = store_factory(), store_factory()
    item = one.enqueue("cb", "K1", A, {}, 10.0)
    assert one.claim([item], 10.0, 20.0) == {item}
    assert two.claim([item], 21.0, 51.0) == {item}  # one's lease ran out mid-attempt
    one.finish_attempts(delivered=[], retried=[(item, 25.0, "late")], dead=[])
    two.finish_attempts(delivered=[(item, 30.0)], retried=[], dead=[])
    [row] = two.outbox_items()
    assert (row.state, row.attempts, row.last_error) == ("delivered", 1, None)


def test_three_daemons_deliver_each_item_once_in_order_per_key(
        harness_factory: HarnessFactory, receivers: Receivers) -> None:
    daemons = [harness_factory(start=False, concurrency=8, per_host=4) for _ in range(3)]
    order: dict[str, list[int]] = {}

    def answer(environ: dict[str, Any]) -> int:
        form = body_of(environ)
        order.setdefault(form["key"], []).append(int(form["n"]))
        gevent.sleep(0.001)  # let the other daemons' greenlets in while one is in flight
        return 200

    r = receivers(answer=answer)
    for d in daemons:
        d.outbox.start()
    for n in range(10):  # a key's items are enqueued by all three in turn
        for k in range(30):
            daemons[(k + n) % 3].send(r.url(), key=f"K{k}", body=f"key=K{k}&n={n}")
    r.wait(300, timeout=30)
    daemons[0].wait_for(lambda: sum(d.count("delivered") for d in daemons) == 300,
                        timeout=10)
    assert r.hits == 300  # none twice
    assert all(order[f"K{k}"] == list(range(10)) for k in range(30)), order
    assert all(d.count("delivered") > 0 for d in daemons)  # all of them took part
    assert Counter(i.state for i in daemons[0].store.outbox_items(limit=1000)) == {
        "delivered": 300}


def test_the_claim_of_a_daemon_that_died_is_taken_over_after_its_lease(
        harness_factory: HarnessFactory, receivers: Receivers) -> None:
    r = receivers()
    dead = harness_factory(start=False)
    item = dead.send(r.url(), key="K1", body="n=0")
    dead.send(r.url(), key="K1", body="n=1")
    claimed_at = time.time()
    assert dead.store.claim([item], claimed_at, claimed_at + 1.0) == {item}  # then "dies"
    alive = harness_factory(lease=1.0)
    got = r.wait(2, timeout=10)
    assert [g.form["n"] for g in got] == ["0", "1"]
    alive.wait_for(lambda: alive.count("delivered") == 2)
    assert min(alive.results[0][0].next_attempt_at, time.time()) >= claimed_at + 1.0


class CommitsDuringScan:
    """A daemon's store whose next scan that finds items runs `during_scan` after its
    query and before it returns: a transaction that commits while the scan reads."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.during_scan: Callable[[], None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def due(self, *args: Any, **kw: Any) -> list[OutboxItem]:
        rows: list[OutboxItem] = self._store.due(*args, **kw)
        if rows and self.during_scan is not None:
            during, self.during_scan = self.during_scan, None
            during()
        return rows


def test_an_item_committed_while_a_scan_reads_is_not_skipped(
        store_factory: StoreFactory, receivers: Receivers) -> None:
    """Transactions commit out of id order, and one may commit while the deliverer's scan
    runs: that scan does not see its item but returns a later one and goes on past both.
    The deliverer comes back for it (no_safety_nets: no rescan from the start would)."""
    racing = CommitsDuringScan(store_factory())
    h = Harness(lambda: racing, FAST)
    r = receivers()
    opened, commit = gevent.event.Event(), gevent.event.Event()

    def early_item_late_commit() -> None:
        with racing.atomic():
            h.send(r.url(), key="early", body="n=early")
            opened.set()
            commit.wait()

    def committed() -> None:
        commit.set()
        writer.join()

    writer = gevent.spawn(early_item_late_commit)
    try:
        h.outbox.start()
        opened.wait(5)
        racing.during_scan = committed
        h.send(r.url(), key="later", body="n=later")  # committed: the scan finds it
        got = r.wait(2, timeout=5)
        assert sorted(g.form["n"] for g in got) == ["early", "later"]
    finally:
        commit.set()
        writer.join()
        h.close()
