"""One client connection: pywsgi's handler, made to hold against slow, malformed and
hostile clients.

- A whole-request deadline (http.request_timeout): the TLS handshake, request line, headers
  and body of a request, and the idle time before it, must all arrive within it, however
  the bytes are spread (a read's timeout is what is left of it, not a fresh timeout).
- On the plain-HTTP port, a TLS ClientHello is answered in words and closed; on the TLS
  port, a failed handshake is one line.
- A request pywsgi cannot parse is answered with a JSON error (400, 408, 414, 431) and one
  rate-limited line in the log; no traceback, no socket repr.
- Transfer-Encoding other than chunked is refused (400), never read as no body.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import logging
import socket
import ssl
import time
from typing import Any, Protocol

from gevent.pywsgi import MAX_REQUEST_LINE, Input, WSGIHandler

from .clientlog import ClientProblems
from .links import LOCAL_ADDRESS_KEY
from .tls import TLS_HANDSHAKE

log = logging.getLogger(__name__)

PLAIN_PORT_ANSWER = (b"This port speaks plain HTTP: use http://, or configure http.tls_cert and "
                     b"http.tls_key for https.\n")
TLS_ON_PLAIN_PORT = ("a TLS client connected to the plain-HTTP port; use http:// or configure "
                     "http.tls_cert")


def error_reply(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 response with a JSON body; the connection closes after it."""
    body = json.dumps({"error": message, "status": status}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


class Served(Protocol):
    """What a connection needs of its server (server.ApiServer)."""

    request_timeout: float
    tls_context: ssl.SSLContext | None
    problems: ClientProblems


class Deadline(io.RawIOBase):
    """The connection's reads, each allowed only what is left of the request's deadline."""

    def __init__(self, sock: socket.socket, seconds: float, ends: float | None = None) -> None:
        self._sock = sock
        self.seconds = seconds
        self.ends = time.monotonic() + seconds if ends is None else ends
        self.received = 0  # bytes of the current request read so far

    def restart(self) -> None:
        self.ends = time.monotonic() + self.seconds
        self.received = 0

    def remaining(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request deadline passed")
        return left

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self.remaining())
        try:
            n = self._sock.recv_into(buffer)
        finally:
            self._sock.settimeout(self.seconds)  # writes: one timeout per send
        self.received += n
        return n


class AbandonableInput(Input):
    """pywsgi's request body; once abandoned (refused before it was read), the rest is not
    read and discarded after the response: the connection closes instead."""

    __slots__ = ("abandoned",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.abandoned = False

    def abandon(self) -> None:
        self.abandoned = True

    def _discard(self) -> None:
        if not self.abandoned:
            super()._discard()


class ApiHandler(WSGIHandler):
    server: Served
    deadline: Deadline
    socket: Any
    rfile: Any
    wsgi_input: Any

    def handle(self) -> None:
        client = self.client_ip
        try:
            if self._open():
                super().handle()
        except Exception:  # a bug here must not take the server's greenlet down quietly
            log.exception("error serving client %s", client)
        finally:
            sock = self.__dict__.pop("socket", None)
            if sock is not None:
                sock.close()

    @property
    def client_ip(self) -> str:
        address = self.client_address
        return str(address[0]) if isinstance(address, tuple) else str(address)

    def _open(self) -> bool:
        """TLS handshake or plain-port check, within the first request's deadline."""
        seconds = self.server.request_timeout
        with_tls = self.server.tls_context
        self.rfile.close()
        with contextlib.suppress(OSError):  # no response waits for the previous one's ACK
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.deadline = Deadline(self.socket, seconds)
        try:
            self.socket.settimeout(self.deadline.remaining())
            if with_tls is not None:
                self.socket = with_tls.wrap_socket(self.socket, server_side=True,
                                                   do_handshake_on_connect=False)
                self.socket.settimeout(self.deadline.remaining())
                self.socket.do_handshake()
            elif not self._plain_http():
                return False
        except (ssl.SSLError, OSError) as exc:
            self._problem("tls" if with_tls else "timeout", _tls_problem(exc, bool(with_tls)))
            return False
        self.deadline = Deadline(self.socket, seconds, self.deadline.ends)  # the same deadline
        self.rfile = io.BufferedReader(self.deadline, 8192)
        self._local = self.socket.getsockname()[:2]
        return True

    def _plain_http(self) -> bool:
        """False (after answering in words) if the client opens with a TLS ClientHello."""
        first = self.socket.recv(1, socket.MSG_PEEK)
        if not first:
            return False
        if first[0] != TLS_HANDSHAKE:
            return True
        self._problem("tls-on-plain", TLS_ON_PLAIN_PORT, logging.WARNING)
        self.socket.sendall(error_reply(400, "Bad Request", PLAIN_PORT_ANSWER.decode().strip()))
        with contextlib.suppress(OSError):  # read the hello: closing on unread data resets
            self.socket.recv(65536)
            self.socket.shutdown(socket.SHUT_WR)
        return False

    def _problem(self, kind: str, message: str, level: int = logging.INFO) -> None:
        self.server.problems.report(self.client_ip, kind, message, level)

    # --- one request ----------------------------------------------------------------------
    def handle_one_request(self) -> Any:
        try:
            result = super().handle_one_request()
        except OSError as exc:  # the body's discard or a write timed out or failed
            self._problem("io", _io_problem(exc))
            return None
        if isinstance(result, tuple) and result[0] == "414":
            self._problem("line", f"request line of {MAX_REQUEST_LINE} bytes or more")
            return ("414", error_reply(414, "URI Too Long", f"the request line (method, path "
                                       f"and query) must be shorter than {MAX_REQUEST_LINE} "
                                       "bytes"))
        if result is None and self.deadline.received and self._deadline_passed():
            self._problem("timeout", self._timeout_message())
        return result

    def handle_one_response(self) -> None:
        super().handle_one_response()
        self.deadline.restart()  # the next request's deadline starts now

    def read_request(self, raw_requestline: str) -> bool:
        ok = bool(super().read_request(raw_requestline))
        coding = self.headers.get("transfer-encoding")
        if coding is not None and coding.strip().lower() != "chunked":
            raise ValueError("unsupported Transfer-Encoding; send "
                             "Content-Length or chunked")
        return ok

    def get_environ(self) -> dict[str, Any]:
        env: dict[str, Any] = super().get_environ()
        old = self.wsgi_input
        self.wsgi_input = AbandonableInput(old.rfile, old.content_length, socket=old.socket,
                                           chunked_input=old.chunked_input)
        if env.get("wsgi.input") is old:
            env["wsgi.input"] = self.wsgi_input
        env[LOCAL_ADDRESS_KEY] = self._local
        if self.server.tls_context is not None:
            env["wsgi.url_scheme"] = "https"
        return env

    # --- what goes wrong ------------------------------------------------------------------
    def _handle_client_error(self, ex: BaseException) -> tuple[str, bytes]:
        if isinstance(ex, OSError):
            self._problem("timeout" if self._deadline_passed() else "io", self._timeout_message()
                          if self._deadline_passed() else _io_problem(ex))
            return ("408", error_reply(408, "Request Timeout",
                                       "the request did not arrive within the time allowed"))
        if isinstance(ex, http.client.HTTPException):  # more than 100 headers, a long line
            message = ("more than 100 header lines" if "100 headers" in str(ex)
                       else "a header line longer than 65536 bytes")
            self._problem("headers", message)
            return ("431", error_reply(431, "Request Header Fields Too Large", message))
        message = str(getattr(ex, "formatted_message", None) or ex or type(ex).__name__)
        if "Line too long" in message:  # pywsgi's word for a header line over 65536 bytes
            self._problem("headers", "a header line longer than 65536 bytes")
            return ("431", error_reply(431, "Request Header Fields Too Large",
                                       "a header line longer than 65536 bytes"))
        # pywsgi's words up to the client's bytes (which may hold anything, secrets too)
        what = _printable(message.split(":", 1)[0].split(";", 1)[0])[:80]
        self._problem("malformed", f"malformed request: {what}")
        return ("400", error_reply(400, "Bad Request", f"malformed request: {what}"))

    def handle_error(self, t: type[BaseException], v: BaseException, tb: Any) -> None:
        if isinstance(v, OSError):  # the client went away, timed out or broke TLS mid-way
            self._problem("io", _io_problem(v))
            self.close_connection = True
            return
        log.error("unexpected error answering %s %s", self.command, self.path,
                  exc_info=(t, v, tb))
        self._send_error_response_if_possible(500)

    def log_error(self, msg: str, *args: Any) -> None:
        self._problem("malformed", _printable(msg.split("%", 1)[0])[:80])

    def _deadline_passed(self) -> bool:
        return time.monotonic() >= self.deadline.ends

    def _timeout_message(self) -> str:
        return (f"the request was not complete within http.request_timeout "
                f"({self.deadline.seconds:g} s); connection closed")


def _tls_problem(exc: BaseException, with_tls: bool) -> str:
    if isinstance(exc, TimeoutError):
        return ("no TLS handshake within http.request_timeout" if with_tls
                else "sent nothing within http.request_timeout")
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc.__class__.__name__}"
    strerror = exc.strerror if isinstance(exc, OSError) else None
    return f"connection failed: {strerror or exc.__class__.__name__}"


def _io_problem(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out reading the request or writing the response"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc.__class__.__name__}"
    strerror = exc.strerror if isinstance(exc, OSError) else None
    return f"connection failed: {strerror or str(exc)[:100] or exc.__class__.__name__}"


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)
