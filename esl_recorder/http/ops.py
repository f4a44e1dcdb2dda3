"""Operations endpoints: GET /metrics (Prometheus), /healthz (alive), /readyz (nodes up)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

OPS_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


def ops_app(registry: CollectorRegistry, readiness: Callable[[], dict[str, bool]]) -> WsgiApp:
    """A WSGI app for the three operations paths; anything else is 404."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _reply(start_response, "405 Method Not Allowed", {"error": "GET only"})
        if path == "/metrics":
            body = generate_latest(registry)
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST),
                                      ("Content-Length", str(len(body)))])
            return [body]
        if path == "/healthz":
            return _reply(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz":
            nodes = readiness()
            ready = bool(nodes) and all(nodes.values())
            status = "200 OK" if ready else "503 Service Unavailable"
            return _reply(start_response, status, {"ready": ready, "nodes": nodes})
        return _reply(start_response, "404 Not Found", {"error": "not found"})

    return app


def _reply(start_response: StartResponse, status: str, doc: dict[str, Any]) -> list[bytes]:
    body = json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]
