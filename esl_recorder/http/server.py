"""The HTTP server: gevent.pywsgi serving the dialects' werkzeug routes and the ops paths.

Each request gets: a body size limit (http.max_body_bytes, 413 in the dialect's shape), a
socket timeout while it is read (http.request_timeout), one JSON access-log line, and the
http_requests / http_request_duration metrics. Unknown paths and wrong methods under a
dialect's prefix are answered in that dialect's error shape.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gevent.pywsgi import WSGIHandler, WSGIServer
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from ..dialects.base import Dialect, Operation
from ..metrics import Metrics
from ..settings import HttpSettings
from .openapi import openapi_document
from .ops import OPS_PATHS, WsgiApp

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
        response, dialect, operation = self._dispatch(request)
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
        self._metrics.http_requests.labels(dialect, operation, str(status)).inc()
        self._metrics.http_request_duration.labels(dialect).observe(seconds)
        if self._settings.access_log:
            access_log.info(json.dumps({
                "method": request.method, "path": request.path, "status": status,
                "dialect": dialect, "operation": operation,
                "duration_ms": round(seconds * 1000, 2),
                "bytes": response.content_length, "remote": request.remote_addr,
            }, separators=(",", ":")))


class TimeoutHandler(WSGIHandler):
    """pywsgi's handler with a socket timeout (a client that stalls is disconnected) and
    TCP_NODELAY (no response waits for the client's acknowledgement of the previous
    segment)."""

    timeout: float = 30.0

    def handle(self) -> None:
        self.socket.settimeout(self.timeout)
        with contextlib.suppress(OSError):  # not a TCP socket
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()


def make_server(app: WsgiApp, settings: HttpSettings) -> WSGIServer:
    handler = type("Handler", (TimeoutHandler,), {"timeout": settings.request_timeout})
    return WSGIServer((settings.host, settings.port), app, log=None, error_log=log,
                      handler_class=handler)
