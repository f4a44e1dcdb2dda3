"""ESL framing, done right (greenswitch's parser is not): bytes in, messages and events out.

Wire rules (see shared/freeswitch-wire/README.md): a message is a block of `Name: value` lines
ended by an empty line, followed by exactly `Content-Length` bytes of body when that header is
present. Envelope header order varies by message type, so nothing here depends on it. The
events themselves (how their headers are read) are `esl.event_types`; they are importable from
here too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import EslProtocolError
from .codec import fs_url_decode
from .event_types import (
    DictEvent,
    Event,
    PlainEvent,
    json_event,
    make_event,
    serialize_plain_event,
    xml_event,
)

__all__ = [
    "CONTENT_TYPES",
    "EVENT_CONTENT_TYPES",
    "DictEvent",
    "Event",
    "FrameParser",
    "MalformedFrame",
    "Message",
    "PlainEvent",
    "make_event",
    "max_body",
    "parse_event",
    "serialize_plain_event",
]

log = logging.getLogger(__name__)

EVENT_CONTENT_TYPES = frozenset({"text/event-plain", "text/event-json", "text/event-xml"})
#: Every Content-Type mod_event_socket writes; another one means the stream is not ESL.
CONTENT_TYPES = EVENT_CONTENT_TYPES | {
    "auth/request", "command/reply", "api/response", "text/disconnect-notice",
    "text/rude-rejection", "log/data"}

# Caps, checked before a byte is waited for: a frame announcing more is malformed (the
# client drops the connection), so a peer can never make the reader buffer without end.
#: An envelope's header block: FreeSWITCH's are one to a few short lines.
MAX_HEADER_BYTES = 64 << 10
#: An event (its header lines and body), and any body but an api/response: events are a few
#: KB (the captured ones 0.9-7 KB), even with many channel variables.
MAX_EVENT_BYTES = 1 << 20
#: An api/response body: `show channels as json` takes about 1.5 KB a call.
MAX_REPLY_BYTES = 32 << 20


@dataclass(slots=True)
class Message:
    """One ESL message: envelope headers (values URL-decoded) and the raw body."""

    content_type: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def reply_text(self) -> str:
        """`Reply-Text` of a command/reply ('' when absent)."""
        return self.headers.get("Reply-Text", "")

    def body_text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class MalformedFrame:
    """Bytes that were skipped because they were not a valid message."""

    reason: str
    data: bytes

    def describe(self, limit: int = 120) -> str:
        snippet = self.data[:limit]
        more = f" (+{len(self.data) - limit} bytes)" if len(self.data) > limit else ""
        return f"{self.reason}: {snippet!r}{more}"


MalformedCallback = Callable[[MalformedFrame], None]


def _log_malformed(frame: MalformedFrame) -> None:
    log.warning("malformed ESL frame skipped: %s", frame.describe())


class _BadHeader(Exception):
    pass


def _parse_envelope(block: bytes) -> tuple[dict[str, str], int]:
    """Header block -> (decoded headers, number of lines that were not `Name: value`)."""
    headers: dict[str, str] = {}
    bad = 0
    for line in block.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.partition(": ")
        if not sep or not name or " " in name:
            bad += 1
            continue
        if name not in headers:
            headers[name] = fs_url_decode(value)
    return headers, bad


# How FreeSWITCH frames every event; one C-level match replaces the generic envelope parse.
_EVENT_HEAD = re.compile(rb"Content-Length: ([0-9]{1,9})\nContent-Type: ([a-z/-]{1,40})\n\n").match
# A plain event as FreeSWITCH frames it, up to the end of its first line (the Event-Name).
_PLAIN_HEAD = re.compile(rb"Content-Length: ([0-9]{1,9})\nContent-Type: text/event-plain\n\n"
                         rb"Event-Name: ([A-Z0-9_]{1,64})\n").match


def max_body(content_type: str) -> int:
    """The largest body a message of this Content-Type may announce."""
    return MAX_REPLY_BYTES if content_type == "api/response" else MAX_EVENT_BYTES


def _check_envelope(length: int, content_type: str) -> None:
    if content_type not in CONTENT_TYPES:
        raise _BadHeader("unknown Content-Type")
    cap = max_body(content_type)
    if length > cap:
        raise _BadHeader(f"Content-Length {length} above the {content_type} cap of {cap}")


def _content_length(headers: Mapping[str, str], content_type: str) -> int:
    """Body length from the envelope: 0 without the header; raises _BadHeader if invalid."""
    raw = headers.get("Content-Length", "0")
    if not (raw.isascii() and raw.isdigit()):  # isdigit alone takes superscripts, other scripts
        raise _BadHeader("Content-Length is not a number")
    length = int(raw)
    _check_envelope(length, content_type)
    return length


class FrameParser:
    """Incremental ESL frame parser: feed it bytes as they arrive, get whole messages back.

    Partial frames are kept across `feed` calls, and no split point changes the result. Every
    length is checked against its cap (MAX_HEADER_BYTES, `max_body`) before the bytes are
    waited for. The first malformed frame is reported through `on_malformed` (default: a
    warning log) and ends the parse: the parser drops what it holds and ignores the rest of
    the stream, since nothing after a framing error can be trusted to be framed right (the
    client then drops the connection). Call `close()` at EOF to report a truncated frame.
    """

    def __init__(self, on_malformed: MalformedCallback | None = None) -> None:
        self._on_malformed = on_malformed or _log_malformed
        self._buf = b""
        self._chunks: list[bytes] = []
        self._size = 0  # bytes in _buf + _chunks
        self._need = 0  # do not try to parse before holding this many bytes
        self._scan_from = 0  # where to resume looking for the end of the header block
        self.failed = ""  # why the stream was given up ('' while it is fine)
        self.others = 0  # Messages among the items of the last feed_events()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a message."""
        return self._size

    def feed(self, data: bytes) -> list[Message]:
        """The messages `data` completes, in order (events included, as Messages)."""
        out: list[Message] = []
        self._feed(data, out, False)
        return out

    def feed_events(self, data: bytes) -> list[Message | PlainEvent]:
        """Like `feed`, but text/event-plain events come out as PlainEvents over the buffer.

        Nothing of such an event is copied or decoded here. `others` then tells how many
        items are Messages (replies, notices, json/xml or oddly laid out events): when it is
        0, every item is a PlainEvent.
        """
        out: list[Message | PlainEvent] = []
        self.others = 0
        self._feed(data, out, True)
        return out

    def _feed(self, data: bytes, out: list[Any], events: bool) -> None:
        if not data or self.failed:
            return
        self._chunks.append(data)
        self._size += len(data)
        if self._size < self._need:
            return  # still inside a known-length body: avoid re-joining big buffers
        chunks, rest = self._chunks, 0
        if self._need:  # the pending frame is complete: join only its bytes, not all of data
            rest = self._need - (self._size - len(data))
            buf = b"".join([self._buf, *chunks[:-1], data[:rest]])
            pos = self._parse(buf, 0, out, events)
            if pos < len(buf):  # not expected: go on from a joined buffer
                data, rest = buf[pos:] + data[rest:], 0
        else:
            data = self._buf + b"".join(chunks) if self._buf else b"".join(chunks)
        chunks.clear()
        pos = self._parse(data, rest, out, events) if not self.failed else len(data)
        self._buf = b"" if self.failed else data[pos:]
        self._size = len(self._buf)

    def close(self) -> None:
        """End of stream: report whatever partial frame is left."""
        leftover = self._buf + b"".join(self._chunks)
        self._buf, self._chunks, self._size, self._need, self._scan_from = b"", [], 0, 0, 0
        if leftover.strip(b"\n") and not self.failed:
            self._fail("frame truncated by end of stream", leftover)

    def _fail(self, reason: str, data: bytes) -> int:
        """Give the stream up; returns a position past everything (nothing more is parsed)."""
        self.failed = reason
        self._need = self._scan_from = 0
        try:
            self._on_malformed(MalformedFrame(reason, data))
        except Exception:  # a broken callback must not kill the reader
            log.exception("on_malformed callback failed")
        return 1 << 62

    def _parse(self, buf: bytes, pos: int, out: list[Any], events: bool) -> int:
        """Parse the messages in buf[pos:]; returns the index of the first unused byte.

        With `events`, plain events laid out as FreeSWITCH does (Event-Name first) become
        PlainEvents that point into `buf`.
        """
        n, first = len(buf), pos
        self._need = 0
        hint, self._scan_from = self._scan_from, 0  # only valid for the frame at `first`
        append = out.append
        while pos < n:
            if events and (plain := _PLAIN_HEAD(buf, pos)) is not None:
                size = int(plain[1])
                if size > MAX_EVENT_BYTES:
                    return self._fail(f"Content-Length {size} above the "
                                      f"text/event-plain cap of {MAX_EVENT_BYTES}", buf[pos:])
                start = plain.start(2) - 12  # len(b"Event-Name: ")
                end = start + size
                if end > n:
                    self._need = end - pos
                    return pos
                if plain.end() <= end:  # else: a broken frame, for the checking path
                    append(PlainEvent(buf, start, end, plain[2].decode("ascii")))
                    pos = end
                    continue
            head = _EVENT_HEAD(buf, pos)
            if head is None:  # not an event envelope: the general (and checking) path
                mark = len(out)
                pos, wait = self._parse_other(buf, pos, out, hint if pos == first else 0)
                self.others += len(out) - mark
                if wait:
                    return pos
                continue
            length, raw_type = head.groups()
            ctype = raw_type.decode("ascii")
            try:
                _check_envelope(int(length), ctype)
            except _BadHeader as exc:
                return self._fail(str(exc), buf[pos:])
            start = head.end()
            end = start + int(length)
            if end > n:
                self._need = end - pos
                return pos
            append(Message(ctype, {"Content-Length": length.decode(), "Content-Type": ctype},
                           buf[start:end]))
            self.others += 1
            pos = end
        return pos

    def _parse_other(self, buf: bytes, pos: int, out: list[Message],
                     scanned: int) -> tuple[int, bool]:
        """One step for anything but a well-formed event: (new position, wait for data).

        `scanned`: bytes at `pos` already known to hold no blank line (from the last feed).
        """
        start = pos
        while pos < len(buf) and buf[pos] == 10:  # stray blank lines between frames
            pos += 1
        if pos >= len(buf):
            return pos, True
        if _EVENT_HEAD(buf, pos):
            return pos, False
        end = buf.find(b"\n\n", pos + max(0, scanned - 1) if pos == start else pos)
        if end < 0:
            return self._wait_for_header(buf, pos), True
        if end - pos > MAX_HEADER_BYTES:
            return self._fail(f"header block over {MAX_HEADER_BYTES} bytes", buf[pos:]), True
        step = self._take_frame(buf, pos, end, out)
        if step < 0:
            self._need = -step  # bytes needed from `pos`, i.e. in the kept buffer
            return pos, True
        return step, self.failed != ""

    def _wait_for_header(self, buf: bytes, pos: int) -> int:
        if len(buf) - pos > MAX_HEADER_BYTES + 1:  # +1: the blank line may straddle chunks
            return self._fail(f"no end of header block within {MAX_HEADER_BYTES} bytes",
                              buf[pos:])
        self._scan_from = len(buf) - pos  # relative to the kept buffer, which starts at pos
        return pos

    def _take_frame(self, buf: bytes, pos: int, end: int, out: list[Message]) -> int:
        """Handle the frame whose header block is buf[pos:end].

        Returns the position after the frame, or -(bytes needed from pos) if the body is
        not complete yet.
        """
        headers, bad = _parse_envelope(buf[pos:end])
        if bad:
            return self._fail(f"{bad} header line(s) not 'Name: value'", buf[pos:end])
        ctype = headers.get("Content-Type")
        if ctype is None:
            return self._fail("header block without Content-Type", buf[pos:end])
        try:
            length = _content_length(headers, ctype)
        except _BadHeader as exc:
            return self._fail(str(exc), buf[pos:end])
        body_end = end + 2 + length
        if body_end > len(buf):
            return -(body_end - pos)
        out.append(Message(ctype, headers, buf[end + 2 : body_end]))
        return body_end


def parse_event(message: Message) -> Event:
    """Turn a text/event-{plain,json,xml} message into an Event (EslProtocolError if bad)."""
    ctype = message.content_type
    if ctype == "text/event-plain":
        return PlainEvent.from_bytes(message.body)
    text = message.body.decode("utf-8", "replace")
    if ctype == "text/event-json":
        return json_event(text)
    if ctype == "text/event-xml":
        return xml_event(text)
    raise EslProtocolError(f"not an event: Content-Type {ctype!r}")
