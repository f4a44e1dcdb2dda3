"""Operations endpoints: GET /metrics (Prometheus), /healthz (alive), /readyz (ready to work).

/metrics goes through prometheus-client's own exposition: the OpenMetrics format when the
scraper asks for it (`Accept: application/openmetrics-text`), the text format otherwise.
/readyz is 200 only when the store is writable and every configured node is connected; its
JSON body says which part is not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

OPS_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


@dataclass(frozen=True)
class Readiness:
    """What /readyz reports: the store and each configured node."""

    store_writable: bool
    nodes: Mapping[str, bool]  # the nodes this daemon owns: connected or not
    # several daemons on PostgreSQL: the nodes other daemons own (each node then says
    # whether this daemon owns it)
    elsewhere: tuple[str, ...] | None = None

    @property
    def ready(self) -> bool:
        return (self.store_writable and bool(self.nodes or self.elsewhere)
                and all(self.nodes.values()))

    def document(self) -> dict[str, Any]:
        if self.elsewhere is None:
            nodes = {name: {"connected": up} for name, up in self.nodes.items()}
        else:
            nodes = {name: {"connected": up, "owned": True} for name, up in self.nodes.items()}
            nodes.update({n: {"connected": False, "owned": False} for n in self.elsewhere})
        return {"ready": self.ready, "store": {"writable": self.store_writable},
                "nodes": nodes}


def ops_app(registry: CollectorRegistry, readiness: Callable[[], Readiness]) -> WsgiApp:
    """A WSGI app for the three operations paths; anything else is 404."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path not in OPS_PATHS:
            return _reply(start_response, "404 Not Found", {"error": "not found"})
        if method not in ("GET", "HEAD"):
            return _reply(start_response, "405 Method Not Allowed", {"error": "GET only"},
                          [("Allow", "GET, HEAD")])
        if path == "/metrics":
            return _metrics(registry, environ, start_response)
        if path == "/healthz":
            return _reply(start_response, "200 OK", {"status": "ok"})
        state = readiness()
        status = "200 OK" if state.ready else "503 Service Unavailable"
        return _reply(start_response, status, state.document())

    return app


def _metrics(registry: CollectorRegistry, environ: dict[str, Any],
             start_response: StartResponse) -> list[bytes]:
    encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
    body = encoder(registry)
    start_response("200 OK", [("Content-Type", content_type),
                              ("Content-Length", str(len(body))),
                              ("Cache-Control", "no-store")])
    return [body]


def _reply(start_response: StartResponse, status: str, doc: dict[str, Any],
           headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store"), *(headers or [])])
    return [body]
