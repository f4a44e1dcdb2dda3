"""The deliverer's in-memory rules: per-origin limits, fairness, overflow, one item per key."""

from __future__ import annotations

from esl_recorder.delivery.lanes import Lanes
from esl_recorder.store.sqlite import OutboxItem

A, B, C = "http://a.test:80", "http://b.test:80", "http://c.test:80"


def item(id: int, target: str = A, key: str | None = None, at: float = 0.0) -> OutboxItem:
    return OutboxItem(id=id, kind="cb", key=key or f"K{id}", target=target, payload={},
                      attempts=0, created_at=at, next_attempt_at=at or float(id),
                      state="pending", last_error=None)


def test_at_most_per_host_in_flight_per_origin_and_turns_between_origins() -> None:
    lanes = Lanes(per_host=2, room=10)
    for i in range(1, 7):
        assert lanes.hold(item(i, A))
    for i in range(7, 10):
        assert lanes.hold(item(i, B))
    assert lanes.hold(item(10, C))
    started = lanes.take(100)
    by_origin = {o: [i.id for i in started if i.target == o] for o in (A, B, C)}
    assert by_origin == {A: [1, 2], B: [7, 8], C: [10]}
    assert lanes.take(100) == []  # A and B are at their limit, C is empty
    lanes.attempted(next(i for i in started if i.target == A))
    assert [i.id for i in lanes.take(100)] == [3]


def test_few_free_slots_go_round_the_origins() -> None:
    lanes = Lanes(per_host=8, room=10)
    for i in range(1, 5):
        lanes.hold(item(i, A))
        lanes.hold(item(10 + i, B))
    first, second = lanes.take(1), lanes.take(1)
    assert {first[0].target, second[0].target} == {A, B}


def test_one_item_per_key_and_each_item_once() -> None:
    lanes = Lanes(per_host=2, room=10)
    assert lanes.hold(item(1, key="RE1"))
    assert lanes.hold(item(1, key="RE1"))  # known: ignored
    assert lanes.hold(item(2, key="RE1"))  # its key is held: ignored
    assert list(lanes.held) == [1]
    [one] = lanes.take(5)
    lanes.attempted(one)
    lanes.release(one)
    assert lanes.hold(item(2, key="RE1")) and list(lanes.held) == [2]


def test_a_full_lane_leaves_items_behind_and_reads_them_back_in_order() -> None:
    lanes = Lanes(per_host=1, room=2)
    assert lanes.hold(item(1)) and lanes.hold(item(2))
    assert not lanes.hold(item(3))  # full: left in the store
    lane = lanes.lane(A)
    assert lane.overflow and lane.cursor == (2.0, 2)
    # room again, but a scanned later item must not jump the queue of those left behind
    [first] = lanes.take(1)
    lanes.attempted(first)
    lanes.release(first)
    assert not lanes.hold(item(4))
    assert lane.cursor == (2.0, 2) and lanes.wanting() == [lane]
    lanes.refill(lane, [item(3), item(4)], asked=2)  # read back from the cursor
    assert [i.id for i in lane.queue] == [2, 3, 4] and lane.overflow  # maybe more left
    assert lane.cursor == (4.0, 4)
    lanes.refill(lane, [], asked=1)
    assert not lane.overflow


def test_chained_items_always_fit_and_do_not_move_the_cursor() -> None:
    lanes = Lanes(per_host=1, room=1)
    lanes.hold(item(5))
    assert lanes.hold(item(2, key="RE2"), scanned=False)
    assert [i.id for i in lanes.lane(A).queue] == [5, 2]
    assert lanes.lane(A).cursor == (5.0, 5)


def test_idle_lanes_are_forgotten_and_rewind_forgets_positions() -> None:
    lanes = Lanes(per_host=1, room=4)
    lanes.hold(item(1, A))
    lanes.hold(item(2, B))
    for it in lanes.take(2):
        lanes.attempted(it)
        lanes.release(it)
    assert lanes.in_flight() == 0 and len(lanes) == 0
    assert lanes.lane(A).cursor is None  # a new lane: the old one was dropped
    lanes.hold(item(3, A))
    lanes.rewind()
    assert lanes.lane(A).cursor is None
