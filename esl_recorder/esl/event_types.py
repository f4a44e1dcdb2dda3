"""FreeSWITCH events as the daemon reads them: `Event`, with `PlainEvent` (text/event-plain,
read in place from the received bytes) and `DictEvent` (json, xml, or built in tests).

Events are parsed in two steps, in this order: split the header block into lines first, then
URL-decode single values. A value such as `x%0AUnique-ID%3A%20forged` therefore stays one value
and can never forge a header. Header lookups only ever look at the header block, never at the
event's own body (e.g. a BACKGROUND_JOB result), which is kept in `Event.body`.

Plain events are decoded lazily: the daemon reads 5-10 of the 150-250 headers of an event, so
`Event.get` finds the one header line it needs in the received bytes and decodes only that
value. `esl.frames.FrameParser.feed_events` (the client's path) builds such events straight
over the received buffer: an event's 3 KB are neither copied nor decoded unless a header is
asked for.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

from ..errors import EslProtocolError
from .codec import fs_url_decode, fs_url_encode

__all__ = [
    "DictEvent",
    "Event",
    "PlainEvent",
    "json_event",
    "make_event",
    "serialize_plain_event",
    "xml_event",
]


class Event(ABC):
    """A FreeSWITCH event. Use `get()` for the few headers you need; it is cheap."""

    __slots__ = ("content_type", "name")

    content_type: str
    name: str

    @abstractmethod
    def get(self, header: str, default: str | None = None) -> str | None:
        """URL-decoded value of `header` (exact name), or `default` when absent."""

    @abstractmethod
    def headers(self) -> dict[str, str]:
        """Every header, decoded (a fresh dict; slower than a few `get` calls)."""

    @property
    @abstractmethod
    def body(self) -> str | None:
        """The event's own body (e.g. a BACKGROUND_JOB result), or None."""

    @property
    def unique_id(self) -> str | None:
        return self.get("Unique-ID")

    @abstractmethod
    def contains(self, text: str) -> bool:
        """Whether `text` occurs anywhere in the event as FreeSWITCH sent it (a header name
        or a value before URL-decoding, or the body): a quick test, never a header lookup."""

    def __contains__(self, header: object) -> bool:
        return isinstance(header, str) and self.get(header) is not None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} Unique-ID={self.get('Unique-ID')}>"


_LENGTH_LINE = b"\nContent-Length: "
# Headers FreeSWITCH writes after the channel variables, at the end of the header block.
_TAIL_HEADERS = ("Record-", "Recording-Variable-")


def _lookup(header: str) -> tuple[bytes, bool]:
    """What `get` searches for (`\n<Name>: `), and whether from the end of the block."""
    return ("\n" + header + ": ").encode(), header.startswith(_TAIL_HEADERS)


# Header name -> _lookup(name): the daemon reads a few dozen names, each on most events.
_LOOKUPS: dict[str, tuple[bytes, bool]] = {}
_NEEDLES: dict[str, bytes] = {}  # contains(): the few texts the daemon looks for, encoded


def _header_end(raw: bytes, start: int, end: int) -> int:
    """Index of the blank line ending the header block of raw[start:end] (`end` if none).

    FreeSWITCH URL-encodes every value, so a raw newline only ends a header line, and a body
    only ever follows a `Content-Length: N` header and its blank line: the header block ends
    at the first blank line after the first such header, and without one the whole event
    (but its closing blank line) is headers.
    """
    p = raw.find(_LENGTH_LINE, start - 1, end)  # raw[start - 1] is a newline
    if p < 0:
        return end - 2 if raw.endswith(b"\n\n", start, end) else end
    blank = raw.find(b"\n\n", p + 1, end)
    return end if blank < 0 else blank


class PlainEvent(Event):
    """text/event-plain, kept as the received bytes: header values found and decoded on demand.

    The event is `raw[start:end]` (header lines, then the body if any); `raw` may be a whole
    received buffer, so nothing is copied or decoded up front. Every lookup stays inside the
    header block: body text is never taken for a header, whatever the event's name.
    `raw[start - 1]` must be a newline (in a stream it ends the envelope), so every header
    line, the first included, is found by one search for `\\n<Name>: `. Values are
    URL-decoded one at a time, after the line was found: an encoded `%0A` can never make a
    header.

    The header block's end is found only when a lookup needs it. A header line found before
    any `Content-Length` line is in the header block whatever follows (a body comes only
    after that line), so the daemon's usual lookups, near the top of a 2-5 KB event, search
    only the bytes before the line they find. Tail headers (`Record-*`), searched from the
    end, need the block's end first.
    """

    __slots__ = ("_end", "_hend", "_plain", "_raw", "_start")

    content_type = "text/event-plain"  # a class attribute: it shadows Event's slot

    def __init__(self, raw: bytes, start: int, end: int, name: str | None = None) -> None:
        if start < 1 or raw[start - 1] != 10:
            raise ValueError("PlainEvent needs a newline before the event (see from_bytes)")
        self._raw = raw
        self._start = start
        self._end = end
        self._hend = -1  # the header block's end, once a lookup needed it
        self._plain = start - 1  # no Content-Length line starts before this index
        self.name = self._first_name() if name is None else name

    def _first_name(self) -> str:
        name = self.get("Event-Name")
        if not name:
            raise EslProtocolError("event without Event-Name")
        return name

    @classmethod
    def from_bytes(cls, data: bytes) -> PlainEvent:
        """The event whose text (header lines, blank line, body) is `data`."""
        return cls(b"\n" + data, 1, len(data) + 1)

    def _header_block_end(self) -> int:
        if self._hend < 0:
            self._hend = _header_end(self._raw, self._start, self._end)
        return self._hend

    def _in_header_block(self, at: int) -> bool:
        """Whether the header line found at `at` (past `_plain`) lies in the header block."""
        if self._hend >= 0:
            return at < self._hend
        if self._raw.find(_LENGTH_LINE, self._plain, at) < 0:  # no body can start before it
            self._plain = at
            return True
        return at < self._header_block_end()

    def get(self, header: str, default: str | None = None) -> str | None:
        lookup = _LOOKUPS.get(header)
        if lookup is None:
            lookup = _LOOKUPS[header] = _lookup(header)
        key, from_end = lookup
        raw, end = self._raw, self._end
        if from_end:
            end = self._header_block_end()
            at = raw.rfind(key, self._start - 1, end)
        else:  # the first line anywhere: if it is body text, the header block has none
            at = raw.find(key, self._start - 1, end if self._hend < 0 else self._hend)
            if at > self._plain and not self._in_header_block(at):
                return default
        if at < 0:
            return default
        at += len(key)
        stop = raw.find(b"\n", at, end)
        return fs_url_decode(raw[at : end if stop < 0 else stop].decode("utf-8", "replace"))

    def contains(self, text: str) -> bool:
        needle = _NEEDLES.get(text)
        if needle is None:
            needle = _NEEDLES[text] = text.encode()
        return self._raw.find(needle, self._start, self._end) >= 0

    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        block = self._raw[self._start : self._header_block_end()].decode("utf-8", "replace")
        for line in block.split("\n"):
            name, sep, value = line.partition(": ")
            if sep and name not in out:
                out[name] = fs_url_decode(value)
        return out

    @property
    def body(self) -> str | None:
        raw = self._raw[self._header_block_end() + 2 : self._end]
        return raw.decode("utf-8", "replace") if raw else None


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

    def contains(self, text: str) -> bool:
        return any(text in v for v in self._headers.values()) or text in (self._body or "")

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


def json_event(text: str) -> DictEvent:
    """A text/event-json body as an Event (EslProtocolError if it is not one)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise EslProtocolError(f"bad JSON event: {exc}") from None
    if not isinstance(data, dict):
        raise EslProtocolError("JSON event is not an object")
    body = data.pop("_body", None)
    headers = {str(k): _json_value(v) for k, v in data.items()}
    return DictEvent(headers, None if body is None else str(body), "text/event-json")


def xml_event(text: str) -> DictEvent:
    """A text/event-xml body as an Event (EslProtocolError if it is not one)."""
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
