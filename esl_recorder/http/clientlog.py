"""Problems clients cause (timeouts, malformed requests, TLS on the plain port, too many
connections): one line each, no traceback, no socket repr, rate-limited.

A client's problem of one kind is logged once per `window`; over all clients at most `burst`
lines per `window`, the next line then saying how many were left out. A client can neither
fill the log nor hide a new kind of problem behind an old one.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger("esl_recorder.http.clients")


class ClientProblems:
    def __init__(self, *, window: float = 600.0, burst: int = 50, remembered: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._burst = burst
        self._remembered = remembered
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._period_start = clock()
        self._logged = 0
        self._left_out = 0

    def report(self, client: str, kind: str, message: str, level: int = logging.INFO) -> bool:
        """Log `message` about `client` unless it was logged lately; True if it was logged."""
        now = self._clock()
        key = (client, kind)
        last = self._seen.get(key)
        if last is not None and now - last < self._window:
            return False
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > self._remembered:
            self._seen.popitem(last=False)
        if now - self._period_start >= self._window:
            self._period_start, self._logged = now, 0
        if self._logged >= self._burst:
            self._left_out += 1
            return False
        self._logged += 1
        left_out, self._left_out = self._left_out, 0
        more = f" ({left_out} similar client problems not logged)" if left_out else ""
        log.log(level, "client %s: %s%s", client, message, more)
        return True
