"""Keep-alive connections and what the wire can do wrong: stale, broken, huge, slow, TLS;
and what goes on the wire (the request target) and into the logs (no secrets)."""

from __future__ import annotations

import itertools
import logging
import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent.event
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


def read_request(reader: Any) -> bytes | None:
    """One HTTP/1.1 request from a socket's file: its request line (headers and body read
    and dropped), or None when the client closed the connection."""
    line = reader.readline()
    if not line:
        return None
    length = 0
    while (header := reader.readline()) not in (b"\r\n", b""):
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    reader.read(length)
    return bytes(line.rstrip())


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[Any, int], None]], str]]:
    """Starts a TCP server calling handle(socket, connection number); gives its URL."""
    servers: list[StreamServer] = []

    def make(handle: Callable[[Any, int], None]) -> str:
        numbers = itertools.count()
        server = StreamServer(("127.0.0.1", 0), lambda sock, _: handle(sock, next(numbers)))
        server.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield make
    for server in servers:
        server.stop(timeout=1)


def test_a_pooled_connection_dropped_as_the_next_request_arrives_is_retried_at_once(
        harness: Harness, serve: Callable[[Callable[[Any, int], None]], str],
        caplog: pytest.LogCaptureFixture) -> None:
    """The receiver answers the first request on a connection (keep-alive), then closes it
    without answering when the next request arrives on it (its idle timer fired as the
    request went out). That request is made again on a new connection in the same
    attempt: no failed attempt. urllib3's own retry log line (it names the target, with
    its query) stays out of the logs."""
    caplog.set_level(logging.DEBUG)
    seen: list[tuple[int, bytes]] = []  # (connection number, request line)

    def handle(sock: Any, number: int) -> None:
        reader = sock.makefile("rb")
        while (request := read_request(reader)) is not None:
            seen.append((number, request))
            if sum(1 for n, _ in seen if n == number) == 2:
                break  # the second request on this connection: dropped unanswered
            sock.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        sock.close()

    url = serve(handle) + "/cb?token=t0k3n-in-query"
    harness.send(url, key="RE1", body="n=1")
    harness.send(url, key="RE1", body="n=2")
    harness.wait_for(lambda: len(harness.results) == 2)
    assert [res for _, res in harness.results] == ["delivered", "delivered"]
    line = b"POST /cb?token=t0k3n-in-query HTTP/1.1"
    assert seen == [(0, line), (0, line), (1, line)]
    assert "t0k3n" not in caplog.text


def test_the_deadline_covers_an_answer_that_trickles_in(
        harness: Harness, serve: Callable[[Callable[[Any, int], None]], str]) -> None:
    """Every read gets a byte well within the timeout, so only a deadline over the whole
    attempt ends it."""

    def handle(sock: Any, _number: int) -> None:
        read_request(sock.makefile("rb"))
        sock.sendall(b"HTTP/1.1 200 OK\r\n")
        trickle = gevent.event.Event()
        try:
            while True:
                sock.sendall(b"X-Slow: 1\r\n")
                trickle.wait(0.02)  # paces the server's bytes; nothing to wait for
        except OSError:
            sock.close()  # the sender gave up and closed the connection

    harness.send(serve(handle) + "/cb", key="RE1", timeout=0.3)
    harness.wait_for(lambda: harness.results)
    assert harness.results[0][1] == "retry"
    assert harness.store.outbox_items("pending")[0].last_error == "timeout after 0.3s"


@pytest.mark.parametrize("target, wire", [
    ("/cb;v=1/a%2Fb?x=1+2&y=a%20b&z=it's(ok)!*,$:@/?&empty=",
     "/cb;v=1/a%2Fb?x=1+2&y=a%20b&z=it's(ok)!*,$:@/?&empty="),
    ("/cb?a=x|y&b=caf\u00e9&c=%7e", "/cb?a=x%7Cy&b=caf%C3%A9&c=%7E"),
])
def test_the_request_target_goes_out_as_given_when_it_is_a_valid_uri(
        harness: Harness, serve: Callable[[Callable[[Any, int], None]], str], target: str,
        wire: str) -> None:
    """Signatures (X-Twilio-Signature) cover the URL as given: a valid one reaches the
    receiver byte for byte. Characters a URI may not hold are percent-encoded (RFC 3986,
    as requests does), escapes in upper case."""
    lines: list[bytes] = []

    def handle(sock: Any, _number: int) -> None:
        reader = sock.makefile("rb")
        while (request := read_request(reader)) is not None:
            lines.append(request)
            sock.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    harness.send(serve(handle) + target, key="RE1", method="GET")
    harness.wait_for(lambda: harness.count("delivered") == 1)
    assert lines == [f"GET {wire} HTTP/1.1".encode()]


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


def test_a_certificate_for_another_name_is_refused(
        harness_factory: HarnessFactory, tls_receiver: Scripted,
        certificate: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The chain is trusted, but the certificate names 127.0.0.1, not localhost."""
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    h = harness_factory(max_age=0.2)
    h.send(f"https://localhost:{tls_receiver.port}/cb", key="RE1")
    h.wait_for(lambda: h.count("dead") == 1)
    assert tls_receiver.received == []
    [dead] = h.outbox.dead()
    assert "CERTIFICATE_VERIFY_FAILED" in (dead.last_error or "")
