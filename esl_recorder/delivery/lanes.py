"""The deliverer's memory: which outbox items it holds, grouped in one lane per receiver
origin, and which may start now.

Rules kept here (no I/O):
- an item is held once (by id), and one item per key at a time (per-key order);
- a lane has at most `per_host` items in flight, so a slow or dead receiver occupies
  at most that many of the global slots; free slots go round-robin over the lanes;
- a lane queues at most `room` items found by scanning the store; when it is full, the
  scan leaves that origin's items in the store and marks the lane `overflow`, and the lane
  reads them back itself (from `cursor`, its position in its own index) once it has room.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..domain.ports import OutboxItem

Position = tuple[float, int]  # (next_attempt_at, id): the order the store is scanned in


@dataclass
class Lane:
    origin: str
    queue: deque[OutboxItem] = field(default_factory=deque)
    active: int = 0
    cursor: Position | None = None
    overflow: bool = False

    def advance(self, item: OutboxItem) -> None:
        pos = (item.next_attempt_at, item.id)
        if self.cursor is None or pos > self.cursor:
            self.cursor = pos


class Lanes:
    def __init__(self, per_host: int, room: int) -> None:
        self.per_host = per_host
        self.room = room
        self._lanes: dict[str, Lane] = {}
        self._turn = 0
        self.held: dict[int, OutboxItem] = {}
        self._held_keys: set[str] = set()

    def __len__(self) -> int:
        return len(self.held)

    def hold(self, item: OutboxItem, *, scanned: bool = True) -> bool:
        """Queue an item. False when a scanned item is left in the store: its lane is
        full, or already reading its own items back (overflow), which it does in order
        from its cursor, so the cursor never passes an item left behind. An item already
        held, or whose key is held, is ignored (True). Chained items (scanned=False)
        always fit."""
        if self._known(item):
            return True
        lane = self.lane(item.target)
        if scanned:
            if lane.overflow or len(lane.queue) >= self.room:
                lane.overflow = True
                return False
            lane.advance(item)
        self._add(lane, item)
        return True

    def _known(self, item: OutboxItem) -> bool:
        return item.id in self.held or item.key in self._held_keys

    def _add(self, lane: Lane, item: OutboxItem) -> None:
        lane.queue.append(item)
        self.held[item.id] = item
        self._held_keys.add(item.key)

    def lane(self, origin: str) -> Lane:
        lane = self._lanes.get(origin)
        if lane is None:
            lane = self._lanes[origin] = Lane(origin)
        return lane

    def take(self, slots: int) -> list[OutboxItem]:
        """Up to `slots` items to start now, one per lane in turn, none from a lane that
        has per_host in flight."""
        started: list[OutboxItem] = []
        lanes = list(self._lanes.values())
        while len(started) < slots:
            ready = [lane for lane in lanes if lane.queue and lane.active < self.per_host]
            if not ready:
                break
            self._turn = (self._turn + 1) % len(ready)
            for lane in ready[self._turn:] + ready[:self._turn]:
                if len(started) == slots:
                    break
                started.append(lane.queue.popleft())
                lane.active += 1
        return started

    def attempted(self, item: OutboxItem) -> None:
        """The attempt is over: its slot is free (the item stays held until released)."""
        self._lanes[item.target].active -= 1

    def release(self, item: OutboxItem) -> None:
        """The attempt's result is stored: forget the item."""
        self.held.pop(item.id, None)
        self._held_keys.discard(item.key)
        lane = self._lanes.get(item.target)
        if lane is not None:
            self._drop_if_idle(lane)

    def _drop_if_idle(self, lane: Lane) -> None:
        if not lane.queue and not lane.active and not lane.overflow:
            del self._lanes[lane.origin]

    def drop(self, item: OutboxItem) -> bool:
        """Forget a queued item that has not started (False if it has, or is unknown)."""
        lane = self._lanes.get(item.target)
        if lane is None or item not in lane.queue:
            return False
        lane.queue.remove(item)
        self.release(item)
        return True

    def overflowing(self) -> list[str]:
        """The origins whose lanes read their items back themselves (scans leave them)."""
        return [lane.origin for lane in self._lanes.values() if lane.overflow]

    def wanting(self) -> list[Lane]:
        """Lanes that left items in the store and now have room for half a lane."""
        return [lane for lane in self._lanes.values()
                if lane.overflow and len(lane.queue) <= self.room // 2]

    def refill(self, lane: Lane, rows: list[OutboxItem], asked: int) -> None:
        """The lane read back `rows` (at most `asked`) of the items it left in the store."""
        for row in rows:
            if not self._known(row):
                self._add(lane, row)
            lane.advance(row)  # past rows held already too, so the next read moves on
        if len(rows) < asked:
            lane.overflow = False
            self._drop_if_idle(lane)

    def in_flight(self) -> int:
        return sum(lane.active for lane in self._lanes.values())

    def back_to(self, origin: str, position: Position) -> None:
        """The next read of `origin`'s lane starts after `position` at the latest."""
        lane = self._lanes.get(origin)
        if lane is not None and lane.cursor is not None and position < lane.cursor:
            lane.cursor = position

    def rewind(self) -> None:
        """Forget every lane's position (the next reads start from the beginning)."""
        for lane in self._lanes.values():
            lane.cursor = None
