"""What one delivery attempt's result means: delivered, retried later, or given up.

Which answers are retried:
- 2xx: delivered.
- no answer (connection refused or reset, DNS failure, TLS failure, timeout), 5xx, and the
  4xx that mean "later" (408 Request Timeout, 425 Too Early, 429 Too Many Requests):
  retried with exponential backoff and full jitter until `delivery.max_age` has passed
  since the item was queued, then given up (dead). A `Retry-After` on 429/503 is honoured
  as the least delay (still capped by `delivery.max_delay`).
- a refused target (targets.py: an address deliveries may not reach): given up at once,
  never contacted.
- any other 4xx, and 3xx (redirects are not followed): given up at once. This is what
  Twilio, SignalWire and Telnyx do with status callbacks: the receiver answered, and its
  answer says the same request will not succeed later (bad URL, wrong route, refused
  signature). Retrying for a day would only fill its logs; the item is listed as dead with
  the status (`esl-recorder outbox --state dead`) and counted.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ..backoff import full_jitter
from ..settings import DeliverySettings

RETRYABLE_4XX = frozenset({408, 425, 429})


class Verdict(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"


def verdict_for(status: int | None) -> Verdict:
    """The meaning of an HTTP status (None: no answer at all)."""
    if status is not None and 200 <= status < 300:
        return Verdict.DELIVERED
    if status is None or status >= 500 or status in RETRYABLE_4XX:
        return Verdict.RETRY
    return Verdict.REJECTED


@dataclass(frozen=True)
class Attempt:
    """One attempt's outcome: the status, or why there was none."""

    status: int | None
    error: str = ""
    retry_after: float | None = None
    refused: bool = False  # it cannot succeed later: given up at once (nothing was sent)
    unreachable: bool = False  # refused because deliveries may not reach the target

    @property
    def verdict(self) -> Verdict:
        if self.refused or self.unreachable:
            return Verdict.REJECTED
        return verdict_for(self.status)

    def describe(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else self.error


@dataclass(frozen=True)
class Decision:
    result: str  # "delivered" | "retry" | "dead"
    error: str = ""
    next_at: float | None = None
    unreachable: bool = False  # dead because deliveries may not reach the target


def decide(attempt: Attempt, *, created_at: float, attempts_before: int, now: float,
           settings: DeliverySettings, rand: Callable[[], float]) -> Decision:
    """Delivered, retry at `next_at` (never later than the expiry), or dead."""
    verdict = attempt.verdict
    if verdict is Verdict.DELIVERED:
        return Decision("delivered")
    error = attempt.describe()
    if verdict is Verdict.REJECTED:
        return Decision("dead", f"{error} (not retried)", unreachable=attempt.unreachable)
    expires = created_at + settings.max_age
    if now >= expires:
        return Decision("dead", f"{error} (expired after {attempts_before + 1} attempts)")
    delay = retry_delay(attempts_before, settings, rand, attempt.retry_after)
    return Decision("retry", error, min(now + delay, expires))


def retry_delay(attempts_before: int, settings: DeliverySettings,
                rand: Callable[[], float], retry_after: float | None = None) -> float:
    """Full jitter: uniform in (0, min(max_delay, initial_delay * 2**attempts_before)],
    raised to the receiver's Retry-After (capped by max_delay) when it sent one."""
    delay = full_jitter(attempts_before, settings.initial_delay, settings.max_delay, rand)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.max_delay))
    return delay


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None
