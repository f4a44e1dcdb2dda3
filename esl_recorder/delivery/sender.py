"""Sends one OutboundRequest over keep-alive connections (urllib3): one hard deadline per
attempt, the fallback URL if any.

urllib3 is requests' own transport, used directly: it keeps the pools (at most
MAX_ORIGINS origins, the least recently used one closed first; per origin up to
`per_host` idle connections, as many as the outbox's lanes let run at once; never
blocking: a fallback URL, outside its lane, may open one more, not kept), keep-alive,
and TLS. A valid request target goes out byte for byte (signatures cover it); characters
a URI may not hold are percent-encoded.

A pooled connection the receiver closed while it was idle is noticed before reuse and
replaced. One that fails before any answer arrives (the receiver closed it as the request
went out) is tried once more on a new connection (RETRIES: one read retry, for every
method: a callback is delivered at least once anyway); nothing else is retried here, the
outbox's backoff does that.

Where it connects is checked (targets.py): the pools' connections resolve the host
themselves and connect only to addresses the TargetPolicy allows, right before
connecting; a refused target fails the attempt for good (the outbox marks it dead).

The deadline (the request's timeout, else delivery.timeout) covers connecting, TLS,
sending and reading the answer: a gevent.Timeout around the whole attempt, with the same
limit given to urllib3 for its sockets. Redirects are not followed. The answer's body is
read and dropped up to MAX_RESPONSE_BODY; a longer one is not read: its connection is
closed instead. TLS is verified (hostname and chain) against certifi's bundle, or the
file named by $SSL_CERT_FILE.

urllib3 puts request targets (path and query, where receivers put tokens) in its log
lines (DEBUG, and WARNING for a retry or an answer's bad headers): its loggers are kept
to ERROR. The outbox logs every attempt itself, with safe_url().
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import ssl
from typing import Any

import certifi
import gevent
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import connection as urllib3_connection

from .policy import Attempt, Verdict, parse_retry_after
from .request import OutboundRequest, wire_form
from .signing import SendTimeSigner
from .targets import TargetPolicy, TargetRefused

USER_AGENT = "esl_recorder-callbacks/1"
IDEMPOTENCY_KEY = "Idempotency-Key"  # one value per callback, the same on every attempt
MAX_ORIGINS = 256  # keep-alive pools kept
MAX_RESPONSE_BODY = 64 * 1024
READ_CHUNK = 16 * 1024
RETRIES = urllib3.Retry(total=1, connect=0, read=1, redirect=0, status=0, other=0,
                        allowed_methods=None, respect_retry_after_header=False,
                        raise_on_redirect=False, raise_on_status=False)

logging.getLogger("urllib3").setLevel(logging.ERROR)


class Sender:
    def __init__(self, per_host: int, timeout: float, targets: TargetPolicy,
                 signer: SendTimeSigner | None = None) -> None:
        self._timeout = timeout
        self._signer = signer
        tls = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE")
                                         or certifi.where())
        self._pools = urllib3.PoolManager(num_pools=MAX_ORIGINS, maxsize=per_host,
                                          block=False, retries=RETRIES,
                                          cert_reqs="CERT_REQUIRED", ssl_context=tls)
        self._pools.pool_classes_by_scheme = guarded_pools(targets)

    def send(self, req: OutboundRequest, idempotency_key: str = "") -> Attempt:
        """One attempt: the URL, then the fallback URL if the first failed and may work
        later. Never raises for network trouble; the Attempt says what happened.
        `idempotency_key`, if given, goes out as the Idempotency-Key header."""
        timeout = req.timeout or self._timeout
        extra = {IDEMPOTENCY_KEY: idempotency_key} if idempotency_key else {}
        attempt = self._once(req.url, req, timeout, extra)
        if req.fallback_url and attempt.verdict is Verdict.RETRY:
            attempt = self._once(req.fallback_url, req, timeout, extra)
        return attempt

    def close(self) -> None:
        self._pools.clear()

    def _once(self, url: str, req: OutboundRequest, timeout: float,
              extra: dict[str, str]) -> Attempt:
        wire_url, headers = wire_form(url, {**extra, **req.headers})
        if req.signer and self._signer is not None:
            headers = {**headers, **self._signer.headers(req.signer, req.body)}
        deadline = gevent.Timeout(timeout)
        deadline.start()
        try:
            resp = self._pools.urlopen(
                req.method, wire_url, body=req.body.encode() if req.body else None,
                headers={"User-Agent": USER_AGENT, **headers}, redirect=False,
                preload_content=False, timeout=urllib3.Timeout(total=timeout))
            _discard_body(resp)
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            return Attempt(None, f"timeout after {timeout:g}s")
        except TargetRefused as exc:
            return Attempt(None, f"target refused: {exc}", unreachable=True)
        except (OSError, HTTPError, http.client.HTTPException) as exc:
            if _timed_out(exc):
                return Attempt(None, f"timeout after {timeout:g}s")
            return Attempt(None, describe(exc))
        finally:
            deadline.close()
        retry_after = resp.headers.get("Retry-After") if resp.status in (429, 503) else None
        return Attempt(resp.status, retry_after=parse_retry_after(retry_after))


def guarded_pools(targets: TargetPolicy) -> dict[str, type[HTTPConnectionPool]]:
    """Pool classes whose connections connect only where `targets` allows."""

    def connect(conn: Any) -> socket.socket:
        try:
            addresses = targets.addresses(conn._dns_host, conn.port)
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        failure: OSError | None = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (str(address), conn.port), conn.timeout,
                    source_address=conn.source_address, socket_options=conn.socket_options)
            except OSError as exc:
                failure = exc
        raise NewConnectionError(
            conn, f"Failed to establish a new connection: {failure}") from failure

    http = type("GuardedHTTPConnection", (HTTPConnection,), {"_new_conn": connect})
    https = type("GuardedHTTPSConnection", (HTTPSConnection,), {"_new_conn": connect})
    return {
        "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }


def _discard_body(resp: urllib3.BaseHTTPResponse) -> None:
    """Read and drop the answer's body, then give the connection back to its pool; a body
    longer than MAX_RESPONSE_BODY is not read to its end: the connection is closed."""
    try:
        if (resp.length_remaining or 0) <= MAX_RESPONSE_BODY:
            seen = 0
            for chunk in resp.stream(READ_CHUNK, decode_content=False):
                seen += len(chunk)
                if seen > MAX_RESPONSE_BODY:
                    break
            else:
                return
        resp.close()
    except BaseException:
        resp.close()
        raise
    finally:
        resp.release_conn()


def _timed_out(exc: BaseException) -> bool:
    """urllib3's own socket timeout (the same limit as the deadline) went off first."""
    reason = exc.reason if isinstance(exc, MaxRetryError) else exc
    return isinstance(reason, Urllib3Timeout) and not isinstance(reason, NewConnectionError)


def root_cause(exc: BaseException) -> BaseException:
    """The error under urllib3's wrappers (MaxRetryError, ProtocolError, NewConnectionError,
    SSLError): what the socket, TLS or http.client said."""
    for _ in range(8):
        if isinstance(exc, MaxRetryError) and exc.reason is not None:
            inner: BaseException | None = exc.reason
        elif isinstance(exc, ProtocolError) and len(exc.args) > 1 \
                and isinstance(exc.args[1], BaseException):
            inner = exc.args[1]
        elif isinstance(exc, HTTPError):
            inner = exc.__cause__ or exc.__context__
            if inner is None and exc.args and isinstance(exc.args[0], BaseException):
                inner = exc.args[0]
        else:
            inner = None
        if inner is None:
            return exc
        exc = inner
    return exc


def describe(exc: BaseException) -> str:
    """A short reason without the URL (which may hold tokens): the root error's class and
    the operating system's words, e.g. 'ConnectionRefusedError: Connection refused'."""
    exc = root_cause(exc)
    name = type(exc).__name__
    if isinstance(exc, http.client.RemoteDisconnected):
        return f"{name}: closed without an answer"
    if isinstance(exc, TimeoutError):
        return f"{name}: timed out"
    if isinstance(exc, ssl.SSLError):
        return f"{name}: {exc.reason or 'TLS failure'}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{name}: {exc.strerror}"
    if isinstance(exc, http.client.HTTPException):
        return f"{name}: the answer was not HTTP"
    return name
