"""The HTTP server itself: ops paths, OpenAPI, unknown routes, access log."""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Callable

import gevent
import pytest
from gevent.pywsgi import WSGIServer

from esl_recorder.http.server import TimeoutHandler

from .conftest import Api


def test_ops_paths_still_served(api: Api) -> None:
    assert api.request("GET", "/healthz").json() == {"status": "ok"}
    assert "esl_recorder_http_requests_total" in api.request("GET", "/metrics").text


def test_openapi_document_lists_every_routed_path_and_method(api: Api) -> None:
    doc = api.request("GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for rule in api.daemon.app.api.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        assert path in doc["paths"], path
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert doc["paths"][path][method.lower()]["security"], (path, method)


def test_unknown_path_outside_dialects_is_json_404(api: Api) -> None:
    r = api.request("GET", "/nope")
    assert r.status_code == 404
    assert r.json()["status"] == 404


def test_access_log_is_one_json_line(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="esl_recorder.http.access"):
        api.request("GET", "/openapi.json")
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "esl_recorder.http.access"]
    assert lines and lines[-1]["path"] == "/openapi.json" and lines[-1]["status"] == 200


@pytest.mark.skipif(not hasattr(socket, "TCP_CORK"), reason="TCP_CORK is Linux's")
def test_a_response_head_and_body_leave_corked_and_the_socket_is_uncorked_after() -> None:
    """pywsgi sends a response's head and body in two writes: corked, they leave as one
    segment (one wake-up of the client, not two)."""
    seen: list[tuple[str, int]] = []

    def cork_state(sock: socket.socket) -> int:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK)

    class Spy(TimeoutHandler):
        def _sendall(self, data: bytes) -> None:
            seen.append(("send", cork_state(self.socket)))
            super()._sendall(data)

        def handle_one_response(self) -> None:
            super().handle_one_response()
            seen.append(("after", cork_state(self.socket)))

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"hello"]

    server = WSGIServer(("127.0.0.1", 0), app, log=None, handler_class=Spy)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = b""
            while not reply.endswith(b"hello"):
                chunk = c.recv(4096)
                assert chunk, reply
                reply += chunk
        with gevent.Timeout(5, AssertionError(f"the response never finished: {seen}")):
            while not seen or seen[-1][0] != "after":
                gevent.sleep(0.01)
    finally:
        server.stop()
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert seen == [("send", 1), ("send", 1), ("after", 0)]
