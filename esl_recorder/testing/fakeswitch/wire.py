"""ESL message framing exactly as FreeSWITCH's mod_event_socket writes it."""

from __future__ import annotations

import functools
import itertools
import json
import re
from dataclasses import dataclass, field

from esl_recorder.esl.codec import _needs_escape, fs_url_encode

DISCONNECT_TEXT = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
FORMATS = ("plain", "json", "xml")


@dataclass
class Event:
    """One FreeSWITCH event: ordered headers (decoded values) and an optional body."""

    name: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return default


def auth_request() -> bytes:
    return b"Content-Type: auth/request\n\n"


def command_reply(text: str, *extra: tuple[str, str]) -> bytes:
    lines = ["Content-Type: command/reply", f"Reply-Text: {text}"]
    lines += [f"{k}: {v}" for k, v in extra]
    return ("\n".join(lines) + "\n\n").encode()


def api_response(body: str) -> bytes:
    raw = body.encode()
    head = f"Content-Type: api/response\nContent-Length: {len(raw)}\n\n".encode()
    return head + raw


def disconnect_notice(*extra: tuple[str, str], text: str = DISCONNECT_TEXT) -> bytes:
    raw = text.encode()
    lines = ["Content-Type: text/disconnect-notice"]
    lines += [f"{k}: {v}" for k, v in extra]
    lines.append(f"Content-Length: {len(raw)}")
    return ("\n".join(lines) + "\n\n").encode() + raw


class _Escapes(dict[int, str]):
    """str.translate table giving what codec.fs_url_encode makes of each character:
    itself, or %XX per UTF-8 byte (control characters, space, non-ASCII, codec._UNSAFE);
    filled as characters are met."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        raw = char.encode("utf-8")
        escaped = "".join([f"%{b:02X}" for b in raw]) if _needs_escape(raw[0]) else char
        self[code] = escaped
        return escaped


_ESCAPES = _Escapes()
# fs_url_encode keeps a `%` that starts a %XX escape as it is; any other `%` becomes %25
_KEPT_ESCAPE = re.compile(r"(%[0-9A-Fa-f]{2})")


def _header_value(value: str) -> str:
    """fs_url_encode(value) by str.translate: the text between kept %XX escapes is translated,
    the escapes stay as they are."""
    if "%" not in value:
        return value.translate(_ESCAPES)
    pieces = _KEPT_ESCAPE.split(value)  # text, escape, text, ..., text
    pieces[::2] = [text.translate(_ESCAPES) for text in pieces[::2]]
    return "".join(pieces)


@functools.lru_cache(maxsize=8192)
def _header_line(name: str, value: str) -> str:
    """One `Name: value` line; cached since most headers repeat from event to event (template
    values, channel state), only a few (sequence, timestamps, job uuids) are new each time."""
    return f"{name}: {_header_value(value)}"


def serialize_plain(event: Event) -> str:
    """The `text/event-plain` body (also the `uuid_dump` format)."""
    lines = list(itertools.starmap(_header_line, event.headers))
    if event.body is not None:
        lines.append(f"Content-Length: {len(event.body.encode())}")
        return "\n".join(lines) + "\n\n" + event.body
    return "\n".join(lines) + "\n\n"


def serialize_json(event: Event) -> str:
    data: dict[str, str] = dict(event.headers)
    if event.body is not None:
        data["Content-Length"] = str(len(event.body.encode()))
        data["_body"] = event.body
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _xml_escape(value: str) -> str:
    return fs_url_encode(value)


def serialize_xml(event: Event) -> str:
    parts = ["<event>\n  <headers>\n"]
    for key, value in event.headers:
        parts.append(f"    <{key}>{_xml_escape(value)}</{key}>\n")
    parts.append("  </headers>\n")
    if event.body is not None:
        parts.append(f"  <Content-Length>{len(event.body.encode())}</Content-Length>\n")
        newline = "" if event.body.endswith("\n") else "\n"
        parts.append(f"  <body>{event.body}{newline}  </body>\n")
    parts.append("</event>\n")
    return "".join(parts)


_SERIALIZERS = {"plain": serialize_plain, "json": serialize_json, "xml": serialize_xml}


def event_message(event: Event, fmt: str) -> bytes:
    """An event as written on an ESL socket: Content-Length first, then Content-Type."""
    body = _SERIALIZERS[fmt](event).encode()
    head = f"Content-Length: {len(body)}\nContent-Type: text/event-{fmt}\n\n".encode()
    return head + body
