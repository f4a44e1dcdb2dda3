"""The simulator checked against the real server: each scenario runs on both, at the same time,
and every difference that matters (see compare.py) fails the test with where it is."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from fakeswitch.wireclient import parse_message
from integration.conftest import FreeSwitchAddress

from esl_recorder.testing.fakeswitch import FakeSwitch
from esl_recorder.testing.fakeswitch import commands as fs_commands

from .compare import compare, compare_events, compare_exchanges
from .scenarios import SCENARIOS, new_uuid
from .transcript import Exchange, Lockstep, Session, Transcript

DURATION_DIFF = re.compile(r"file (.+): duration ")


@pytest.fixture
def simulator() -> Iterator[FakeSwitch]:
    sim = FakeSwitch(clock="realtime")
    sim.start()
    yield sim
    sim.stop()


def play(name: str, sim: FakeSwitch, fs: FreeSwitchAddress,
         tmp_path: Path) -> tuple[Transcript, Transcript]:
    """Run scenario `name` on both servers at once; the same uuid on both."""
    uuid = new_uuid()
    live_root = Path(fs.recordings) / f"differential-{uuid}"
    sim_root = tmp_path / f"simulator-{uuid}"
    for root in (live_root, sim_root):
        root.mkdir(parents=True)

    lockstep = Lockstep()

    def run(target: str, address: tuple[str, int], password: str, root: Path) -> Transcript:
        session = Session(target, address, password, root, lockstep)
        try:
            SCENARIOS[name](session, uuid)
        finally:
            session.close()
        return session.transcript

    jobs = [gevent.spawn(run, "simulator", sim.address, sim.password, sim_root),
            gevent.spawn(run, "freeswitch", (fs.host, fs.port), fs.password, live_root)]
    gevent.joinall(jobs, timeout=60, raise_error=True)
    sim_t, live_t = (job.value for job in jobs)
    assert sim_t is not None and live_t is not None, "a scenario did not finish in 60 s"
    return sim_t, live_t


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_simulator_answers_like_freeswitch(name: str, simulator: FakeSwitch,
                                           freeswitch: FreeSwitchAddress,
                                           tmp_path: Path) -> None:
    diffs = compare(*play(name, simulator, freeswitch, tmp_path))
    late = {m[1] for d in diffs if (m := DURATION_DIFF.match(d))}
    if diffs and len(late) == len(diffs):
        # Only lengths: the two servers ran the same commands at the same moments, but each
        # applies them a frame or two late now and then on a busy machine. A real difference
        # comes back; scheduling jitter does not hit the same file twice.
        again = compare(*play(name, simulator, freeswitch, tmp_path))
        diffs = [d for d in again
                 if not (m := DURATION_DIFF.match(d)) or m[1] in late]
    assert not diffs, f"scenario {name}: simulator differs from FreeSWITCH:\n  " + "\n  ".join(
        diffs)


def test_a_changed_simulator_reply_is_reported(simulator: FakeSwitch,
                                               freeswitch: FreeSwitchAddress, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The self-check on the live server: the simulator made to answer `uuid_exists` with
    different text, the comparison names that reply (and nothing else)."""
    monkeypatch.setitem(fs_commands.HANDLERS, "uuid_exists", lambda api, args: "no such call")
    diffs = compare(*play("errors", simulator, freeswitch, tmp_path))
    assert diffs == ["reply to 'uuid_exists unknown' ('api uuid_exists <UUID>'): "
                     "body 'no such call' != 'false'"]


# -- the comparator's self-check: it must see a changed reply --------------------------------

def _transcript(reply_text: str, body: str) -> Transcript:
    t = Transcript("x", "/rec")
    raw = (f"Content-Type: api/response\nContent-Length: {len(body)}\n\n{body}").encode()
    t.exchanges.append(Exchange("uuid_exists", "api uuid_exists 1", parse_message(raw)))
    auth = f"Content-Type: command/reply\nReply-Text: {reply_text}\n\n".encode()
    t.exchanges.append(Exchange("auth", "auth ClueCon", parse_message(auth)))
    return t


def test_the_comparator_reports_a_changed_reply_text() -> None:
    live = _transcript("+OK accepted", "true")
    assert compare_exchanges(copy.deepcopy(live), live) == []
    changed_body = _transcript("+OK accepted", "false")
    assert compare_exchanges(changed_body, live) == [
        "reply to 'uuid_exists' ('api uuid_exists 1'): body 'false' != 'true'"]
    changed_text = _transcript("+OK welcome", "true")
    assert compare_exchanges(changed_text, live) == [
        "reply to 'auth' ('auth ClueCon'): Reply-Text '+OK welcome' != '+OK accepted'"]


def test_the_comparator_ignores_uuids_times_and_the_recordings_root() -> None:
    a = _transcript("+OK accepted", "+OK 3f1c5d1e-0000-4000-8000-000000000001 1765000000 /rec/x")
    b = _transcript("+OK accepted", "+OK 9a9a9a9a-1111-4111-8111-111111111111 1765999999 /rec/x")
    assert compare_exchanges(a, b) == []


def _answered(*headers: str) -> Transcript:
    t = Transcript("x", "/rec")
    lines = ["Event-Name: CHANNEL_ANSWER", "Channel-Name: loopback/tone_b-a",
             "Answer-State: answered", *(f"{h}: x" for h in headers)]
    body = "\n".join(lines) + "\n\n"
    raw = (f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n{body}").encode()
    t.events.append(parse_message(raw))
    return t


def test_the_comparator_lets_the_answer_race_the_transfer_and_nothing_else() -> None:
    before = _answered("Caller-Callee-ID-Name", "variable_max_forwards")
    after = _answered("Caller-Caller-ID-Name", "Caller-Transfer-Source", "variable_max_forwards",
                      "variable_transfer_history")
    assert compare_events(before, after) == []
    other = _answered("Caller-Caller-ID-Name", "Caller-Transfer-Source", "Other-Header")
    assert compare_events(before, other) == [
        "loopback/tone_b-a: CHANNEL_ANSWER #0 header names: only simulator [], "
        "only freeswitch ['Other-Header']"]
    no_transfer = _answered("Caller-Caller-ID-Name", "variable_max_forwards")
    assert compare_events(before, no_transfer) != []  # without the race, profiles compare


def _event(name: str, cause: str) -> Transcript:
    t = Transcript("x", "/rec")
    body = f"Event-Name: {name}\nChannel-Name: loopback/script_park-b\nHangup-Cause: {cause}\n\n"
    raw = (f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n{body}").encode()
    t.events.append(parse_message(raw))
    return t


def test_the_comparator_reports_a_changed_hangup_cause() -> None:
    busy = _event("CHANNEL_EXECUTE_COMPLETE", "USER_BUSY")
    assert compare_events(busy, _event("CHANNEL_EXECUTE_COMPLETE", "USER_BUSY")) == []
    assert compare_events(_event("CHANNEL_EXECUTE_COMPLETE", "NORMAL_CLEARING"), busy) == [
        "loopback/script_park-b: CHANNEL_EXECUTE_COMPLETE #0 Hangup-Cause simulator "
        "'NORMAL_CLEARING' / freeswitch 'USER_BUSY'"]
