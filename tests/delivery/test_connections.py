"""Keep-alive connections and what the wire can do wrong: stale, broken, huge, TLS."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gevent.pywsgi import WSGIServer
from gevent.server import StreamServer

from .conftest import Harness, HarnessFactory, Scripted

Receivers = Callable[..., Scripted]


@dataclass
class Ports(Scripted):
    """Remembers the client port of every request (one port = one connection)."""

    body: bytes = b""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.ports: list[str] = []

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.ports.append(environ["REMOTE_PORT"])
        if not self.body:
            return super()._app(environ, start_response)
        self.received.append(environ)  # type: ignore[arg-type]
        self._poke()
        start_response("200 OK", [("Content-Length", str(len(self.body)))])
        return [self.body]


def test_one_connection_carries_many_callbacks(harness: Harness) -> None:
    r = Ports().start()
    try:
        for i in range(10):
            harness.send(r.url(), key="RE1", body=f"n={i}")  # one key: one after the other
        r.wait(10)
        assert len(set(r.ports)) == 1
    finally:
        r.stop()


def test_a_huge_answer_is_not_read_to_its_end(harness: Harness) -> None:
    r = Ports(body=b"x" * 1_000_000).start()
    try:
        harness.send(r.url(), key="RE1")
        harness.send(r.url(), key="RE1")
        r.wait(2)
        harness.wait_for(lambda: harness.count("delivered") == 2)
        assert len(set(r.ports)) == 2  # the first connection was dropped, not drained
    finally:
        r.stop()


@pytest.fixture
def raw_server() -> Iterator[Callable[[bytes], str]]:
    """A TCP server that reads a request and answers `reply` bytes, then closes."""
    servers: list[StreamServer] = []

    def make(reply: bytes) -> str:
        def handle(sock: Any, _addr: Any) -> None:
            sock.recv(65536)
            if reply:
                sock.sendall(reply)
            sock.close()

        server = StreamServer(("127.0.0.1", 0), handle)
        server.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/cb"

    yield make
    for server in servers:
        server.stop()


def test_a_connection_the_receiver_closed_after_answering_is_not_a_failed_attempt(
        harness: Harness, raw_server: Callable[[bytes], str]) -> None:
    """The answer does not say `Connection: close`, but the server closes anyway: the
    pooled connection is found closed before reuse, or fails before any answer and the
    request is made again on a new one. Either way no attempt failed."""
    url = raw_server(b"HTTP/1.1 204 No Content\r\n\r\n")
    for i in range(5):
        harness.send(url, key="RE1", body=f"n={i}")
    harness.wait_for(lambda: harness.count("delivered") == 5)
    assert [res for _, res in harness.results] == ["delivered"] * 5


@pytest.mark.parametrize("reply, error", [
    (b"", "RemoteDisconnected: closed without an answer"),
    (b"SSH-2.0-OpenSSH_9.6\r\n", "BadStatusLine: the answer was not HTTP"),
])
def test_broken_answers_are_retried(harness_factory: HarnessFactory,
                                    raw_server: Callable[[bytes], str], reply: bytes,
                                    error: str) -> None:
    h = harness_factory(max_age=0.2)
    h.send(raw_server(reply), key="RE1")
    h.wait_for(lambda: h.count("dead") == 1)
    assert h.count("retry") >= 1
    [dead] = h.outbox.dead()
    assert dead.last_error is not None and dead.last_error.startswith(error + " (expired")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (cert file, key file)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    where = tmp_path_factory.mktemp("tls")
    cert, key = str(where / "cert.pem"), str(where / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_receiver(certificate: tuple[str, str]) -> Iterator[Scripted]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    r = Scripted()
    r._server = WSGIServer(("127.0.0.1", 0), r._app, log=None, error_log=None,
                           ssl_context=context)
    r._server.start()
    r.port = r._server.server_port
    yield r
    r.stop()


def test_an_untrusted_certificate_is_refused_and_retried(
        harness_factory: HarnessFactory, tls_receiver: Scripted) -> None:
    h = harness_factory(max_age=0.2)
    h.send(f"https://127.0.0.1:{tls_receiver.port}/cb", key="RE1")
    h.wait_for(lambda: h.count("dead") == 1)
    assert tls_receiver.received == []
    [dead] = h.outbox.dead()
    assert "CERTIFICATE_VERIFY_FAILED" in (dead.last_error or "")


def test_a_certificate_trusted_through_ssl_cert_file_is_delivered_to(
        harness_factory: HarnessFactory, tls_receiver: Scripted,
        certificate: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    h = harness_factory()
    h.send(f"https://127.0.0.1:{tls_receiver.port}/cb?x=1", key="RE1", body="a=1")
    [got] = tls_receiver.wait(1)
    assert (got.method, got.path, got.query, got.form) == ("POST", "/cb", "x=1", {"a": "1"})
