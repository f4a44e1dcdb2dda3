"""ESL framing and event parsing, done right (greenswitch's parser is not).

Wire rules (see shared/freeswitch-wire/README.md): a message is a block of `Name: value` lines
ended by an empty line, followed by exactly `Content-Length` bytes of body when that header is
present. Envelope header order varies by message type, so nothing here depends on it.

Events are parsed in two steps, in this order: split the header block into lines first, then
URL-decode single values. A value such as `x%0AUnique-ID%3A%20forged` therefore stays one value
and can never forge a header. Header lookups only ever look at the header block, never at the
event's own body (e.g. a BACKGROUND_JOB result), which is kept in `Event.body`.

Plain events are decoded lazily: the daemon reads 5-10 of the 150-250 headers of an event, so
`Event.get` finds the one header line it needs in the raw text and decodes only that value.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from ..errors import EslProtocolError
from .codec import fs_url_decode, fs_url_encode

__all__ = [
    "EVENT_CONTENT_TYPES",
    "Event",
    "FrameParser",
    "MalformedFrame",
    "Message",
    "make_event",
    "parse_event",
    "serialize_plain_event",
]

log = logging.getLogger(__name__)

EVENT_CONTENT_TYPES = frozenset({"text/event-plain", "text/event-json", "text/event-xml"})

#: Upper bound of a header block; a longer one without its blank line is garbage.
MAX_HEADER_BYTES = 1 << 20
#: Upper bound of a body (a `show channels` of 10k calls is ~15 MB).
MAX_BODY_BYTES = 256 << 20
#: Lines that can start a real envelope, used to find the next frame after garbage.
_RESYNC_MARKERS = (b"Content-Type: ", b"Content-Length: ")


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


def _content_length(headers: Mapping[str, str]) -> int:
    """Body length from the envelope: 0 without the header; raises _BadHeader if invalid."""
    raw = headers.get("Content-Length")
    if raw is None:
        return 0
    text = raw.strip()
    if not text.isdigit():
        raise _BadHeader(f"non-numeric Content-Length {raw!r}")
    length = int(text)
    if length > MAX_BODY_BYTES:
        raise _BadHeader(f"Content-Length {length} above {MAX_BODY_BYTES}")
    return length


class FrameParser:
    """Incremental ESL frame parser: feed it bytes as they arrive, get whole messages back.

    Partial frames are kept across `feed` calls. Malformed input is reported through
    `on_malformed` (default: a warning log) and skipped; the parser then looks for the next
    plausible frame start and goes on. Call `close()` at EOF to report a truncated frame.
    """

    def __init__(self, on_malformed: MalformedCallback | None = None) -> None:
        self._on_malformed = on_malformed or _log_malformed
        self._buf = b""
        self._chunks: list[bytes] = []
        self._size = 0  # bytes in _buf + _chunks
        self._need = 0  # do not try to parse before holding this many bytes
        self._scan_from = 0  # where to resume looking for the end of the header block
        self._resync = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a message."""
        return self._size

    def feed(self, data: bytes) -> list[Message]:
        if not data:
            return []
        self._chunks.append(data)
        self._size += len(data)
        if self._size < self._need:
            return []  # still inside a known-length body: avoid re-joining big buffers
        buf = self._buf + b"".join(self._chunks) if self._buf else b"".join(self._chunks)
        self._chunks.clear()
        out: list[Message] = []
        pos = self._parse(buf, out)
        self._buf = buf[pos:]
        self._size = len(self._buf)
        return out

    def close(self) -> None:
        """End of stream: report whatever partial frame is left."""
        leftover = self._buf + b"".join(self._chunks)
        self._buf, self._chunks, self._size, self._need, self._scan_from = b"", [], 0, 0, 0
        self._resync = False
        if leftover.strip(b"\n"):
            self._report("frame truncated by end of stream", leftover)

    def _report(self, reason: str, data: bytes) -> None:
        try:
            self._on_malformed(MalformedFrame(reason, data))
        except Exception:  # a broken callback must not kill the reader
            log.exception("on_malformed callback failed")

    def _parse(self, buf: bytes, out: list[Message]) -> int:
        """Parse as many messages as `buf` holds; returns the index of the first unused byte."""
        pos, n = 0, len(buf)
        self._need = 0
        while pos < n:
            if self._resync:
                pos = self._find_frame_start(buf, pos)
                if self._resync:
                    return pos
            while pos < n and buf[pos] == 10:  # stray blank lines between frames
                pos += 1
            if pos >= n:
                break
            end = buf.find(b"\n\n", max(pos, self._scan_from - 1))
            if end < 0:
                return self._wait_for_header(buf, pos)
            self._scan_from = 0
            step = self._take_frame(buf, pos, end, out)
            if step < 0:
                self._need = -step  # bytes needed from `pos`, i.e. in the kept buffer
                return pos
            pos = step
        return pos

    def _wait_for_header(self, buf: bytes, pos: int) -> int:
        if len(buf) - pos > MAX_HEADER_BYTES:
            self._report("no end of header block", buf[pos:])
            self._resync = True
            return len(buf)
        self._scan_from = len(buf) - pos  # relative to the kept buffer, which starts at pos
        return pos

    def _take_frame(self, buf: bytes, pos: int, end: int, out: list[Message]) -> int:
        """Handle the frame whose header block is buf[pos:end].

        Returns the position after the frame, or -(bytes needed from pos) if the body is
        not complete yet.
        """
        headers, bad = _parse_envelope(buf[pos:end])
        try:
            length = _content_length(headers)
        except _BadHeader as exc:
            self._report(str(exc), buf[pos:end])
            self._resync = True
            return end + 2
        body_end = end + 2 + length
        if body_end > len(buf):
            return -(body_end - pos)
        ctype = headers.get("Content-Type")
        if ctype is None:
            self._report("header block without Content-Type", buf[pos:body_end])
            return body_end
        if bad:
            self._report(f"{bad} header line(s) not 'Name: value' (message kept)", buf[pos:end])
        out.append(Message(ctype, headers, buf[end + 2 : body_end]))
        return body_end

    def _find_frame_start(self, buf: bytes, pos: int) -> int:
        """After garbage: skip to the next block that is a plausible envelope."""
        while True:
            cands = [i for i in (buf.find(m, pos) for m in _RESYNC_MARKERS) if i >= 0]
            if not cands:
                keep = max(pos, len(buf) - 16)  # a marker may straddle the next chunk
                return keep
            start = min(cands)
            end = buf.find(b"\n\n", start)
            if end < 0 and len(buf) - start <= MAX_HEADER_BYTES:
                return start  # wait for the rest of the candidate's header block
            if end < 0:
                pos = start + 1
                continue
            headers, bad = _parse_envelope(buf[start:end])
            if "Content-Type" in headers and not bad and _valid_length(headers):
                self._resync = False
                return start
            pos = start + 1


def _valid_length(headers: Mapping[str, str]) -> bool:
    try:
        _content_length(headers)
    except _BadHeader:
        return False
    return True


# --------------------------------------------------------------------------- events


class Event:
    """A FreeSWITCH event. Use `get()` for the few headers you need; it is cheap."""

    __slots__ = ("content_type", "name")

    content_type: str
    name: str

    def get(self, header: str, default: str | None = None) -> str | None:
        """URL-decoded value of `header` (exact name), or `default` when absent."""
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        """Every header, decoded (a fresh dict; slower than a few `get` calls)."""
        raise NotImplementedError

    @property
    def body(self) -> str | None:
        """The event's own body (e.g. a BACKGROUND_JOB result), or None."""
        raise NotImplementedError

    @property
    def unique_id(self) -> str | None:
        return self.get("Unique-ID")

    def __contains__(self, header: object) -> bool:
        return isinstance(header, str) and self.get(header) is not None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} Unique-ID={self.get('Unique-ID')}>"


class PlainEvent(Event):
    """text/event-plain: raw text kept, header values found and decoded on demand."""

    __slots__ = ("_cache", "_hend", "_text")

    def __init__(self, text: str, content_type: str = "text/event-plain") -> None:
        hend = text.find("\n\n")
        self._text = text
        self._hend = len(text) if hend < 0 else hend
        self._cache: dict[str, str | None] | None = None
        self.content_type = content_type
        name = self._lookup("Event-Name")
        if not name:
            raise EslProtocolError("event without Event-Name")
        self.name = name

    def _lookup(self, header: str) -> str | None:
        text, hend = self._text, self._hend
        if text.startswith(header + ": "):
            start = len(header) + 2
        else:
            key = "\n" + header + ": "
            idx = text.find(key, 0, hend)
            if idx < 0:
                return None
            start = idx + len(key)
        stop = text.find("\n", start, hend)
        return fs_url_decode(text[start : hend if stop < 0 else stop])

    def get(self, header: str, default: str | None = None) -> str | None:
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        elif header in cache:
            value = cache[header]
            return default if value is None else value
        value = cache[header] = self._lookup(header)
        return default if value is None else value

    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in self._text[: self._hend].split("\n"):
            name, sep, value = line.partition(": ")
            if sep and name not in out:
                out[name] = fs_url_decode(value)
        return out

    @property
    def body(self) -> str | None:
        rest = self._text[self._hend + 2 :]
        if rest or self._lookup("Content-Length") is not None:
            return rest
        return None


class DictEvent(Event):
    """An event whose headers are already decoded (json, xml, or built in tests)."""

    __slots__ = ("_body", "_headers")

    def __init__(self, headers: dict[str, str], body: str | None, content_type: str) -> None:
        name = headers.get("Event-Name")
        if not name:
            raise EslProtocolError("event without Event-Name")
        self._headers = headers
        self._body = body
        self.content_type = content_type
        self.name = name

    def get(self, header: str, default: str | None = None) -> str | None:
        return self._headers.get(header, default)

    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    @property
    def body(self) -> str | None:
        return self._body


def _json_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # FreeSWITCH array header; plain format writes ARRAY::a|:b
        return "ARRAY::" + "|:".join(str(v) for v in value)
    return str(value)


def _parse_json(text: str) -> DictEvent:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise EslProtocolError(f"bad JSON event: {exc}") from None
    if not isinstance(data, dict):
        raise EslProtocolError("JSON event is not an object")
    body = data.pop("_body", None)
    headers = {str(k): _json_value(v) for k, v in data.items()}
    return DictEvent(headers, None if body is None else str(body), "text/event-json")


def _parse_xml(text: str) -> DictEvent:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise EslProtocolError(f"bad XML event: {exc}") from None
    section = root.find("headers")
    if section is None:
        raise EslProtocolError("XML event without <headers>")
    headers: dict[str, str] = {}
    for child in section:
        headers.setdefault(child.tag, fs_url_decode(child.text or ""))
    length = root.find("Content-Length")
    if length is not None and length.text:
        headers.setdefault("Content-Length", length.text.strip())
    body_el = root.find("body")
    body = None if body_el is None else (body_el.text or "").strip()
    return DictEvent(headers, body, "text/event-xml")


def parse_event(message: Message) -> Event:
    """Turn a text/event-{plain,json,xml} message into an Event (EslProtocolError if bad)."""
    ctype = message.content_type
    text = message.body.decode("utf-8", "replace")
    if ctype == "text/event-plain":
        return PlainEvent(text)
    if ctype == "text/event-json":
        return _parse_json(text)
    if ctype == "text/event-xml":
        return _parse_xml(text)
    raise EslProtocolError(f"not an event: Content-Type {ctype!r}")


def make_event(headers: Mapping[str, str], body: str | None = None) -> Event:
    """Build an Event from decoded headers (for tests and simulators)."""
    return DictEvent(dict(headers), body, "text/event-plain")


def serialize_plain_event(headers: Mapping[str, str], body: str | None = None) -> bytes:
    """The full text/event-plain message FreeSWITCH would send for these headers and body."""
    lines = [f"{k}: {fs_url_encode(v)}\n" for k, v in headers.items() if k != "Content-Length"]
    if body is not None:
        raw_body = body.encode("utf-8")
        lines.append(f"Content-Length: {len(raw_body)}\n\n")
        payload = "".join(lines).encode("utf-8") + raw_body
    else:
        lines.append("\n")
        payload = "".join(lines).encode("utf-8")
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(payload) + payload
