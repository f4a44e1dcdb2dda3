"""Call tracking fed with the events of real captures."""

from esl_recorder.domain.calls import CallTracker
from esl_recorder.esl.frames import FrameParser, parse_event
from esl_recorder.settings import IdentitySettings
from esl_recorder.testing.transcripts import read_blocks, received_stream, wire_dir


def captured_events(name: str) -> list:
    parser = FrameParser()
    messages = parser.feed(received_stream(read_blocks(wire_dir() / name)))
    return [parse_event(m) for m in messages if m.content_type.startswith("text/event-")]


def test_plain_call_is_tracked_from_create_to_hangup_complete() -> None:
    tracker = CallTracker(IdentitySettings())
    seen: list[tuple[str, bool]] = []
    tracker.subscribe(lambda name, call: seen.append((name, call.answered)))
    events = captured_events("events_plain_call.txt")
    a_leg = next(e for e in events if e.name == "CHANNEL_CREATE").get("Unique-ID")
    for event in events:
        tracker.handle("fs1", event)
        if event.name == "CHANNEL_ANSWER" and event.get("Unique-ID") == a_leg:
            call = tracker.get(a_leg)
            assert call is not None and call.answered and call.direction == "outbound"
    assert ("CHANNEL_ANSWER", True) in seen
    assert len(tracker) == 0  # both legs completed their hangup


def test_identity_comes_from_the_configured_channel_variables() -> None:
    ident = IdentitySettings(account_variable="loopback_leg", user_variable="read_codec",
                             device_variable="no_such_var")
    tracker = CallTracker(ident)
    events = captured_events("events_plain_call.txt")
    answer = next(e for e in events if e.name == "CHANNEL_ANSWER")
    call = tracker.handle("fs1", answer)
    assert call is not None
    assert (call.account, call.user, call.device) == ("A", "L16", "")


def test_json_and_plain_captures_give_the_same_calls() -> None:
    for name in ("events_plain_call.txt", "events_json_call.txt", "events_xml_call.txt"):
        tracker = CallTracker(IdentitySettings())
        answered = []
        tracker.subscribe(lambda n, c, a=answered: a.append(c.uuid) if n == "CHANNEL_ANSWER"
                          else None)
        for event in captured_events(name):
            tracker.handle("fs1", event)
        assert len(answered) == 2, name
        assert len(tracker) == 0, name


def test_resync_replaces_a_nodes_calls() -> None:
    tracker = CallTracker(IdentitySettings())
    tracker.resync("fs1", [{"uuid": "a", "direction": "inbound", "callstate": "ACTIVE"},
                           {"uuid": "b", "direction": "outbound", "callstate": "RINGING"}])
    tracker.resync("fs2", [{"uuid": "c"}])
    present = tracker.resync("fs1", [{"uuid": "a", "callstate": "ACTIVE"}])
    assert present == {"a"}
    assert sorted(c.uuid for c in tracker.calls()) == ["a", "c"]
    call_a = tracker.get("a")
    assert call_a is not None and call_a.answered
