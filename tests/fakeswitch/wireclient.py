"""A minimal ESL client for the simulator's tests: exact bytes, framed messages, timeouts."""

from __future__ import annotations

import math
import socket
import struct
import wave
from collections.abc import Callable
from dataclasses import dataclass

import gevent


@dataclass
class Message:
    raw: bytes
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    @property
    def content_type(self) -> str:
        return self.header("Content-Type") or ""


def parse_headers(block: bytes) -> list[tuple[str, str]]:
    pairs = []
    for line in block.decode().split("\n"):
        name, _, value = line.partition(": ")
        pairs.append((name, value))
    return pairs


def parse_message(raw: bytes) -> Message:
    head, _, body = raw.partition(b"\n\n")
    return Message(raw, parse_headers(head), body)


def split_messages(stream: bytes) -> list[bytes]:
    """Cut an ESL byte stream into whole messages."""
    out = []
    while stream:
        end = stream.index(b"\n\n") + 2
        headers = dict(parse_headers(stream[: end - 2]))
        length = int(headers.get("Content-Length", "0"))
        out.append(stream[: end + length])
        stream = stream[end + length :]
    return out


class WireClient:
    def __init__(
        self,
        address: tuple[str, int],
        timeout: float = 5.0,
        flush: Callable[[], object] | None = None,
    ) -> None:
        self.flush = flush
        self.sock = socket.create_connection(address, timeout=timeout) if address[1] else None
        self.timeout = timeout
        self.buffer = b""
        self.eof = False
        self.stash: list[Message] = []  # events read while waiting for a reply

    @classmethod
    def accepted(cls, sock: socket.socket, flush: Callable[[], object] | None = None) -> WireClient:
        """Wrap a connection the simulator opened to us (outbound socket mode)."""
        client = cls(("", 0), flush=flush)
        client.sock = sock
        return client

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, timeout: float | None) -> bool:
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except (TimeoutError, BlockingIOError):
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def _take(self) -> bytes | None:
        if b"\n\n" not in self.buffer:
            return None
        end = self.buffer.index(b"\n\n") + 2
        headers = dict(parse_headers(self.buffer[: end - 2]))
        length = int(headers.get("Content-Length", "0"))
        if len(self.buffer) < end + length:
            return None
        raw, self.buffer = self.buffer[: end + length], self.buffer[end + length :]
        return raw

    def read(self, timeout: float | None = None) -> Message:
        deadline = gevent.get_hub().loop.now() + (timeout or self.timeout)
        while True:
            raw = self._take()
            if raw is not None:
                return parse_message(raw)
            remaining = deadline - gevent.get_hub().loop.now()
            if self.eof or remaining <= 0:
                raise TimeoutError(f"no whole message (eof={self.eof}, buffer={self.buffer!r})")
            self._fill(remaining)

    def read_n(self, count: int, timeout: float | None = None) -> list[Message]:
        return [self.read(timeout) for _ in range(count)]

    def pending(self) -> list[Message]:
        """Messages already sent by the server, once every greenlet has run."""
        if self.flush is not None:
            self.flush()
        gevent.idle()
        while self._fill(0):
            gevent.idle()
        out, self.stash = self.stash, []
        while (raw := self._take()) is not None:
            out.append(parse_message(raw))
        return out

    def wait_closed(self, timeout: float = 2.0) -> bool:
        deadline = gevent.get_hub().loop.now() + timeout
        while not self.eof and gevent.get_hub().loop.now() < deadline:
            self._fill(deadline - gevent.get_hub().loop.now())
        return self.eof

    def command(self, line: str) -> Message:
        """Send a command; return its reply, keeping events that came first for pending()."""
        self.send(line.encode() + b"\n\n")
        while True:
            message = self.read()
            if not message.content_type.startswith("text/event-"):
                return message
            self.stash.append(message)

    def api(self, line: str) -> str:
        reply = self.command(f"api {line}")
        assert reply.content_type == "api/response", reply.raw
        return reply.body.decode()

    def login(self, password: str = "ClueCon") -> WireClient:
        assert self.read().content_type == "auth/request"
        assert self.command(f"auth {password}").header("Reply-Text") == "+OK accepted"
        return self


def event_headers(message: Message) -> list[tuple[str, str]]:
    """Headers of a plain event body (names in order; values still encoded)."""
    return parse_headers(message.body.partition(b"\n\n")[0])


def event_name(message: Message) -> str:
    return dict(event_headers(message)).get("Event-Name", "")


# -- audio analysis -------------------------------------------------------------------------
@dataclass
class WavInfo:
    channels: int
    rate: int
    frames: int
    samples: list[list[int]]  # per channel

    @property
    def duration(self) -> float:
        return self.frames / self.rate


def read_wav(path: str) -> WavInfo:
    with wave.open(path, "rb") as wav:
        channels, rate, frames = wav.getnchannels(), wav.getframerate(), wav.getnframes()
        data = wav.readframes(frames)
    values = struct.unpack(f"<{len(data) // 2}h", data)
    per = [list(values[c::channels]) for c in range(channels)]
    return WavInfo(channels, rate, frames, per)


def goertzel(samples: list[int], rate: int, freq: float) -> float:
    """Amplitude of `freq` in `samples`."""
    if not samples:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2 * math.sqrt(max(power, 0.0)) / len(samples)


def rms(samples: list[int]) -> float:
    return math.sqrt(sum(x * x for x in samples) / len(samples)) if samples else 0.0
