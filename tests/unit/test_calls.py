"""The call lifecycle, fed with the events of real captures: FreeSWITCH events in (read
into domain facts by esl.ingest), domain call events out."""

from __future__ import annotations

from typing import Any

from esl_recorder.domain.calls import Call, CallEvent, CallState, CallTracker
from esl_recorder.domain.facts import ChannelAnswered, ChannelCreated, ChannelHungup
from esl_recorder.domain.ports import LiveCall
from esl_recorder.esl.frames import Event, FrameParser, PlainEvent, parse_event
from esl_recorder.esl.ingest import FactReader
from esl_recorder.settings import IdentitySettings
from esl_recorder.testing.transcripts import read_blocks, received_stream, wire_dir


def captured_events(name: str) -> list[Event]:
    parser = FrameParser()
    messages = parser.feed(received_stream(read_blocks(wire_dir() / name)))
    return [parse_event(m) for m in messages if m.content_type.startswith("text/event-")]


def feed(tracker: CallTracker, events: list[Event], ident: IdentitySettings | None = None
         ) -> list[tuple[CallEvent, str]]:
    seen: list[tuple[CallEvent, str]] = []
    tracker.subscribe(lambda event, call: seen.append((event, call.uuid)))
    reader = FactReader(ident or IdentitySettings())
    for event in events:
        fact = reader.channel("fs1", event)
        if fact is not None:
            tracker.apply(fact)
    return seen


def plain(headers: dict[str, str]) -> Event:
    return PlainEvent.from_bytes("".join(f"{k}: {v}\n" for k, v in headers.items()).encode())


def test_plain_call_is_tracked_from_create_to_release() -> None:
    tracker = CallTracker(IdentitySettings())
    events = captured_events("events_plain_call.txt")
    a_leg = next(e for e in events if e.name == "CHANNEL_CREATE").get("Unique-ID")
    states: list[CallState] = []
    tracker.subscribe(lambda event, call: states.append(call.state) if call.uuid == a_leg
                      else None)
    seen = feed(tracker, events)
    mine = [event for event, uuid in seen if uuid == a_leg]
    assert mine[0] is CallEvent.CREATED and mine[-2:] == [CallEvent.ENDED, CallEvent.RELEASED]
    assert mine.index(CallEvent.ANSWERED) < mine.index(CallEvent.ENDED)
    assert mine.count(CallEvent.ANSWERED) == 1 and mine.count(CallEvent.ENDED) == 1
    assert CallState.ANSWERED in states and states[-1] is CallState.ENDED
    assert len(tracker) == 0  # both legs completed their hangup


def test_an_ended_call_has_its_cause_and_ordered_times() -> None:
    tracker = CallTracker(IdentitySettings())
    ended: list[Call] = []
    tracker.subscribe(lambda event, call: ended.append(call) if event is CallEvent.ENDED
                      else None)
    feed(tracker, captured_events("events_plain_call.txt"))
    assert len(ended) == 2
    for call in ended:
        assert call.hungup and call.hangup_cause == "NORMAL_CLEARING"
        assert call.answered_at is not None and call.hungup_at is not None
        assert 0 < call.created_at <= call.answered_at <= call.hungup_at


def test_identity_comes_from_the_configured_channel_variables() -> None:
    ident = IdentitySettings(account_variable="loopback_leg", user_variable="read_codec",
                             device_variable="no_such_var")
    answer = next(e for e in captured_events("events_plain_call.txt")
                  if e.name == "CHANNEL_ANSWER")
    tracker = CallTracker(ident)
    fact = FactReader(ident).channel("fs1", answer)
    assert isinstance(fact, ChannelAnswered)
    call = tracker.apply(fact)
    assert call is not None
    assert (call.account, call.user, call.device) == ("A", "L16", "")


def test_json_and_plain_captures_give_the_same_calls() -> None:
    for name in ("events_plain_call.txt", "events_json_call.txt", "events_xml_call.txt"):
        tracker = CallTracker(IdentitySettings())
        seen = feed(tracker, captured_events(name))
        assert [e for e, _ in seen].count(CallEvent.ANSWERED) == 2, name
        assert len(tracker) == 0, name


def test_a_placed_call_is_created_then_answered_never_before_it_started() -> None:
    """Bandwidth's call events: create, then answer, then hangup; startTime <= activeTime
    <= endTime, all from FreeSWITCH's clock once it reports the call (the API's clock may
    be ahead of it)."""
    tracker = CallTracker(IdentitySettings())
    call = Call(uuid="c1", node="fs1", direction="outbound", created_at=1000.0,
                source="bandwidth")
    tracker.place(call)
    seen = feed(tracker, [
        plain({"Event-Name": "CHANNEL_CREATE", "Unique-ID": "c1", "Answer-State": "ringing",
               "Event-Date-Timestamp": "999000000"}),
        plain({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": "c1", "Answer-State": "answered",
               "Event-Date-Timestamp": "999500000"}),
        plain({"Event-Name": "CHANNEL_HANGUP", "Unique-ID": "c1", "Hangup-Cause": "USER_BUSY",
               "Event-Date-Timestamp": "999700000"}),
    ])
    assert [e for e, _ in seen] == [CallEvent.CREATED, CallEvent.ANSWERED, CallEvent.ENDED]
    assert (call.created_at, call.answered_at, call.hungup_at) == (999.0, 999.5, 999.7)
    assert call.hangup_cause == "USER_BUSY"


def test_an_answer_before_freeswitch_clock_catches_up_is_not_before_the_start() -> None:
    tracker = CallTracker(IdentitySettings())
    call = Call(uuid="c1", node="fs1", created_at=1000.0, source="bandwidth")
    tracker.place(call)
    tracker.apply(ChannelAnswered("c1", "fs1", None, answered=True))  # no time in the event
    assert call.answered_at == 1000.0
    later = Call(uuid="c2", node="fs1", created_at=1000.0, source="bandwidth")
    tracker.place(later)
    tracker.apply(ChannelCreated("c2", "fs1", None))  # no time: the API's start stays
    tracker.apply(ChannelAnswered("c2", "fs1", 999.5, answered=True))
    assert later.created_at == 1000.0 and later.answered_at == 1000.0


def test_a_placed_call_is_saved_at_each_step() -> None:
    saved: list[tuple[str, CallState]] = []

    class Repo:
        def save_call(self, call: Call) -> None:
            saved.append((call.uuid, call.state))

        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"unexpected repository call {name}")

    tracker = CallTracker(IdentitySettings(), Repo())  # type: ignore[arg-type]
    tracker.place(Call(uuid="c1", node="fs1", source="bandwidth", created_at=1.0))
    tracker.apply(ChannelCreated("c1", "fs1", 2.0, ringing=True))
    tracker.apply(ChannelAnswered("c1", "fs1", 3.0, answered=True))
    tracker.apply(ChannelHungup("c1", "fs1", 4.0, cause="NORMAL_CLEARING"))
    tracker.apply(ChannelCreated("other", "fs1", 2.0))  # nobody's: not saved
    assert saved == [("c1", CallState.CREATED), ("c1", CallState.ANSWERED),
                     ("c1", CallState.ENDED)]


def test_resync_replaces_a_nodes_calls() -> None:
    tracker = CallTracker(IdentitySettings())
    tracker.resync("fs1", [LiveCall("a", "inbound", True, "", ""),
                           LiveCall("b", "outbound", False, "", "")])
    tracker.resync("fs2", [LiveCall("c", "", False, "", "")])
    present = tracker.resync("fs1", [LiveCall("a", "", True, "", "")])
    assert present == {"a"}
    assert sorted(c.uuid for c in tracker.calls()) == ["a", "c"]
    call_a = tracker.get("a")
    assert call_a is not None and call_a.answered


def test_a_resynced_call_knows_its_identity_once_an_event_shows_it() -> None:
    ident = IdentitySettings()
    tracker = CallTracker(ident)
    tracker.resync("fs1", [LiveCall("u1", "inbound", False, "", "")])
    call = tracker.get("u1")
    assert call is not None and not call.identity_known
    feed(tracker, [plain({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": "u1",
                          f"variable_{ident.account_variable}": "acme"})], ident)
    assert call.identity_known and call.account == "acme" and call.answered


def test_a_dialects_call_that_ended_while_away_ends_at_resync() -> None:
    tracker = CallTracker(IdentitySettings())
    events: list[tuple[CallEvent, str]] = []
    tracker.subscribe(lambda event, call: events.append((event, call.uuid)))
    tracker.adopt(Call(uuid="kept", node="fs1", state=CallState.ANSWERED, source="bandwidth",
                       answered_at=5.0))
    tracker.adopt(Call(uuid="plain", node="fs1", state=CallState.ANSWERED))
    assert tracker.resync("fs1", []) == set()
    assert events == [(CallEvent.ENDED, "kept")]  # nobody is in charge of "plain"
    assert len(tracker) == 0


def _moved_after(events: list[Event], name: str, uuid: str, after: str) -> list[Event]:
    """The capture with `uuid`'s `name` event delivered right after its `after` event, as
    FreeSWITCH's event dispatch threads sometimes deliver a channel's events under load."""
    moved = next(e for e in events if e.name == name and e.get("Unique-ID") == uuid)
    rest = [e for e in events if e is not moved]
    at = next(i for i, e in enumerate(rest) if e.name == after and e.get("Unique-ID") == uuid)
    return [*rest[:at + 1], moved, *rest[at + 1:]]


def test_a_hangup_delivered_after_the_hangup_complete_is_not_a_new_call() -> None:
    """Seen on the live policy bench under load: a leg's CHANNEL_HANGUP after its
    CHANNEL_HANGUP_COMPLETE made a new, ended call that nothing would ever release."""
    events = captured_events("events_plain_call.txt")
    a_leg = next(e for e in events if e.name == "CHANNEL_CREATE").get("Unique-ID") or ""
    tracker = CallTracker(IdentitySettings())
    seen = feed(tracker, _moved_after(events, "CHANNEL_HANGUP", a_leg,
                                      "CHANNEL_HANGUP_COMPLETE"))
    assert len(tracker) == 0
    mine = [event for event, uuid in seen if uuid == a_leg]
    assert mine.count(CallEvent.ENDED) == 1 and mine[-1] is CallEvent.RELEASED


def test_an_answer_delivered_before_the_create_is_one_call() -> None:
    """mod_loopback marks the originated leg answered from the other leg's thread, which
    can run before the leg's own thread fires its CHANNEL_CREATE (after its init)."""
    events = captured_events("events_plain_call.txt")
    a_leg = next(e for e in events if e.name == "CHANNEL_CREATE").get("Unique-ID") or ""
    tracker = CallTracker(IdentitySettings())
    calls: list[Call] = []
    tracker.subscribe(lambda event, call: calls.append(call) if call.uuid == a_leg else None)
    reordered = _moved_after(events, "CHANNEL_CREATE", a_leg, "CHANNEL_ANSWER")
    seen = feed(tracker, reordered)
    mine = [event for event, uuid in seen if uuid == a_leg]
    assert mine.count(CallEvent.ANSWERED) == 1 and mine.count(CallEvent.ENDED) == 1
    assert len({id(call) for call in calls}) == 1 and calls[-1].direction == "outbound"
    assert len(tracker) == 0
