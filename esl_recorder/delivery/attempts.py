"""One attempt of one outbox item: by the handler registered for its kind (media uploads
and removals, delivery/media.py; url uploads, delivery/uploads.py), or as an HTTP callback
by the Sender for any other kind; its result decided (policy.py), counted and logged."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import Counter

from ..domain.ports import OutboxItem
from ..errors import InvalidArgument
from ..metrics import Metrics
from ..settings import DeliverySettings
from .policy import Attempt, Decision, decide
from .request import OutboundRequest, safe_url
from .sender import Sender, describe

log = logging.getLogger(__name__)

RESULTS = ("delivered", "retry", "dead")


class Handler(Protocol):
    """Attempts the items of one kind that are not HTTP callbacks (an upload, a removal).
    `attempt` returns what happened (never raises for trouble it expects): a 2xx status is
    done, no status is retried, `refused` is given up at once (policy.py)."""

    def attempt(self, item: OutboxItem) -> Attempt: ...

    def describe(self, item: OutboxItem) -> str:
        """Where the item goes, for log lines (no secrets)."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Registered:
    handler: Handler
    attempts: Counter  # labelled by result


def idempotency_key(item: OutboxItem) -> str:
    """What names a callback to its receiver, the same on every attempt by any daemon:
    the item's key (a recording sid or call id, unique to the callback's subject) and its
    id in the store every daemon shares (unique among that key's callbacks)."""
    return f"{item.key}/{item.id}"


class Attempts:
    def __init__(self, sender: Sender, settings: DeliverySettings, metrics: Metrics,
                 clock: Callable[[], float] = time.time,
                 rand: Callable[[], float] = random.random) -> None:
        self._sender = sender
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._rand = rand
        self._handlers: dict[str, Registered] = {}
        for result in RESULTS:
            metrics.callback_attempts.labels(result=result)

    def register(self, kind: str, handler: Handler, attempts: Counter) -> None:
        """Items of `kind` are attempted by `handler`; their results counted in `attempts`
        (labelled by result) instead of the callback metrics."""
        for result in RESULTS:
            attempts.labels(result=result)
        self._handlers[kind] = Registered(handler, attempts)

    def run(self, item: OutboxItem) -> Decision:
        """Attempt `item` once: what happens next to it."""
        started = time.monotonic()
        decision = self._try(item)
        registered = self._handlers.get(item.kind)
        if registered is not None:
            registered.attempts.labels(result=decision.result).inc()
        else:
            self._metrics.callback_delivery_duration.observe(time.monotonic() - started)
            self._metrics.callback_attempts.labels(result=decision.result).inc()
        if decision.unreachable:
            kind = "callback" if registered is None else item.kind
            self._metrics.delivery_targets_refused.labels(kind=kind).inc()
        self._log(item, decision)
        return decision

    def close(self) -> None:
        self._sender.close()
        for registered in self._handlers.values():
            registered.handler.close()

    def _try(self, item: OutboxItem) -> Decision:
        registered = self._handlers.get(item.kind)
        try:
            if registered is not None:
                attempt = registered.handler.attempt(item)
            else:
                request = OutboundRequest.from_payload(item.payload)
                attempt = self._sender.send(request, idempotency_key(item))
        except (InvalidArgument, KeyError, TypeError) as exc:
            return Decision("dead", f"stored item is not valid: {exc}")
        except Exception as exc:  # a bug must not stop the lane: retry like a failure
            log.exception("outbox %d (key %s): attempt failed unexpectedly", item.id,
                          item.key)
            attempt = Attempt(None, describe(exc))
        return decide(attempt, created_at=item.created_at, attempts_before=item.attempts,
                      now=self._clock(), settings=self._settings, rand=self._rand)

    def _log(self, item: OutboxItem, decision: Decision) -> None:
        if decision.result == "delivered" and not log.isEnabledFor(logging.DEBUG):
            return
        registered = self._handlers.get(item.kind)
        url = (registered.handler.describe(item) if registered is not None
               else safe_url(str(item.payload.get("url", ""))))
        number = item.attempts + 1
        if decision.result == "delivered":
            log.debug("outbox %d (key %s): %s delivered to %s (attempt %d)", item.id,
                      item.key, item.kind, url, number)
        elif decision.result == "dead":
            log.warning("outbox %d (key %s): %s to %s given up after %d attempts: %s",
                        item.id, item.key, item.kind, url, number, decision.error)
        else:
            level = logging.INFO if number == 1 else logging.DEBUG
            log.log(level, "outbox %d (key %s): %s to %s failed (attempt %d: %s), retrying "
                    "in %.1fs", item.id, item.key, item.kind, url, number, decision.error,
                    (decision.next_at or 0.0) - self._clock())
