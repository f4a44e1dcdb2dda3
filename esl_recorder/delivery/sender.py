"""Sends one OutboundRequest over keep-alive connections: urllib3, one pool per origin.

urllib3 is used directly (it ships with requests): per request it costs about half of
what a requests.Session adds, which is most of the daemon's CPU per callback. Each
attempt has one hard deadline (the request's timeout, else delivery.timeout) covering
connect, TLS, sending and reading the answer. Redirects are not followed. At most
64 KiB of a response body is read (and thrown away); a longer one closes the connection.
TLS is verified against certifi's bundle, or the file named by $SSL_CERT_FILE.
"""

from __future__ import annotations

import os

import certifi
import gevent
import urllib3
import urllib3.exceptions

from .policy import Attempt, Verdict, parse_retry_after
from .request import OutboundRequest, wire_form

USER_AGENT = "esl_recorder-callbacks/1"
MAX_RESPONSE_BODY = 64 * 1024
MAX_ORIGINS = 256  # keep-alive pools kept (least recently used ones are closed)


class Sender:
    def __init__(self, per_host: int, timeout: float) -> None:
        self._timeout = timeout
        self._pools = urllib3.PoolManager(
            num_pools=MAX_ORIGINS, maxsize=per_host, block=False, retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where())

    def send(self, req: OutboundRequest) -> Attempt:
        """One attempt: the URL, then the fallback URL if the first failed and may work
        later. Never raises for network trouble; the Attempt says what happened."""
        timeout = req.timeout or self._timeout
        attempt = self._once(req.url, req, timeout)
        if req.fallback_url and attempt.verdict is Verdict.RETRY:
            attempt = self._once(req.fallback_url, req, timeout)
        return attempt

    def close(self) -> None:
        self._pools.clear()

    def _once(self, url: str, req: OutboundRequest, timeout: float) -> Attempt:
        wire_url, headers = wire_form(url, req.headers)
        deadline = gevent.Timeout(timeout)
        deadline.start()
        try:
            resp = self._pools.request(
                req.method, wire_url, body=req.body.encode() if req.body else None,
                headers={"User-Agent": USER_AGENT, **headers}, redirect=False,
                retries=False, preload_content=False,
                timeout=urllib3.Timeout(total=timeout + 1))
            _discard_body(resp)
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            return Attempt(None, f"timeout after {timeout:g}s")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return Attempt(None, describe(exc))
        finally:
            deadline.close()
        retry_after = (parse_retry_after(resp.headers.get("Retry-After"))
                       if resp.status in (429, 503) else None)
        return Attempt(resp.status, retry_after=retry_after)


def _discard_body(resp: urllib3.BaseHTTPResponse) -> None:
    """Read the answer so the connection can be reused; drop it if the body is too big."""
    seen = 0
    try:
        for chunk in resp.stream(16384, decode_content=False):
            seen += len(chunk)
            if seen > MAX_RESPONSE_BODY:
                resp.close()
                return
    except BaseException:
        resp.close()
        raise
    resp.release_conn()


def describe(exc: BaseException) -> str:
    """A short reason without the URL (which may hold tokens): the exception's class and
    the operating system's words for the root cause, e.g. 'NewConnectionError: Connection
    refused'."""
    root: BaseException = exc
    for _ in range(8):
        nxt = root.__cause__ or root.__context__
        if nxt is None:
            break
        root = nxt
    name = type(exc).__name__
    if isinstance(root, OSError) and root.strerror:
        return f"{name}: {root.strerror}"
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return f"{name}: connection dropped"
    return name
