"""The durable outbox: every callback is stored before its first attempt, then delivered
by a background greenlet with exponential backoff and full jitter until it is delivered or
older than `delivery.max_age` (then dead: counted and listed). Items that share a key (one
recording, one call) go out in order; the API and the ESL reader never wait on delivery."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import gevent
import gevent.event
import requests

from ..metrics import Metrics
from ..settings import DeliverySettings
from ..store.sqlite import OutboxItem, Store

log = logging.getLogger(__name__)

USER_AGENT = "esl_recorder-callbacks/1"


@dataclass(frozen=True)
class OutboundRequest:
    """One HTTP request to make, exactly (signature headers already computed)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> OutboundRequest:
        return cls(method=data["method"], url=data["url"], headers=dict(data["headers"]),
                   body=data["body"])


class Outbox:
    def __init__(self, store: Store, settings: DeliverySettings, metrics: Metrics,
                 clock: Callable[[], float] = time.time,
                 session: requests.Session | None = None) -> None:
        self._store = store
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._session = session or requests.Session()
        self._wake = gevent.event.Event()
        self._runner: gevent.Greenlet | None = None
        metrics.callbacks_pending.set_function(lambda: store.outbox_counts().get("pending", 0))
        metrics.callbacks_dead.set_function(lambda: store.outbox_counts().get("dead", 0))

    def enqueue(self, request: OutboundRequest, *, key: str, dialect: str, kind: str) -> int:
        """Persist one request (committed before this returns) and wake the deliverer."""
        item_id = self._store.enqueue(kind, key, request.url, request.to_payload(), self._clock())
        self._metrics.callbacks_enqueued.labels(dialect=dialect, kind=kind).inc()
        log.debug("outbox %d: %s %s queued (key %s)", item_id, kind, request.method, key)
        self._wake.set()
        return item_id

    def dead(self, limit: int = 100) -> list[OutboxItem]:
        return self._store.outbox_items("dead", limit)

    def start(self) -> None:
        if self._runner is None:
            self._runner = gevent.spawn(self._run)

    def stop(self, timeout: float = 5.0) -> None:
        if self._runner is not None:
            self._runner.kill(timeout=timeout)
            self._runner = None

    def _run(self) -> None:
        while True:
            self._wake.clear()
            items = self._store.due(self._clock())
            for item in items:
                self._deliver(item)
            if not items:
                self._wake.wait(self._idle_wait())

    def _idle_wait(self) -> float:
        return 1.0

    def _deliver(self, item: OutboxItem) -> None:
        req = OutboundRequest.from_payload(item.payload)
        started = time.monotonic()
        try:
            resp = self._session.request(req.method, req.url, data=req.body.encode() or None,
                                         headers={"User-Agent": USER_AGENT, **req.headers},
                                         timeout=self._settings.timeout,
                                         allow_redirects=False)
            error = None if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        self._metrics.callback_delivery_duration.observe(time.monotonic() - started)
        now = self._clock()
        if error is None:
            self._store.mark_delivered(item.id, now)
            self._metrics.callback_attempts.labels(result="delivered").inc()
        elif now - item.created_at >= self._settings.max_age:
            self._store.mark_dead(item.id, now, error)
            self._metrics.callback_attempts.labels(result="dead").inc()
            log.warning("outbox %d (key %s): given up after %d attempts: %s", item.id,
                        item.key, item.attempts + 1, error)
        else:
            delay = min(self._settings.max_delay,
                        self._settings.initial_delay * 2 ** item.attempts)
            self._store.reschedule(item.id, now + random.uniform(delay / 2, delay), error)
            self._metrics.callback_attempts.labels(result="retry").inc()
            log.info("outbox %d (key %s): attempt %d failed (%s), retrying", item.id,
                     item.key, item.attempts + 1, error)
