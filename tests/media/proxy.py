"""A TCP relay in front of the S3 server, on a fixed loopback port: closed, it is an S3
endpoint that is down; `hold` makes it keep what clients send (an upload in flight that
never finishes) until `release`."""

from __future__ import annotations

import contextlib
import socket

import gevent
import gevent.event
from gevent.server import StreamServer


class Relay:
    def __init__(self, upstream: tuple[str, int], port: int) -> None:
        self.upstream = upstream
        self.port = port
        self.received = bytearray()  # what clients sent (the first 64 KiB of each chunk)
        self.arrived = gevent.event.Event()  # set on every chunk from a client
        self._open = gevent.event.Event()
        self._open.set()
        self._server: StreamServer | None = None
        self._sockets: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Relay:
        self._server = StreamServer(("127.0.0.1", self.port), self._handle)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.close()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def wait_for(self, marker: bytes, timeout: float = 10.0) -> None:
        with gevent.Timeout(timeout, AssertionError(f"relay never saw {marker!r}")):
            while marker not in self.received:
                self.arrived.clear()
                self.arrived.wait()

    def _handle(self, client: socket.socket, _addr: object) -> None:
        server = socket.create_connection(self.upstream)
        self._sockets |= {client, server}
        back = gevent.spawn(self._pump, server, client, watch=False)
        try:
            self._pump(client, server, watch=True)
        finally:
            back.kill()
            for sock in (client, server):
                self._sockets.discard(sock)
                sock.close()

    def _pump(self, src: socket.socket, dst: socket.socket, watch: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if watch:
                    self.received += data[:65536]
                    self.arrived.set()
                    self._open.wait()
                dst.sendall(data)
