"""The HTTP server: gevent.pywsgi serving the dialects' werkzeug routes and the ops paths.

Each request gets: its whole body read before any view runs, up to http.max_body_bytes
whether it comes with Content-Length or chunked (larger: 413 in the dialect's shape, and the
rest is not read), the whole-request deadline and the client checks of connection.py, the
base URL of links.py, one JSON access-log line, and the http_requests /
http_request_duration metrics. Unknown paths and wrong methods under a dialect's prefix are
answered in that dialect's error shape. The server speaks TLS when http.tls_cert is set.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import ssl
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gevent.pywsgi import WSGIServer
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge, RequestTimeout
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from ..dialects.base import Dialect, Operation
from ..errors import ConfigError
from ..metrics import Metrics
from ..settings import HttpSettings
from .clientlog import ClientProblems
from .connection import ApiHandler, error_reply
from .links import PublicLinks
from .openapi import openapi_document
from .ops import OPS_PATHS, WsgiApp
from .tls import server_context

log = logging.getLogger(__name__)
access_log = logging.getLogger("esl_recorder.http.access")

StartResponse = Callable[..., Any]


class ApiApp:
    """The WSGI application: ops paths, /openapi.json, then the dialects' routes."""

    def __init__(self, dialects: Sequence[Dialect], ops: WsgiApp, settings: HttpSettings,
                 metrics: Metrics) -> None:
        self.dialects = list(dialects)
        self.url_map = Map([r for d in self.dialects for r in d.rules()],
                           strict_slashes=False, merge_slashes=False)
        self._ops = ops
        self._settings = settings
        self._metrics = metrics
        self._openapi = json.dumps(openapi_document(self.url_map)).encode()
        # Routes match on path and method alone (no host rules, no redirects): one adapter
        # serves every request instead of a bind_to_environ per request.
        self._adapter = self.url_map.bind("localhost")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in OPS_PATHS:
            return self._ops(environ, start_response)
        started = time.perf_counter()
        # populate_request=False: no environ["werkzeug.request"] pointing back at the
        # request, a cycle per request that only the garbage collector could free
        request = Request(environ, populate_request=False)
        request.max_content_length = self._settings.max_body_bytes
        refused = take_body(environ, self._settings.max_body_bytes)
        if refused is None:
            response, dialect, operation = self._dispatch(request)
        else:
            response = self._unrouted(request, refused)
            response.headers["Connection"] = "close"
            dialect, operation = self._owner_name(request.path), "refused"
        response.headers.setdefault("Cache-Control", "no-store")
        self._observe(request, response, dialect, operation, time.perf_counter() - started)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> tuple[Response, str, str]:
        if request.path == "/openapi.json":
            return Response(self._openapi, content_type="application/json"), "-", "openapi"
        try:
            op, args = self._adapter.match(request.path, request.method)
        except HTTPException as exc:
            return self._unrouted(request, exc), self._owner_name(request.path), "unrouted"
        assert isinstance(op, Operation)
        return op.dialect.run(op, request, args), op.dialect.name, op.name

    def _unrouted(self, request: Request, exc: HTTPException) -> Response:
        dialect = self._owner(request.path)
        if dialect is not None:
            response = dialect.failure(exc)
            if exc.code == 405:
                response.headers["Allow"] = ", ".join(
                    getattr(exc, "valid_methods", None) or [])
            return response
        body = json.dumps({"error": exc.name, "status": exc.code})
        return Response(body, status=exc.code, content_type="application/json")

    def _owner(self, path: str) -> Dialect | None:
        return next((d for d in self.dialects if d.owns(path)), None)

    def _owner_name(self, path: str) -> str:
        owner = self._owner(path)
        return owner.name if owner else "-"

    def _observe(self, request: Request, response: Response, dialect: str, operation: str,
                 seconds: float) -> None:
        status = response.status_code
        self._metrics.http_requests.labels(dialect, operation, status_class(status)).inc()
        self._metrics.http_request_duration.labels(dialect).observe(seconds)
        if self._settings.access_log:
            access_log.info(json.dumps({
                "method": request.method, "path": request.path, "status": status,
                "dialect": dialect, "operation": operation,
                "duration_ms": round(seconds * 1000, 2),
                "bytes": response.content_length, "remote": request.remote_addr,
            }, separators=(",", ":")))


def status_class(status: int) -> str:
    """`404` -> `4xx`: the http_requests label (five values, whatever codes a dialect uses)."""
    return f"{status // 100}xx"


def take_body(environ: dict[str, Any], limit: int) -> HTTPException | None:
    """Read the request's body into memory (what the views read), or say why not: over
    `limit` (413), cut short or malformed (400), too slow (408). A refused body's rest is
    left unread: the connection closes after the answer."""
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH")
    chunked = environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
    if stream is None or not (length or chunked):
        return None
    try:
        expected = int(length) if length else limit + 1
        if expected > limit and not chunked:
            raise RequestEntityTooLarge(f"the request body is larger than {limit} bytes")
        body = stream.read(expected)
        if len(body) > limit:
            raise RequestEntityTooLarge(f"the request body is larger than {limit} bytes")
    except HTTPException as exc:
        return _abandon(stream, exc)
    except OSError as exc:  # pywsgi's malformed chunks and early ends are OSErrors too
        if isinstance(exc, TimeoutError):
            return _abandon(stream, RequestTimeout("the request body did not arrive within "
                                                   "http.request_timeout"))
        return _abandon(stream, BadRequest(f"the request body could not be read: {exc}"[:200]))
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return None


def _abandon(stream: Any, exc: HTTPException) -> HTTPException:
    abandon = getattr(stream, "abandon", None)
    if abandon is not None:
        abandon()
    return exc


class ApiServer(WSGIServer):
    """pywsgi's server with TLS when http.tls_cert/tls_key are set (`reload_tls` re-reads
    them: call it on SIGHUP), a cap on one client's open connections, and the rate-limited
    log of what clients get wrong."""

    handler_class = ApiHandler

    def __init__(self, app: WsgiApp, settings: HttpSettings, source: str = "settings") -> None:
        self.settings = settings
        self.request_timeout = settings.request_timeout
        self.source = source
        self.tls_context: ssl.SSLContext | None = None
        if settings.tls_cert:
            self.tls_context = server_context(settings.tls_cert, settings.tls_key, source)
        self.problems = ClientProblems()
        self.links = PublicLinks(app, settings)
        self._connections: Counter[str] = Counter()
        super().__init__((settings.host, settings.port), self.links, log=None, error_log=log)

    def reload_tls(self) -> bool:
        """Read http.tls_cert and http.tls_key again; new connections get the new pair.
        If they cannot be used, the pair in use stays and one ERROR line says why.
        Returns whether a new pair is in use (False also when serving plain HTTP)."""
        if self.tls_context is None:
            log.info("TLS reload asked for, but http.tls_cert is not set: serving plain HTTP")
            return False
        try:
            self.tls_context = server_context(self.settings.tls_cert, self.settings.tls_key,
                                              self.source)
        except ConfigError as exc:
            log.error("TLS not reloaded, the certificate in use stays: %s", exc)
            return False
        log.info("TLS certificate reloaded from %s", self.settings.tls_cert)
        return True

    def handle(self, sock: socket.socket, address: Any) -> None:
        client = str(address[0]) if isinstance(address, tuple) else str(address)
        limited = not self.links.trusts(client)
        if limited and self._connections[client] >= self.settings.max_connections_per_client:
            self.problems.report(client, "connections", "more than "
                                 f"{self.settings.max_connections_per_client} open connections "
                                 "(http.max_connections_per_client): connection refused",
                                 logging.WARNING)
            self._refuse(sock)
            return
        self._connections[client] += 1
        try:
            super().handle(sock, address)
        finally:
            self._connections[client] -= 1
            if not self._connections[client]:
                del self._connections[client]

    def _refuse(self, sock: socket.socket) -> None:
        if self.tls_context is not None:
            return  # no words without a handshake: the server closes the socket
        sock.settimeout(1.0)
        with contextlib.suppress(OSError):
            sock.sendall(error_reply(429, "Too Many Requests",
                                     "too many open connections from your address"))
            sock.shutdown(socket.SHUT_WR)
            sock.recv(65536)  # the request: closing with it unread would reset the answer


def make_server(app: WsgiApp, settings: HttpSettings, source: str = "settings") -> ApiServer:
    """The API's server; ConfigError (naming the setting) if the TLS files cannot be used."""
    return ApiServer(app, settings, source)
