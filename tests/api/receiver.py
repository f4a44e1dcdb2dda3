"""A real local HTTP receiver for callbacks: records every request; can be taken down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import gevent
import gevent.event
from gevent.pywsgi import WSGIServer


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    url: str  # as the sender addressed it (scheme, host, port, path, query)

    @property
    def form(self) -> dict[str, str]:
        """POST form fields, or the query parameters of a GET."""
        text = self.body.decode() if self.method == "POST" else self.query
        return dict(parse_qsl(text, keep_blank_values=True))


@dataclass
class Receiver:
    """`status` is what it answers (set 503 to refuse); `stop()`/`start()` take it down and
    bring it back on the same port."""

    status: int = 200
    received: list[Received] = field(default_factory=list)
    port: int = 0
    delay: float = 0.0  # seconds to wait before answering (a slow receiver)

    def __post_init__(self) -> None:
        self._changed = gevent.event.Event()
        self._server: WSGIServer | None = None

    def start(self) -> Receiver:
        self._server = WSGIServer(("127.0.0.1", self.port), self._app, log=None)
        self._server.start()
        self.port = self._server.server_port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=1)
            self._server = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/cb") -> str:
        return self.base + path

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        query = environ.get("QUERY_STRING", "")
        url = f"http://{environ['HTTP_HOST']}{environ['PATH_INFO']}" + (f"?{query}" if query
                                                                         else "")
        if self.delay:
            gevent.sleep(self.delay)  # simulating a slow peer, not waiting for a result
        if self.status < 300:
            self.received.append(Received(environ["REQUEST_METHOD"], environ["PATH_INFO"],
                                          query, headers, body, url))
            self._poke()
        start_response(f"{self.status} X", [("Content-Length", "0")])
        return [b""]

    def _poke(self) -> None:
        self._changed.set()
        self._changed = gevent.event.Event()

    def wait(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until `count` requests were accepted; returns them all."""
        with gevent.Timeout(timeout, AssertionError(
                f"receiver got {len(self.received)} requests, expected {count}")):
            while len(self.received) < count:
                self._changed.wait(0.05)
        return self.received
