"""Capped exponential backoff with full jitter: the one rule for ESL reconnects and for
callback retries."""

from __future__ import annotations

from collections.abc import Callable

MAX_EXPONENT = 40  # 2**40 initial delays is far beyond any maximum


def full_jitter(attempts_before: int, initial: float, maximum: float,
                rand: Callable[[], float]) -> float:
    """Uniform in (ceiling / 1000, ceiling] with ceiling = min(maximum, initial *
    2**attempts_before); never 0, so a retry loop never spins."""
    ceiling = min(maximum, initial * 2 ** min(attempts_before, MAX_EXPONENT))
    return max(ceiling * rand(), ceiling / 1000)
