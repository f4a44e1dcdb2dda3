"""Keep-alive HTTP/1.1 connections to receivers, a few per origin (http.client).

Plain http.client costs about 90 us of client CPU per request here, urllib3 2 about
270 us and requests about 1 ms (8 keep-alive connections to a local receiver, measured
the way bench/callbacks.py does); delivery CPU is what bounds callbacks/s. So the daemon
keeps its own small pools: per origin at most `per_origin` idle connections (LIFO: the
warmest first), and at most MAX_ORIGINS origins (the least recently used one is closed
first).

A pooled connection the server closed while it was idle is found before reuse (its socket
is readable) and dropped; if a reused connection still fails before any answer arrives,
the request is made once more on a new connection (what browsers and urllib3 do: the
request most likely never reached the application).
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
from collections import OrderedDict, deque
from urllib.parse import SplitResult

MAX_ORIGINS = 256

Connection = http.client.HTTPConnection
STALE_ERRORS = (http.client.RemoteDisconnected, http.client.BadStatusLine,
                ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class Connections:
    def __init__(self, per_origin: int, tls: ssl.SSLContext) -> None:
        self._per_origin = per_origin
        self._tls = tls
        self._idle: OrderedDict[tuple[str, str, int], deque[Connection]] = OrderedDict()

    def request(self, parts: SplitResult, method: str, body: bytes | None,
                headers: dict[str, str], timeout: float) -> tuple[int, str | None]:
        """(status, Retry-After header) of one request; raises OSError or
        http.client.HTTPException when there was no answer."""
        origin = (parts.scheme, parts.hostname or "", parts.port or _default_port(parts))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn, reused = self._checkout(origin, timeout)
        try:
            return self._exchange(origin, conn, method, target, body, headers)
        except STALE_ERRORS:
            if not reused:
                raise
        return self._exchange(origin, self._new(origin, timeout), method, target, body,
                              headers)

    def _exchange(self, origin: tuple[str, str, int], conn: Connection, method: str,
                  target: str, body: bytes | None,
                  headers: dict[str, str]) -> tuple[int, str | None]:
        try:
            conn.request(method, target, body, headers)
            resp = conn.getresponse()
            reusable = _discard_body(resp) and not resp.will_close
        except BaseException:
            conn.close()
            raise
        if reusable:
            self._checkin(origin, conn)
        else:
            conn.close()
        return resp.status, resp.getheader("Retry-After")

    def _checkout(self, origin: tuple[str, str, int],
                  timeout: float) -> tuple[Connection, bool]:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.sock is not None and not _readable(conn.sock):
                conn.sock.settimeout(timeout)
                return conn, True
            conn.close()  # closed by the server while idle (or it sent something unasked)
        return self._new(origin, timeout), False

    def _new(self, origin: tuple[str, str, int], timeout: float) -> Connection:
        scheme, host, port = origin
        conn: Connection
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _checkin(self, origin: tuple[str, str, int], conn: Connection) -> None:
        idle = self._idle.get(origin)
        if idle is None:
            idle = self._idle[origin] = deque()
            while len(self._idle) > MAX_ORIGINS:
                _, evicted = self._idle.popitem(last=False)
                for old in evicted:
                    old.close()
        self._idle.move_to_end(origin)
        if len(idle) < self._per_origin:
            idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def _default_port(parts: SplitResult) -> int:
    return 443 if parts.scheme == "https" else 80


def _readable(sock: socket.socket) -> bool:
    """An idle keep-alive socket is readable only when the server closed it (or broke
    the protocol): either way it must not be reused."""
    try:
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


MAX_RESPONSE_BODY = 64 * 1024


def _discard_body(resp: http.client.HTTPResponse) -> bool:
    """Read and drop the answer's body; False (do not reuse the connection) when it is
    longer than MAX_RESPONSE_BODY."""
    if resp.length is not None and resp.length > MAX_RESPONSE_BODY:
        return False
    seen = 0
    while chunk := resp.read(16384):
        seen += len(chunk)
        if seen > MAX_RESPONSE_BODY:
            return False
    return True
