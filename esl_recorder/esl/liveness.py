"""Is a node alive: TCP keepalive on its socket, and a watchdog per connection that probes a
node gone quiet and declares a silent one dead (see esl.client's docstring)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from .connection import Connection

#: After this share of the liveness timeout without a byte, the node is probed.
PROBE_AFTER = 1 / 3


def enable_keepalive(sock: Any, liveness_timeout: float) -> None:
    """TCP keepalive well inside the liveness timeout (the system default is ~2 hours): a
    peer gone without a FIN or RST is noticed by the kernel too."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle = max(1, int(liveness_timeout / 2))
    interval = max(1, int(liveness_timeout / 6))
    for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval),
                        ("TCP_KEEPCNT", 3)):
        option = getattr(socket, name, None)
        if option is not None:  # Linux names; other systems keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def watch(conn: Connection, limit: float, probe: Callable[[Connection, float], None],
          dead: Callable[[Connection, float], None]) -> None:
    """Until `conn` closes: `probe(conn, deadline)` once it has been quiet for PROBE_AFTER of
    `limit` (one probe at a time), `dead(conn, silence)` once quiet for all of `limit`.
    `conn.last_heard` is kept by the reader."""
    probe_after = limit * PROBE_AFTER
    while not conn.closed.is_set():
        silent = time.monotonic() - conn.last_heard
        if silent >= limit:
            dead(conn, silent)
            return
        if silent >= probe_after:
            if not conn.probing:
                conn.probing = True
                probe(conn, time.monotonic() + limit - silent)
            wake = limit - silent
        else:
            wake = probe_after - silent
        conn.closed.wait(wake)
