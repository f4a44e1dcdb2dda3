"""The HTTP edge holds: no input gives a 5xx, bodies over the limit are 413 however they
come, slow and greedy clients are cut off, and what clients get wrong is logged once."""

from __future__ import annotations

import json
import logging
import socket
import time

import gevent
import pytest
from api.conftest import ACME_LAML, basic

from .conftest import ApiFactory, body_of, exchange, port_of, read_all, status_of

FORM = "application/x-www-form-urlencoded"


def laml_create(uuid: str) -> str:
    return f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}/Calls/{uuid}/Recordings.json"


def head(method: str, path: str, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
             f"Authorization: {basic(*ACME_LAML)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body: bytes, size: int = 4096) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def laml_error(reply: bytes) -> dict[str, object]:
    doc = json.loads(body_of(reply))
    assert set(doc) == {"code", "message", "more_info", "status"}, doc
    return doc


def test_a_deeply_nested_json_body_is_400_not_500(make_api: ApiFactory) -> None:
    api = make_api()
    uuid = api.call()
    body = "[" * 1000 + "]" * 1000
    r = api.request("POST", laml_create(uuid), data=body, auth=ACME_LAML,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert "nested too deeply" in r.json()["message"]
    assert not [c for c in api.switch.commands if c.startswith(f"uuid_record {uuid}")]


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_recorded(
        make_api: ApiFactory) -> None:
    api = make_api(max_body_bytes=2048)
    uuid = api.call()
    body = b"RecordingChannels=dual&x=" + b"y" * 3000
    reply = exchange(port_of(api), head("POST", laml_create(uuid), f"Content-Type: {FORM}",
                                        "Transfer-Encoding: chunked") + chunked(body))
    assert status_of(reply) == 413, reply
    assert laml_error(reply)["status"] == 413
    assert not [c for c in api.switch.commands if c.startswith(f"uuid_record {uuid}")]


def test_a_chunked_body_within_the_limit_is_read_whole(make_api: ApiFactory) -> None:
    api = make_api(max_body_bytes=2048)
    uuid = api.call()
    body = b"x=" + b"y" * 1500 + b"&RecordingChannels=dual"  # the last field past 1 chunk
    reply = exchange(port_of(api), head("POST", laml_create(uuid), f"Content-Type: {FORM}",
                                        "Transfer-Encoding: chunked", "Connection: close")
                     + chunked(body, 500))
    assert status_of(reply) == 200, reply
    assert int(json.loads(body_of(reply))["channels"]) == 2


def test_a_content_length_over_the_limit_is_answered_before_the_body_is_sent(
        make_api: ApiFactory) -> None:
    api = make_api(max_body_bytes=2048)
    uuid = api.call()
    with socket.create_connection(("127.0.0.1", port_of(api)), timeout=10) as conn:
        conn.sendall(head("POST", laml_create(uuid), f"Content-Type: {FORM}",
                          "Content-Length: 100000000"))
        reply = read_all(conn)  # the server closes without waiting for 100 MB
    assert status_of(reply) == 413 and laml_error(reply)["status"] == 413


@pytest.mark.parametrize("coding", ["gzip", "gzip, chunked", "identity"])
def test_a_transfer_encoding_other_than_chunked_is_refused(make_api: ApiFactory,
                                                           coding: str) -> None:
    api = make_api()
    reply = exchange(port_of(api), head("POST", laml_create("x"), f"Content-Type: {FORM}",
                                        f"Transfer-Encoding: {coding}") + b"5\r\nx=abc\r\n")
    assert status_of(reply) == 400, reply


@pytest.mark.parametrize("body, content_type", [
    (b"\xff\xfe{\x00}", "application/json"), (b'{"a": "\xc3\x28"}', "application/json"),
    (b"RecordingChannels=%FF%FE&x=\xe9", FORM), (b"\x00" * 100, FORM),
    (b'{"RecordingChannels": "\\ud800"}', "application/json; charset=utf-16"),
])
def test_bad_encodings_are_client_errors(make_api: ApiFactory, body: bytes,
                                         content_type: str) -> None:
    api = make_api()
    uuid = api.call()
    r = api.request("POST", laml_create(uuid), data=body, auth=ACME_LAML,
                    headers={"Content-Type": content_type})
    assert r.status_code < 500, r.text


def test_a_client_sending_a_byte_at_a_time_is_cut_off_at_the_whole_request_deadline(
        make_api: ApiFactory) -> None:
    """Each byte comes well within request_timeout of the last; the request as a whole
    does not, and the server closes the connection at the deadline."""
    api = make_api(request_timeout=1.0)
    trickle = b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"z" * 40
    with socket.create_connection(("127.0.0.1", port_of(api)), timeout=10) as conn:
        started = time.monotonic()
        sent = 0
        for byte in trickle:
            try:
                conn.sendall(bytes([byte]))
            except OSError:  # reset by the server
                break
            sent += 1
            if _closed(conn):
                break
            gevent.sleep(0.15)  # the slow client's pace (the stimulus, not a wait)
        elapsed = time.monotonic() - started
    assert sent < len(trickle), "the server never cut the slow client off"
    assert elapsed < 4, elapsed


def _closed(conn: socket.socket) -> bool:
    conn.setblocking(False)
    try:
        return conn.recv(65536) is not None  # the 408, or b"" at the close
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        conn.setblocking(True)
        conn.settimeout(10)


def test_one_client_cannot_hold_more_than_its_connections(make_api: ApiFactory) -> None:
    api = make_api(max_connections_per_client=3)
    port = port_of(api)
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
    try:
        for conn in held:  # each served: the server counts it before the next
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        refused = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(refused) == 429, refused
        held.pop().close()
        with gevent.Timeout(5, AssertionError("a freed slot was never reused")):
            while status_of(exchange(port, b"GET /healthz HTTP/1.0\r\n\r\n")) != 200:
                gevent.sleep(0.02)
    finally:
        for conn in held:
            conn.close()


def test_a_request_line_of_8_kib_gets_a_clear_414(make_api: ApiFactory) -> None:
    api = make_api()
    reply = exchange(port_of(api), b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(reply) == 414
    assert "shorter than 8192 bytes" in json.loads(body_of(reply))["error"]


@pytest.mark.parametrize("request_bytes, status, words", [
    (b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(101))
     + b"\r\n", 431, "more than 100 header lines"),
    (b"GET /healthz HTTP/1.1\r\nX-Long: " + b"v" * 70000 + b"\r\n\r\n", 431,
     "header line longer"),
    (b"\x01\x02 nonsense\r\n\r\n", 400, "malformed request"),
    (b"GET /healthz HTTP/7.3\r\n\r\n", 400, "malformed request"),
    (b"POST /healthz HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400, "malformed request"),
])
def test_malformed_requests_are_answered_and_logged_once_without_traceback(
        make_api: ApiFactory, caplog: pytest.LogCaptureFixture, request_bytes: bytes,
        status: int, words: str) -> None:
    api = make_api()
    with caplog.at_level(logging.DEBUG):
        replies = [exchange(port_of(api), request_bytes) for _ in range(3)]
    assert all(status_of(r) == status for r in replies), replies[0]
    assert words in json.loads(body_of(replies[0]))["error"]
    lines = [r for r in caplog.records if words in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in caplog.records]
    assert lines[0].levelno <= logging.WARNING and lines[0].exc_info is None
    assert "<gevent" not in lines[0].getMessage() and "socket" not in lines[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
