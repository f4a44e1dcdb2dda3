"""esl.frames under a property-based fuzzer (hypothesis).

The parser is checked against `reference()`, a short, obviously strict reading of the wire
rules: random, truncated, oversized, split (anywhere) and malicious streams give exactly the
messages the reference gives, and an error exactly where it finds one, after which nothing
more is parsed (the client then drops the connection). So garbage can never desynchronise the
parser silently, and no split point changes anything. Values holding `%0A` or `: ` and bodies
holding header-like lines never forge a header.

The suite runs a short budget; the long run (see the README's reliability section):
    ESL_RECORDER_FUZZ_EXAMPLES=3000 pytest -q -p no:cacheprovider --timeout 0 \
        tests/esl/test_frames_fuzz.py
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esl_recorder.errors import EslProtocolError
from esl_recorder.esl.codec import fs_url_decode, fs_url_encode
from esl_recorder.esl.frames import (
    CONTENT_TYPES,
    MAX_HEADER_BYTES,
    FrameParser,
    MalformedFrame,
    Message,
    PlainEvent,
    max_body,
    parse_event,
    serialize_plain_event,
)

EXAMPLES = int(os.environ.get("ESL_RECORDER_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 1000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --------------------------------------------------------------------------- the reference


@dataclass
class Outcome:
    messages: list[tuple[str, dict[str, str], bytes]]
    error: bool


def reference(stream: bytes) -> Outcome:
    """The wire rules, read the slow and plain way (whole stream at once)."""
    out: list[tuple[str, dict[str, str], bytes]] = []
    pos = 0
    while True:
        while stream[pos : pos + 1] == b"\n":
            pos += 1
        if pos >= len(stream):
            return Outcome(out, False)
        end = stream.find(b"\n\n", pos)
        if end < 0:  # too long to be a header block, or cut by the end of the stream
            return Outcome(out, True)
        if end - pos > MAX_HEADER_BYTES:
            return Outcome(out, True)
        headers: dict[str, str] = {}
        for line in stream[pos:end].decode("utf-8", "replace").split("\n"):
            name, sep, value = line.partition(": ")
            if not sep or not name or " " in name:
                return Outcome(out, True)
            headers.setdefault(name, fs_url_decode(value))
        ctype = headers.get("Content-Type")
        raw_length = headers.get("Content-Length", "0")
        if ctype not in CONTENT_TYPES or not (raw_length.isascii() and raw_length.isdigit()):
            return Outcome(out, True)
        length = int(raw_length)
        if length > max_body(ctype) or end + 2 + length > len(stream):
            return Outcome(out, True)
        out.append((ctype, headers, stream[end + 2 : end + 2 + length]))
        pos = end + 2 + length


Item = tuple[str, dict[str, str], bytes]


def run_parser(stream: bytes, cuts: list[int], events: bool = False) -> Outcome:
    """Feed `stream` cut at `cuts`; every item as (ctype, headers, body) like the reference."""
    bad: list[MalformedFrame] = []
    parser = FrameParser(on_malformed=bad.append)
    got: list[Item] = []
    bounds = [0, *sorted(set(cuts)), len(stream)]
    for a, b in pairwise(bounds):
        if events:
            for item in parser.feed_events(stream[a:b]):
                got.append(_plain(item) if isinstance(item, PlainEvent)
                           else canon((item.content_type, item.headers, item.body), True))
        else:
            got += [(m.content_type, m.headers, m.body) for m in parser.feed(stream[a:b])]
    parser.close()
    assert len(bad) <= 1  # one report; after it the stream is not read any more
    if bad:
        assert parser.buffered == 0
    return Outcome(got, bool(bad))


def _plain(event: PlainEvent) -> Item:
    """A plain event as the client reads it: its decoded headers and its body."""
    lines = [f"{k}: {v}" for k, v in event.headers().items()]
    return ("text/event-plain", {"": "event"},
            ("\n".join(lines) + "\n\n" + (event.body or "")).encode())


def canon(item: Item, events: bool) -> Item:
    """feed_events gives a plain event as a PlainEvent or as a Message (odd layouts):
    compare what the client reads of either."""
    ctype, _, body = item
    if not events or ctype != "text/event-plain":
        return item
    try:
        return _plain(PlainEvent.from_bytes(body))
    except EslProtocolError:
        return item


def expected(stream: bytes, events: bool) -> Outcome:
    outcome = reference(stream)
    return Outcome([canon(m, events) for m in outcome.messages], outcome.error)


# --------------------------------------------------------------------------- strategies

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True).filter(
    lambda n: n not in ("Content-Length", "Content-Type", "Event-Name"))
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["x%0AUnique-ID%3A%20forged", "x\nUnique-ID: forged", "a: b", "%",
                     "%0A%0A", "\n\nContent-Length: 5\n\n", "100%", "%zz", "é\x00\r\n"]),
)
event_names = st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True)


@st.composite
def plain_events(draw: st.DrawFn) -> tuple[dict[str, str], str | None]:
    headers = {"Event-Name": draw(event_names)}
    headers.update(draw(st.dictionaries(names, hostile_text, max_size=8)))
    body = draw(st.none() | hostile_text | st.just("Unique-ID: forged\nEvent-Name: X\n\n"))
    return headers, body


def _reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def _api(body: bytes) -> bytes:
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body


@st.composite
def valid_frames(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["plain", "json", "reply", "api", "notice"]))
    if kind == "plain":
        return serialize_plain_event(*draw(plain_events()))
    if kind == "json":
        headers, _ = draw(plain_events())
        body = json.dumps(headers).encode()
        return b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(body) + body
    if kind == "reply":
        return _reply(draw(st.sampled_from(["+OK accepted", "-ERR invalid", "+OK Job-UUID: x"])))
    if kind == "api":
        return _api(draw(st.binary(max_size=60)))
    return (b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n"
            b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")


BOGUS_LENGTHS = ["", "-1", " 12", "12 ", "1e3", "0x10", "²", "١٢", "99999999999999999999",
                 "300000000", "NaN", "+5"]


@st.composite
def garbage(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bytes", "length", "no-colon", "no-type", "truncated",
                                 "oversized", "long-header"]))
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=80))
    if kind == "length":
        bogus = draw(st.sampled_from(BOGUS_LENGTHS) | st.text(max_size=6))
        ctype = draw(st.sampled_from(["text/event-plain", "api/response", "command/reply"]))
        return f"Content-Length: {bogus}\nContent-Type: {ctype}\n\n".encode()
    if kind == "no-colon":
        return b"Content-Type: text/event-plain\n" + draw(st.binary(max_size=20)) + b"\n\n"
    if kind == "no-type":
        return b"Reply-Text: +OK\n\n"
    if kind == "truncated":
        frame = draw(valid_frames())
        return frame[: draw(st.integers(1, max(1, len(frame) - 1)))]
    if kind == "oversized":
        ctype = draw(st.sampled_from(["text/event-plain", "text/event-json", "api/response"]))
        size = max_body(ctype) + draw(st.integers(1, 10**9))
        return f"Content-Length: {size}\nContent-Type: {ctype}\n\nEvent-Name: X\n".encode()
    return b"X-Long: " + b"a" * (MAX_HEADER_BYTES + draw(st.integers(-12, 12))) + b"\n"


def cut_points(stream_len: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, stream_len), max_size=12)


# --------------------------------------------------------------------------- properties


@FUZZ
@given(st.data(), st.lists(valid_frames(), max_size=6), st.booleans())
def test_valid_streams_parse_exactly_at_any_split(data: st.DataObject, frames: list[bytes],
                                                  events: bool) -> None:
    stream = b"".join(frames)
    want = expected(stream, events)
    assert not want.error and len(want.messages) == len(frames)
    cuts = data.draw(cut_points(len(stream)))
    assert run_parser(stream, cuts, events) == want


@FUZZ
@given(st.data(), st.lists(valid_frames(), max_size=3), garbage(),
       st.lists(valid_frames(), min_size=1, max_size=3), st.booleans())
def test_garbage_is_an_error_or_exactly_what_the_rules_say(
        data: st.DataObject, before: list[bytes], junk: bytes, after: list[bytes],
        events: bool) -> None:
    stream = b"".join(before) + junk + b"".join(after)
    cuts = data.draw(cut_points(len(stream)))
    got = run_parser(stream, cuts, events)
    assert got == expected(stream, events)
    if not reference(junk).error:  # the "garbage" was frames: what follows is exact
        tail = expected(b"".join(after), events).messages
        assert got.messages[len(got.messages) - len(tail):] == tail


@FUZZ
@given(st.data(), st.binary(max_size=400), st.booleans())
def test_random_bytes_never_crash_and_do_not_depend_on_splits(
        data: st.DataObject, stream: bytes, events: bool) -> None:
    cuts = data.draw(cut_points(len(stream)))
    assert run_parser(stream, cuts, events) == expected(stream, events)


@FUZZ
@given(plain_events())
def test_no_value_or_body_forges_a_header(event: tuple[dict[str, str], str | None]) -> None:
    headers, body = event
    frame = serialize_plain_event(headers, body)
    (item,) = FrameParser(on_malformed=lambda f: None).feed_events(frame)
    parsed = item if isinstance(item, PlainEvent) else parse_event(item)
    # what FreeSWITCH's encoding gives back: a `%XX` already in a value stays as it is
    sent = {name: fs_url_decode(fs_url_encode(value)) for name, value in headers.items()}
    for name, value in sent.items():
        assert parsed.get(name) == value
    assert parsed.get("Unique-ID") == sent.get("Unique-ID")
    assert parsed.get("forged") is None
    assert parsed.body == (body or None)
    decoded = parsed.headers()
    if body is not None:
        assert decoded.pop("Content-Length") == str(len(body.encode()))
    assert decoded == sent  # no other header appeared


@FUZZ
@given(st.sampled_from(["text/event-plain", "text/event-json", "text/event-xml"]),
       st.binary(max_size=300))
def test_event_bodies_parse_or_raise_the_protocol_error(ctype: str, body: bytes) -> None:
    try:
        event = parse_event(Message(ctype, {}, body))
    except EslProtocolError:
        return
    assert event.name
