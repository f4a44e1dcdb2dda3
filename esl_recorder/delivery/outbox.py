"""The durable outbox: every callback and upload is stored (one committed SQLite insert)
before its first attempt, then delivered in the background until it is delivered or given up.

- Kinds: an item is attempted by the handler registered for its kind (`register`: media
  uploads and removals, delivery/media.py); any other kind is an HTTP callback, sent by
  the Sender (attempts.py: one attempt, its result counted and logged). Every kind has
  the same retries, order, lanes and restart semantics below.

- Never in the way: `enqueue` is one insert and a wake-up; the API and the ESL reader
  never wait on a receiver.
- Order: items that share a key (one recording, one call) go out one after the other;
  item N+1 is not sent before item N is delivered or given up.
- Isolation: at most `delivery.concurrency` attempts in flight, at most
  `delivery.per_host` of them to one receiver origin, so a slow or dead receiver cannot
  hold up the others (lanes.py).
- Retries: see policy.py (full-jitter exponential backoff capped by `delivery.max_delay`;
  given up after `delivery.max_age`, or at once for a 4xx that says "never").
- Several daemons (PostgreSQL): the scans claim what they read, in the reading statement
  (OutboxStore.due/heads with claim_until), so each due item is read by one daemon only,
  one daemon at a time attempts it, and a key's next item waits for its predecessor
  whichever daemon holds it; the claim is a lease of `delivery.lease`, renewed every third
  of it while the item is held here (queued or attempted), and ended by the stored
  result. A claimed item the lanes cannot hold is given back at once, at its position.
  SQLite (one daemon) has no claims.
- Restarts: whatever was in flight when the process died is pending again (on PostgreSQL
  once its lease is over): at least once; receivers of these vendors already handle a
  repeated callback. Attempt results are written in batches, one transaction
  per wake-up; a crash before that write also means "sent again".
- Wake-ups: on enqueue and on each finished attempt; otherwise the deliverer sleeps until
  the earliest retry is due (at most MAX_IDLE).
- Visible: metrics callback_attempts{result}, callbacks_pending, callbacks_dead, and
  `esl-recorder outbox --state dead` (listing.py). Delivered items are forgotten after
  `delivery.max_age`; dead ones are kept.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
import gevent.event
from prometheus_client import Counter

from ..domain.ports import OutboxItem, OutboxStore, StoreUnavailable
from ..metrics import Metrics
from ..settings import DeliverySettings
from .attempts import Attempts, Handler
from .lanes import Lanes, Position
from .policy import Decision
from .request import OutboundRequest, safe_url
from .sender import USER_AGENT, Sender
from .targets import TargetPolicy

__all__ = ["USER_AGENT", "Handler", "OutboundRequest", "Outbox"]

log = logging.getLogger(__name__)

Listener = Callable[[OutboxItem, str], None]  # (item, "delivered" | "retry" | "dead")

SCAN_BATCH = 500  # rows read from the store per query
SCAN_BATCHES_PER_TURN = 4  # then let other greenlets run before reading on
WINDOW_PER_SLOT = 16  # items held in memory: concurrency * this
LANE_ROOM_PER_SLOT = 8  # items queued in one lane: per_host * this
MAX_IDLE = 5.0  # longest sleep without a wake-up (clock changes, outside requeues)
REWIND_EVERY = 30.0  # seconds between scans from the start of the pending index
PURGE_EVERY = 60.0  # seconds between removals of old delivered items...
PURGE_BATCH = 2_000  # ...of at most this many (a few ms), again after 1 s while more remain
ERROR_PAUSE = 1.0  # after an unexpected error in the deliverer's loop
LAST_ID = 2**63 - 1  # past every item id: a cursor (t, LAST_ID) has passed all due at t


@dataclass(frozen=True)
class Finished:
    item: OutboxItem
    decision: Decision
    at: float


class Outbox:
    def __init__(self, store: OutboxStore, settings: DeliverySettings, metrics: Metrics,
                 clock: Callable[[], float] = time.time, *, targets: TargetPolicy,
                 sender: Sender | None = None,
                 rand: Callable[[], float] = random.random) -> None:
        self._store = store
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._attempts = Attempts(
            sender or Sender(settings.per_host, settings.timeout, targets), settings,
            metrics, clock, rand)
        self._window = settings.concurrency * WINDOW_PER_SLOT
        self._wake = gevent.event.Event()
        self._runner: gevent.Greenlet | None = None
        self._listeners: list[Listener] = []
        self._reset()
        metrics.callbacks_pending.set_function(lambda: store.outbox_count("pending"))
        metrics.callbacks_dead.set_function(lambda: store.outbox_count("dead"))

    def _reset(self) -> None:
        self._lanes = Lanes(self._settings.per_host,
                            self._settings.per_host * LANE_ROOM_PER_SLOT)
        self._workers: set[gevent.Greenlet] = set()
        self._busy = 0  # workers running (counted here: a pool frees a slot only later)
        self._done: list[Finished] = []
        self._cursor: Position | None = None
        self._arrived: list[tuple[str, Position]] = []  # (target, position) since _catch_up
        self._claimed: dict[int, OutboxItem] = {}  # claimed, result not stored yet
        self._renew_at = 0.0
        self._rewind_at = 0.0
        self._purge_at = 0.0
        self._stopping = False

    # API -------------------------------------------------------------------------------
    def register(self, kind: str, handler: Handler, attempts: Counter) -> None:
        """Items of `kind` are attempted by `handler`; their results counted in `attempts`
        (labelled by result) instead of the callback metrics."""
        self._attempts.register(kind, handler, attempts)

    def enqueue(self, request: OutboundRequest, *, key: str, dialect: str, kind: str) -> int:
        """Persist one request and wake the deliverer. Called from a recording's listener it
        is part of that change's transaction (store.atomic): committed with it, or not at
        all; otherwise committed before this returns."""
        item_id = self.put(kind, key, request.origin, request.to_payload(), dialect=dialect)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("outbox %d (key %s): %s %s %s queued", item_id, key, kind,
                      request.method, safe_url(request.url))
        return item_id

    def put(self, kind: str, key: str, target: str, payload: dict[str, Any], *,
            dialect: str) -> int:
        """Persist one item of any kind for lane `target` (an origin) and wake the
        deliverer once it is committed; the same transaction rules as `enqueue`."""
        now = self._clock()
        item_id = self._store.enqueue(kind, key, target, payload, now)
        self._metrics.callbacks_enqueued.labels(dialect=dialect, kind=kind).inc()
        self._store.after_commit(functools.partial(self._committed, target, (now, item_id)))
        return item_id

    def _committed(self, target: str, position: Position) -> None:
        """Wake the deliverer once an item can be read (not running: its first scan will
        read it)."""
        if self._runner is not None:
            self._arrived.append((target, position))
        self._wake.set()

    def _catch_up(self) -> None:
        """Move the scans back to the items stored behind where they are (PostgreSQL:
        transactions commit out of id order, or while a scan's query runs; a retry due
        soon), so none waits for the periodic rewind."""
        arrived, self._arrived = self._arrived, []
        for target, (at, item_id) in arrived:
            before = (at, item_id - 1)
            if self._cursor is not None and before < self._cursor:
                self._cursor = before
            self._lanes.back_to(target, before)

    def items(self, state: str | None = None, limit: int = 100) -> list[OutboxItem]:
        return self._store.outbox_items(state, limit)

    def dead(self, limit: int = 100) -> list[OutboxItem]:
        return self._store.outbox_items("dead", limit)

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(item, result)` once each attempt's result is stored."""
        self._listeners.append(listener)

    def start(self, *, sole_daemon: bool = False) -> None:
        """`sole_daemon`: no other daemon shares the store, so items still claimed are the
        cut attempts of this one's previous run: due again now (store.release_claims)."""
        if self._runner is None:
            if sole_daemon and (cut := self._store.release_claims(self._clock())):
                log.info("outbox: %d attempts cut by the last stop are due again", cut)
            self._reset()
            self._runner = gevent.spawn(self._run)

    def stop(self, timeout: float = 2.0) -> None:
        """Let attempts in flight finish (up to `timeout`), store their results, stop.
        Attempts cut short are sent again after the next start (PostgreSQL: by any daemon
        once their lease is over)."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping = True  # the loop ends after its turn: a kill mid-query would cut a
        self._wake.set()       # store's command short (PostgreSQL: the connection is lost)
        deadline = time.monotonic() + timeout
        runner.join(timeout)
        if not runner.dead:
            runner.kill()
        gevent.joinall(list(self._workers), timeout=max(0.0, deadline - time.monotonic()))
        gevent.killall(list(self._workers), timeout=1)
        try:
            self._flush(self._clock())
            self._give_back()
        except Exception:
            log.exception("outbox: could not store the last attempts' results")
        self._attempts.close()

    # the deliverer's loop ---------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            now = self._clock()
            try:
                self._turn(now)
                wait = self._idle_wait(now)  # reads the store too
            except StoreUnavailable as exc:  # results are kept and written once it can be
                log.warning("outbox: %s; going on in %gs", exc, ERROR_PAUSE)
                gevent.sleep(ERROR_PAUSE)
                continue
            except Exception:
                log.exception("outbox: delivery loop failed; going on in %gs", ERROR_PAUSE)
                gevent.sleep(ERROR_PAUSE)
                continue
            self._wake.wait(wait)

    def _turn(self, now: float) -> None:
        self._flush(now)
        self._catch_up()
        self._renew(now)
        self._housekeeping(now)
        for lane in self._lanes.wanting():
            self._refill(lane.origin, now)
        if self._scan(now):
            self._wake.set()  # more to read: go on once other greenlets had their turn
        self._dispatch()

    def _idle_wait(self, scanned_at: float) -> float:
        """Until the first item the last scan (at `scanned_at`) could not see yet is due,
        or the next purge."""
        if self._wake.is_set():
            return 0.0
        wait = min(MAX_IDLE, self._purge_at - time.monotonic())
        if self._claimed:
            wait = min(wait, self._renew_at - time.monotonic())
        upcoming = self._store.next_attempt_after(scanned_at)
        if upcoming is not None:
            wait = min(wait, upcoming - self._clock())
        return max(0.0, wait)

    def _housekeeping(self, now: float) -> None:
        mono = time.monotonic()
        if mono >= self._rewind_at:  # a safety net for wall-clock steps backwards
            self._cursor = None
            self._lanes.rewind()
            self._rewind_at = mono + REWIND_EVERY
        if mono >= self._purge_at:
            purged = self._store.purge_delivered(now - self._settings.max_age, PURGE_BATCH)
            if purged:
                log.debug("outbox: forgot %d delivered callbacks older than %gs", purged,
                          self._settings.max_age)
            self._purge_at = mono + (1.0 if purged == PURGE_BATCH else PURGE_EVERY)

    def _scan(self, now: float) -> bool:
        """Read due items past the cursor into the lanes. True when it stopped with more
        to read (not when the window is full: finished attempts wake the loop)."""
        for _ in range(SCAN_BATCHES_PER_TURN):
            limit = min(self._window - len(self._lanes), SCAN_BATCH)
            if limit <= 0:
                return False
            rows = self._store.due(now, limit, after=self._cursor,
                                   claim_until=now + self._settings.lease,
                                   besides=self._lanes.overflowing())
            for row in rows:
                self._cursor = (row.next_attempt_at, row.id)
                self._lanes.hold(row)
            self._keep_held(rows)
            if len(rows) < limit:  # every item due at `now` was seen: the next scan
                self._cursor = (now, LAST_ID)  # starts there, not at the last one it kept
                return False
        return True

    def _refill(self, origin: str, now: float) -> None:
        lane = self._lanes.lane(origin)
        asked = min(self._lanes.room - len(lane.queue), self._window - len(self._lanes))
        if asked > 0:
            rows = self._store.due(now, asked, after=lane.cursor, target=origin,
                                   claim_until=now + self._settings.lease)
            self._lanes.refill(lane, rows, asked)
            self._keep_held(rows)

    def _keep_held(self, claimed: list[OutboxItem]) -> None:
        """Keep the claims of the items the lanes now hold; give the others back (a full
        lane reads them again later from its own cursor)."""
        returned = []
        for item in claimed:
            if item.id in self._lanes.held:
                self._claimed.setdefault(item.id, item)
            else:
                returned.append((item.id, item.next_attempt_at))
        self._store.give_back(returned)

    def _flush(self, now: float) -> None:
        """Store the finished attempts' results in one transaction, then queue the next
        item of every key whose item is done for good."""
        if not self._done:
            return
        done, self._done = self._done, []
        try:
            self._store.finish_attempts(
                delivered=[(f.item.id, f.at) for f in done if f.decision.result == "delivered"],
                retried=[(f.item.id, f.decision.next_at or f.at, f.decision.error)
                         for f in done if f.decision.result == "retry"],
                dead=[(f.item.id, f.at, f.decision.error)
                      for f in done if f.decision.result == "dead"])
        except BaseException:  # also a kill (stop) while the store is being written
            self._done = done + self._done
            raise
        for f in done:
            self._lanes.release(f.item)
            self._claimed.pop(f.item.id, None)
            if f.decision.next_at is not None:
                self._arrived.append((f.item.target, (f.decision.next_at, f.item.id)))
        self._notify(done)
        final = [f.item.key for f in done if f.decision.result != "retry"]
        if final:
            heads = self._store.heads(final, now, claim_until=now + self._settings.lease)
            for item in heads:
                self._lanes.hold(item, scanned=False)
            self._keep_held(heads)

    def _notify(self, done: list[Finished]) -> None:
        for listener in self._listeners:
            for f in done:
                try:
                    listener(f.item, f.decision.result)
                except Exception:
                    log.exception("outbox %d (key %s): listener failed", f.item.id,
                                  f.item.key)

    def _dispatch(self) -> None:
        if self._stopping:
            return
        for item in self._take(self._settings.concurrency - self._busy):
            self._busy += 1
            worker = gevent.spawn(self._work, item)
            self._workers.add(worker)
            worker.link(self._workers.discard)

    def _take(self, slots: int) -> list[OutboxItem]:
        """Up to `slots` items to attempt now (claimed when they were read)."""
        return self._lanes.take(slots)

    def _give_back(self) -> None:
        """End the claims of the items held and of attempts cut short: any daemon may
        make them again at once, as if they had not started."""
        if self._claimed:
            self._store.give_back([(i.id, i.next_attempt_at) for i in self._claimed.values()])
            self._claimed.clear()

    def _renew(self, now: float) -> None:
        """Extend the leases of the items being attempted (or whose results wait to be
        stored) every third of a lease."""
        mono = time.monotonic()
        if mono < self._renew_at:
            return
        self._renew_at = mono + self._settings.lease / 3
        held = list(self._claimed)  # workers claim more while the store is asked
        if held:
            kept = self._store.claim(held, now, now + self._settings.lease)
            for item_id in set(held) - kept:
                item = self._claimed.get(item_id)
                if item is None:  # its result was stored meanwhile
                    continue
                log.warning("outbox %d (key %s): claim lost to another daemon (our lease "
                            "ran out)", item_id, item.key)
                if self._lanes.drop(item):  # not started here: the other daemon has it
                    del self._claimed[item_id]

    # attempts --------------------------------------------------------------------------
    def _work(self, item: OutboxItem) -> None:
        """One of `concurrency` workers: attempts items until none may start now."""
        try:
            while True:
                self._attempt(item)
                following = [] if self._stopping else self._take(1)
                if not following:
                    return
                item = following[0]
        finally:
            self._busy -= 1

    def _attempt(self, item: OutboxItem) -> None:
        decision = self._attempts.run(item)
        self._done.append(Finished(item, decision, self._clock()))
        self._lanes.attempted(item)
        self._wake.set()
