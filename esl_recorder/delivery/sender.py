"""Sends one OutboundRequest: one hard deadline per attempt, the fallback URL if any.

The deadline (the request's timeout, else delivery.timeout) covers connecting, TLS,
sending and reading the answer. Redirects are not followed. TLS is verified (hostname
and chain) against certifi's bundle, or the file named by $SSL_CERT_FILE.
"""

from __future__ import annotations

import http.client
import os
import ssl
from urllib.parse import urlsplit

import certifi
import gevent

from .connections import Connections
from .policy import Attempt, Verdict, parse_retry_after
from .request import OutboundRequest, wire_form

USER_AGENT = "esl_recorder-callbacks/1"


class Sender:
    def __init__(self, per_host: int, timeout: float) -> None:
        self._timeout = timeout
        tls = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE")
                                         or certifi.where())
        self._connections = Connections(per_host, tls)

    def send(self, req: OutboundRequest) -> Attempt:
        """One attempt: the URL, then the fallback URL if the first failed and may work
        later. Never raises for network trouble; the Attempt says what happened."""
        timeout = req.timeout or self._timeout
        attempt = self._once(req.url, req, timeout)
        if req.fallback_url and attempt.verdict is Verdict.RETRY:
            attempt = self._once(req.fallback_url, req, timeout)
        return attempt

    def close(self) -> None:
        self._connections.close()

    def _once(self, url: str, req: OutboundRequest, timeout: float) -> Attempt:
        wire_url, headers = wire_form(url, req.headers)
        deadline = gevent.Timeout(timeout)
        deadline.start()
        try:
            status, retry_after = self._connections.request(
                urlsplit(wire_url), req.method, req.body.encode() if req.body else None,
                {"User-Agent": USER_AGENT, **headers}, timeout)
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            return Attempt(None, f"timeout after {timeout:g}s")
        except (OSError, http.client.HTTPException) as exc:
            return Attempt(None, describe(exc))
        finally:
            deadline.close()
        wait = parse_retry_after(retry_after) if status in (429, 503) else None
        return Attempt(status, retry_after=wait)


def describe(exc: BaseException) -> str:
    """A short reason without the URL (which may hold tokens): the exception's class and
    the operating system's words, e.g. 'ConnectionRefusedError: Connection refused'."""
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
