"""esl.frames against the real FreeSWITCH captures and against hostile input."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from pathlib import Path

import pytest
from esl_support import ClientFactory, Recorder

from esl_recorder.errors import EslProtocolError
from esl_recorder.esl.frames import (
    EVENT_CONTENT_TYPES,
    MAX_EVENT_BYTES,
    MAX_HEADER_BYTES,
    MAX_REPLY_BYTES,
    Event,
    FrameParser,
    MalformedFrame,
    Message,
    PlainEvent,
    make_event,
    max_body,
    parse_event,
    serialize_plain_event,
)
from esl_recorder.testing.fakeswitch import FakeSwitch
from esl_recorder.testing.transcripts import read_blocks, received_stream, wire_dir

CAPTURES = sorted(wire_dir().glob("*.txt"))


def _conns(path: Path) -> list[int]:
    return sorted({b.conn for b in read_blocks(path) if b.kind == "RECV"})


def _parse_all(data: bytes) -> tuple[list[Message], list[MalformedFrame]]:
    bad: list[MalformedFrame] = []
    parser = FrameParser(on_malformed=bad.append)
    msgs = parser.feed(data)
    parser.close()
    return msgs, bad


def _events(name: str) -> list[Event]:
    blocks = read_blocks(wire_dir() / name)
    msgs, bad = _parse_all(received_stream(blocks, 1))
    assert not bad
    return [parse_event(m) for m in msgs if m.content_type in EVENT_CONTENT_TYPES]


def test_captures_exist() -> None:
    assert len(CAPTURES) >= 10


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_every_recv_message_parses_alone(path: Path) -> None:
    for block in read_blocks(path):
        if block.kind != "RECV":
            continue
        msgs, bad = _parse_all(block.payload)
        assert not bad and len(msgs) == 1, block
        msg = msgs[0]
        assert msg.content_type == block.hints["ctype"]
        if "Content-Length" in msg.headers:
            assert len(msg.body) == int(msg.headers["Content-Length"])
        if msg.content_type in EVENT_CONTENT_TYPES:
            event = parse_event(msg)
            assert event.name == block.hints["event"]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_stream_in_random_chunks_gives_same_messages(path: Path) -> None:
    blocks = read_blocks(path)
    rng = random.Random(path.name)
    for conn in _conns(path):
        stream = received_stream(blocks, conn)
        expected = [b.payload for b in blocks if b.kind == "RECV" and b.conn == conn]
        whole, bad = _parse_all(stream)
        assert not bad and len(whole) == len(expected)
        for max_chunk in (1, 7, 700, 65536):
            parser = FrameParser(on_malformed=lambda f: pytest.fail(f.describe()))
            got: list[Message] = []
            pos = 0
            while pos < len(stream):
                size = rng.randint(1, max_chunk)
                got += parser.feed(stream[pos : pos + size])
                pos += size
            assert got == whole
            assert parser.buffered == 0


def test_envelope_headers_in_any_order() -> None:
    event = serialize_plain_event({"Event-Name": "X", "Unique-ID": "u"})
    body = event.split(b"\n\n", 1)[1]
    flipped = b"Content-Type: text/event-plain\nContent-Length: %d\n\n" % len(body) + body
    msgs, bad = _parse_all(flipped + event)
    assert [parse_event(m).get("Unique-ID") for m in msgs] == ["u", "u"] and not bad


def test_background_job_bodies_preserved_exactly() -> None:
    files = ["events_plain_call.txt", "errors.txt", "record_variants.txt"]
    bodies = []
    for name in files:
        for event in _events(name):
            if event.name == "BACKGROUND_JOB":
                bodies.append(event.body)
    assert "-ERR Cannot locate session!\n" in bodies
    assert "-ERR no_such_command Command not found!\n" in bodies
    assert any(b and b.startswith("+OK ") and b.endswith("\n") and len(b) == 41 for b in bodies)
    job = next(e for e in _events("events_plain_call.txt") if e.name == "BACKGROUND_JOB")
    assert job.body == "+OK 09d4d763-31c6-4abf-87a5-697622b244e4\n"
    assert job.get("Job-Command-Arg") == "loopback/tone_b/rectest tone_a XML rectest"
    assert job.get("Content-Length") == "41"


def test_json_and_xml_bodies() -> None:
    (json_job,) = [e for e in _events("events_json_call.txt") if e.name == "BACKGROUND_JOB"]
    (xml_job,) = [e for e in _events("events_xml_call.txt") if e.name == "BACKGROUND_JOB"]
    assert json_job.body == "+OK 5e94a0c2-8285-4520-8b8b-290813e02915\n"
    assert xml_job.body == "+OK 7b77ed72-ec35-477c-9715-9ac8cc0d3eab"
    assert "_body" not in json_job.headers()
    assert xml_job.get("FreeSWITCH-IPv6") == json_job.get("FreeSWITCH-IPv6") == "fd00::2"


def _shape(events: list[Event]) -> tuple[Counter[tuple[str, str]], list[str]]:
    """(name, channel role) multiset, and the A leg's event-name sequence."""
    roles: dict[str, str] = {}
    pairs: Counter[tuple[str, str]] = Counter()
    a_leg: list[str] = []
    for event in events:
        key = event.get("Unique-ID") or event.get("Job-UUID") or "?"
        role = roles.setdefault(key, f"uuid{len(roles)}")
        pairs[(event.name, role)] += 1
        if role == "uuid0":
            a_leg.append(event.name)
    return pairs, a_leg


def test_plain_json_xml_give_same_names_and_ids() -> None:
    shapes = [_shape(_events(f"events_{fmt}_call.txt")) for fmt in ("plain", "json", "xml")]
    assert shapes[0] == shapes[1] == shapes[2]
    assert shapes[0][1][4:6] == ["RECORD_START", "RECORD_STOP"]


def test_json_and_plain_give_same_headers_for_same_event() -> None:
    for event in _events("events_json_call.txt"):
        wire = serialize_plain_event(event.headers(), event.body)
        (msg,), bad = _parse_all(wire)
        plain = parse_event(msg)
        assert not bad and plain.headers() == event.headers() and plain.body == event.body


def test_plain_and_xml_decoding_agree_on_capture() -> None:
    plain = _events("events_plain_call.txt")[0].headers()
    xml = _events("events_xml_call.txt")[0].headers()
    assert plain["Event-Date-GMT"].endswith(" GMT") and xml["Event-Date-GMT"].endswith(" GMT")
    assert set(plain) - set(xml) <= {"Content-Length"}


def test_forged_caller_name_cannot_override_unique_id() -> None:
    forged = "x\nUnique-ID: forged"
    wire = serialize_plain_event({
        "Event-Name": "CHANNEL_CREATE",
        "Caller-Caller-ID-Name": forged,
        "Unique-ID": "real-uuid",
    })
    assert b"x%0AUnique-ID%3A%20forged" in wire
    (msg,), _ = _parse_all(wire)
    event = parse_event(msg)
    assert event.get("Unique-ID") == "real-uuid"
    assert event.get("Caller-Caller-ID-Name") == forged
    assert event.headers()["Unique-ID"] == "real-uuid"


def test_forged_header_before_real_one_in_capture() -> None:
    blocks = read_blocks(wire_dir() / "events_plain_call.txt")
    payload = next(b.payload for b in blocks if b.hints.get("event") == "CHANNEL_CREATE")
    text = payload.split(b"\n\n", 1)[1]
    text = text.replace(b"Event-Name: CHANNEL_CREATE\n",
                        b"Event-Name: CHANNEL_CREATE\nCaller-Caller-ID-Name: "
                        b"x%0AUnique-ID%3A%20forged\n", 1)
    wire = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(text) + text
    (msg,), _ = _parse_all(wire)
    assert parse_event(msg).get("Unique-ID") == "09d4d763-31c6-4abf-87a5-697622b244e4"


def test_lookup_never_matches_body_text() -> None:
    body = "Unique-ID: from-body\nRecord-File-Path: /evil.wav\nEvent-Name: FAKE\n"
    wire = serialize_plain_event({"Event-Name": "BACKGROUND_JOB", "Job-UUID": "j"}, body)
    (msg,), _ = _parse_all(wire)
    event = parse_event(msg)
    assert event.name == event.get("Event-Name") == "BACKGROUND_JOB"
    assert event.get("Unique-ID") is None
    assert event.get("Record-File-Path", "dflt") == "dflt"
    assert "Unique-ID" not in event.headers()
    assert event.body == body


def test_lookup_matches_whole_names_only() -> None:
    event = parse_event(_parse_all(serialize_plain_event({
        "Event-Name": "X", "Caller-Unique-ID": "caller", "Other-Leg-Unique-ID": "other",
        "variable_Unique-ID": "var",
    }))[0][0])
    assert event.get("Unique-ID") is None
    assert event.get("Caller-Unique-ID") == "caller"
    assert event.get("Unique-ID") is None  # asked again: still a miss


def test_header_values_decoded_only_once() -> None:
    event = parse_event(_parse_all(serialize_plain_event(
        {"Event-Name": "X", "Caller-Caller-ID-Name": "100%25 sure"}))[0][0])
    assert event.get("Caller-Caller-ID-Name") == "100% sure"


def test_parse_event_errors() -> None:
    with pytest.raises(EslProtocolError):
        parse_event(Message("text/event-json", {}, b"{not json"))
    with pytest.raises(EslProtocolError):
        parse_event(Message("text/event-xml", {}, b"<event><headers>"))
    with pytest.raises(EslProtocolError):
        parse_event(Message("text/event-plain", {}, b"Unique-ID: x\n\n"))
    with pytest.raises(EslProtocolError):
        parse_event(Message("api/response", {}, b"+OK"))


def test_make_event() -> None:
    event = make_event({"Event-Name": "RECORD_STOP", "Unique-ID": "u"}, body=None)
    assert event.name == "RECORD_STOP" and event.unique_id == "u" and event.body is None
    assert "Unique-ID" in event and "Nope" not in event


# ------------------------------------------------------------------ malformed input

GOOD = serialize_plain_event({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": "after"})
REPLY = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


def _names(msgs: list[Message]) -> list[str]:
    return [parse_event(m).name if m.content_type in EVENT_CONTENT_TYPES else m.content_type
            for m in msgs]


@pytest.mark.parametrize("garbage, reason", [
    (b"Content-Length: abc\nContent-Type: text/event-plain\n\nEvent-Name: X\n\n", "not a number"),
    (b"Content-Length: -3\nContent-Type: api/response\n\nabc", "not a number"),
    (b"Content-Length: \xc2\xb2\nContent-Type: api/response\n\nabc", "not a number"),
    (b"Content-Length: 99999999999999\nContent-Type: api/response\n\n", "above"),
    (b"Content-Length: 300000000\nContent-Type: text/event-plain\n\nEvent-Name: X\n", "above"),
    (b"Reply-Text: +OK\n\n", "without Content-Type"),
    (b"Content-Length: 5\n\nhello", "without Content-Type"),
    (b"garbage line\nmore garbage\n\n", "not 'Name: value'"),
    (b"Content-Type: command/reply\nnonsense\nReply-Text: +OK\n\n", "not 'Name: value'"),
    (b"Content-Type: text/html\n\n", "unknown Content-Type"),
    (b"Content-Type: ", "unknown Content-Type"),  # merges with the next frame's first line
    (b"X: " + b"y" * (MAX_HEADER_BYTES + 2), "header block"),
    (b"X: " + b"y" * MAX_HEADER_BYTES + b"\n\n", "header block"),
])
def test_malformed_frame_is_reported_once_and_ends_the_parse(garbage: bytes,
                                                             reason: str) -> None:
    """After a framing error nothing is trusted: what came before is returned, the error
    reported once, nothing after it parsed (the client drops the connection), nothing held."""
    stream = REPLY + garbage + GOOD + REPLY
    for events in (False, True):
        for chunk in (len(stream), 1, 13, 4096):
            bad: list[MalformedFrame] = []
            parser = FrameParser(on_malformed=bad.append)
            msgs: list[Message | PlainEvent] = []
            for i in range(0, len(stream), chunk):
                msgs += parser.feed_events(stream[i : i + chunk]) if events else parser.feed(
                    stream[i : i + chunk])
            parser.close()
            assert [m.content_type for m in msgs] == ["command/reply"]
            assert len(bad) == 1 and reason in bad[0].reason, bad
            assert parser.failed == bad[0].reason and parser.buffered == 0


def test_oversized_frame_is_refused_before_its_body_is_waited_for() -> None:
    """An event announcing 300,000,000 bytes (above the cap the code stated, taken by the
    fast path all the same) was waited for: every later event swallowed, nothing reported."""
    bad: list[MalformedFrame] = []
    parser = FrameParser(on_malformed=bad.append)
    head = b"Content-Length: 300000000\nContent-Type: text/event-plain\n\nEvent-Name: X\n"
    assert parser.feed_events(head) == [] and len(bad) == 1
    assert parser.feed_events(GOOD * 100) == [] and parser.buffered == 0
    assert max_body("text/event-plain") == MAX_EVENT_BYTES < 300_000_000
    assert max_body("api/response") == MAX_REPLY_BYTES


def test_bad_content_length_inside_event_stream_is_reported_where_it_is() -> None:
    blocks = read_blocks(wire_dir() / "events_plain_call.txt")
    events = [b.payload for b in blocks if b.hints.get("ctype") == "text/event-plain"]
    broken = events[6].replace(b"Content-Length: 646\n", b"Content-Length: 6x6\n", 1)
    assert broken != events[6]  # the BACKGROUND_JOB, whose body holds its own Content-Length
    msgs, bad = _parse_all(b"".join([*events[:6], broken, *events[7:]]))
    assert len(bad) == 1 and "not a number" in bad[0].reason
    assert len(msgs) == 6


def test_truncated_frame_reported_at_close() -> None:
    bad: list[MalformedFrame] = []
    parser = FrameParser(on_malformed=bad.append)
    assert parser.feed(GOOD + GOOD[:50]) != []
    assert parser.buffered == 50
    parser.close()
    assert len(bad) == 1 and "truncated" in bad[0].reason and bad[0].data == GOOD[:50]


def test_stray_blank_lines_between_frames_are_ignored() -> None:
    msgs, bad = _parse_all(b"\n\n" + REPLY + b"\n" + GOOD)
    assert _names(msgs) == ["command/reply", "CHANNEL_ANSWER"] and not bad


def test_callback_exception_does_not_break_parser() -> None:
    def boom(frame: MalformedFrame) -> None:
        raise RuntimeError("callback bug")

    parser = FrameParser(on_malformed=boom)
    assert _names(parser.feed(REPLY + b"junk\n\n" + REPLY)) == ["command/reply"]
    assert parser.failed


def test_large_body_arriving_in_small_chunks() -> None:
    body = b"x" * 3_000_000
    frame = b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body
    parser = FrameParser()
    got: list[Message] = []
    for i in range(0, len(frame), 4096):
        got += parser.feed(frame[i : i + 4096])
    assert len(got) == 1 and got[0].body == body


def test_body_holding_header_lines_and_content_length() -> None:
    body = "Event-Name: FAKE\nUnique-ID: b\nContent-Length: 3\n\nabc\n\nJob-UUID: forged\n"
    event = parse_event(_parse_all(serialize_plain_event(
        {"Event-Name": "BACKGROUND_JOB", "Job-UUID": "real"}, body))[0][0])
    assert event.body == body
    assert event.get("Job-UUID") == "real" and event.get("Unique-ID") is None
    assert event.get("Event-Name") == "BACKGROUND_JOB"
    assert event.get("Content-Length") == str(len(body))
    assert event.headers() == {"Event-Name": "BACKGROUND_JOB", "Job-UUID": "real",
                               "Content-Length": str(len(body))}


def test_content_length_header_not_last_is_unusual_but_handled() -> None:
    text = b"Event-Name: X\nContent-Length: 0\nUnique-ID: u\n\n"
    wire = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(text) + text
    event = parse_event(_parse_all(wire)[0][0])
    assert event.get("Unique-ID") == "u" and event.body is None


@pytest.mark.parametrize("split", [3, 20, 40])
def test_partial_event_header_then_other_frames(split: int) -> None:
    padding = REPLY * 30  # the stale scan position would land past the next reply's end
    stream = padding + GOOD + REPLY + GOOD + REPLY
    cut = len(padding) + split
    parser = FrameParser(on_malformed=lambda f: pytest.fail(f.describe()))
    msgs = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
    assert _names(msgs)[-4:] == ["CHANNEL_ANSWER", "command/reply", "CHANNEL_ANSWER",
                                 "command/reply"]
    assert len(msgs) == 34 and parser.buffered == 0


def test_partial_envelope_does_not_leave_a_stale_scan_position() -> None:
    head_len = GOOD.index(b"\n\n") + 1  # the whole envelope but its last newline
    parser = FrameParser(on_malformed=lambda f: pytest.fail(f.describe()))
    assert parser.feed(GOOD[:head_len]) == []
    assert _names(parser.feed(GOOD[head_len:])) == ["CHANNEL_ANSWER"]
    assert _names(parser.feed(REPLY)) == ["command/reply"]  # short frame at buffer start


def test_every_split_point_of_a_mixed_stream() -> None:
    api = b"Content-Type: api/response\nContent-Length: 4\n\ntrue"
    job = serialize_plain_event({"Event-Name": "BACKGROUND_JOB", "Job-UUID": "j"}, "+OK\n")
    stream = REPLY + GOOD + api + REPLY + job + REPLY + GOOD
    whole, bad = _parse_all(stream)
    assert len(whole) == 7 and not bad
    bounds = [0]
    for frame in (REPLY, GOOD, api, REPLY, job, REPLY, GOOD):
        bounds.append(bounds[-1] + len(frame))
    for a in range(1, len(stream)):
        for b in {a, min(len(stream), a + 1), min(len(stream), a + 45),
                  *(x for x in bounds if x > a)}:
            parser = FrameParser(on_malformed=lambda f: pytest.fail(f.describe()))
            got = parser.feed(stream[:a]) + parser.feed(stream[a:b]) + parser.feed(stream[b:])
            assert got == whole, (a, b)


# ------------------------------------------------------------------ feed_events (the client's path)


def _event_view(event: Event) -> tuple[str, dict[str, str], str | None]:
    return event.name, event.headers(), event.body


def _feed_events_in_chunks(stream: bytes, sizes: list[int]) -> list[Message | PlainEvent]:
    parser = FrameParser(on_malformed=lambda f: pytest.fail(f.describe()))
    got: list[Message | PlainEvent] = []
    pos = 0
    for size in sizes:
        items = parser.feed_events(stream[pos : pos + size])
        assert parser.others == sum(not isinstance(i, PlainEvent) for i in items)
        got += items
        pos += size
    assert pos >= len(stream) and parser.buffered == 0
    return got


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_feed_events_gives_the_events_of_feed(path: Path) -> None:
    blocks = read_blocks(path)
    rng = random.Random(path.name)
    for conn in _conns(path):
        stream = received_stream(blocks, conn)
        whole, _ = _parse_all(stream)
        expected = [_event_view(parse_event(m)) if m.content_type == "text/event-plain" else m
                    for m in whole]
        for max_chunk in (1, 700, 65536, len(stream)):
            sizes, total = [], 0
            while total < len(stream):
                sizes.append(rng.randint(1, max_chunk))
                total += sizes[-1]
            got = _feed_events_in_chunks(stream, sizes)
            assert [_event_view(i) if isinstance(i, PlainEvent) else i for i in got] == expected


def test_feed_events_keeps_the_forgery_and_body_rules() -> None:
    forged = serialize_plain_event({"Event-Name": "CHANNEL_CREATE",
                                    "Caller-Caller-ID-Name": "x\nUnique-ID: forged",
                                    "Unique-ID": "real-uuid"})
    body = "Unique-ID: from-body\nRecord-File-Path: /evil.wav\nContent-Length: 3\n\nabc\n"
    job = serialize_plain_event({"Event-Name": "BACKGROUND_JOB", "Job-UUID": "j"}, body)
    first, second = FrameParser().feed_events(forged + job)
    assert isinstance(first, PlainEvent) and isinstance(second, PlainEvent)
    assert first.get("Unique-ID") == "real-uuid"
    assert first.get("Caller-Caller-ID-Name") == "x\nUnique-ID: forged"
    assert second.get("Unique-ID") is None and second.get("Record-File-Path") is None
    assert second.get("Job-UUID") == "j" and second.body == body


def test_feed_events_tail_headers_found_from_the_end_are_the_real_ones() -> None:
    stop = serialize_plain_event({"Event-Name": "RECORD_STOP", "Unique-ID": "u",
                                  "Caller-Caller-ID-Name": "a%0ARecord-File-Path: /evil.wav",
                                  "variable_x": "Record-File-Path: /evil2.wav",
                                  "Record-File-Path": "/real path.wav",
                                  "Record-Completion-Cause": "success-maxtime"})
    (event,) = FrameParser().feed_events(stop)
    assert isinstance(event, PlainEvent)
    assert event.get("Record-File-Path") == "/real path.wav"
    assert event.get("Record-Completion-Cause") == "success-maxtime"
    assert event.get("Recording-Variable-x") is None


FORGED_BODY = "Record-File-Path: /forged.wav\nUnique-ID: forged\nOther-Leg-Unique-ID: forged\n"


def _stop_with_forged_body(name: str) -> bytes:
    """A RECORD_STOP-shaped event (named `name`) whose body holds a later header line."""
    return serialize_plain_event({"Event-Name": name, "Unique-ID": "u",
                                  "Record-File-Path": "/real.wav"},
                                 FORGED_BODY)


@pytest.mark.parametrize("name", ["RECORD_STOP", "CUSTOM", "CHANNEL_HANGUP"])
def test_headers_come_from_the_header_block_whatever_the_event(name: str) -> None:
    wire = _stop_with_forged_body(name)
    (event,) = FrameParser().feed_events(wire)
    ((msg,), _) = _parse_all(wire)
    for ev in (event, parse_event(msg)):
        assert ev.name == name
        assert ev.get("Record-File-Path") == "/real.wav"
        assert ev.get("Unique-ID") == "u"
        assert ev.get("Other-Leg-Unique-ID") is None
        assert ev.headers()["Record-File-Path"] == "/real.wav"
        assert ev.body == FORGED_BODY


def test_headers_from_the_header_block_through_the_client(
        make_client: ClientFactory, recorder: Recorder, tmp_path: Path) -> None:
    with FakeSwitch(recordings_root=str(tmp_path)) as fs:
        client = make_client(fs.address)
        client.start()
        assert client.wait_connected(5)
        fs.wait_for_command("event ")
        fs.inject_raw(_stop_with_forged_body("RECORD_STOP"))
        recorder.wait(lambda: recorder.count("event:RECORD_STOP") == 1)
    (stop,) = recorder.events
    assert stop.get("Record-File-Path") == "/real.wav"


def test_lookups_agree_whatever_their_order() -> None:
    """The header block's end is found only when a lookup needs it (a tail header, or a line
    after a Content-Length line): no order of lookups changes an answer."""
    wire = _stop_with_forged_body("RECORD_STOP")
    names = ["Unique-ID", "Record-File-Path", "Other-Leg-Unique-ID", "Content-Length", "Nope"]
    seen = []
    for order in itertools.permutations(names):
        (event,) = FrameParser().feed_events(wire)
        seen.append({name: event.get(name) for name in order})
    assert all(answers == seen[0] for answers in seen)
    assert seen[0] == {"Unique-ID": "u", "Record-File-Path": "/real.wav",
                       "Other-Leg-Unique-ID": None, "Content-Length": str(len(FORGED_BODY)),
                       "Nope": None}


def test_feed_events_hands_odd_frames_to_the_checking_path() -> None:
    not_first = b"Unique-ID: u\nEvent-Name: X\n\n"
    short = b"Event-Name: AB"  # the frame ends before the newline of its first line
    stream = (b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(not_first)
              + not_first + REPLY
              + b"Content-Length: 14\nContent-Type: text/event-plain\n\n" + short + b"\n"
              + GOOD)
    parser = FrameParser(on_malformed=lambda f: None)
    items = parser.feed_events(stream)
    assert parser.others == 3  # the two odd events come as Messages, with the reply
    assert [type(i).__name__ for i in items] == ["Message", "Message", "Message", "PlainEvent"]
    assert isinstance(items[0], Message) and isinstance(items[2], Message)
    assert parse_event(items[0]).get("Unique-ID") == "u"
    assert parse_event(items[2]).name == "AB"


def test_plain_event_needs_the_newline_before_it() -> None:
    with pytest.raises(ValueError):
        PlainEvent(b"Event-Name: X\n\n", 0, 15)
    event = PlainEvent.from_bytes(b"Event-Name: X\nUnique-ID: u\n\n")
    assert event.name == "X" and event.unique_id == "u" and event.body is None


def test_contains_looks_at_the_event_as_sent_headers_and_body() -> None:
    raw = serialize_plain_event({"Event-Name": "RECORD_STOP", "Record-File-Path": "/rec/a b.wav"},
                                "body text")
    (event,) = FrameParser().feed_events(raw)
    assert event.contains("/rec/a%20b.wav") and not event.contains("/rec/a b.wav")
    assert event.contains("body text") and event.contains("Record-File-Path")
    assert not event.contains("/elsewhere")
    decoded = make_event({"Event-Name": "X", "Record-File-Path": "/rec/a.wav"}, "body")
    assert decoded.contains("/rec/a.wav") and decoded.contains("body")
    assert not decoded.contains("/elsewhere")
