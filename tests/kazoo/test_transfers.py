"""should_follow_transfer: the recording goes on on the leg the call is transferred to, as
FreeSWITCH moves it (recording_follow_transfer on the channel), and ends with that leg."""

from __future__ import annotations

import wave
from collections.abc import Iterator

import pytest
from fakeswitch.wireclient import WireClient

from esl_recorder.domain.recording import State
from esl_recorder.testing.fakeswitch import FakeSwitch

FOLLOW = {"accounts": {"acme": {"record_call": {"format": "wav",
                                                "should_follow_transfer": True}}}}


@pytest.fixture
def wire(switch: FakeSwitch) -> Iterator[WireClient]:
    client = WireClient(switch.address, timeout=5).login()
    yield client
    client.close()


def bridged_pair(kazoo, wire: WireClient) -> tuple[str, str]:
    """acme's call `a` (recorded), bridged to globex's `b` (not)."""
    a = kazoo.call()
    b = kazoo.call(account="globex")
    assert wire.command(f"api uuid_bridge {a} {b}").body.startswith(b"+OK")
    kazoo.daemon.wait_until(lambda: kazoo.daemon.app.tracker.get(a).other_leg == b,
                            what="the bridge")
    return a, b


def test_the_recording_follows_the_call_to_the_transferred_leg(make_kazoo,
                                                               wire: WireClient) -> None:
    kazoo = make_kazoo(FOLLOW)
    a, b = bridged_pair(kazoo, wire)
    rec, = kazoo.recordings_of(a)
    kazoo.daemon.wait_state(rec.sid, State.IN_PROGRESS)
    assert kazoo.switch.wait_for_command(
        f"uuid_setvar {a} recording_follow_transfer true")
    assert kazoo.switch.wait_for_command(f"uuid_setvar {a} recording_follow_attxfer true")
    kazoo.switch.advance(1)
    # b is sent on (to tone_b) and a is left: FreeSWITCH moves a's recordings to b
    assert wire.command(f"api uuid_transfer {a} -bleg tone_b").body.startswith(b"+OK")
    kazoo.switch.hangup(a)
    kazoo.daemon.wait_until(lambda: [r.sid for r in kazoo.daemon.service.for_call(b)]
                            == [rec.sid], what="the recording on the transferred leg")
    assert kazoo.daemon.app.recordings.get(rec.sid).state is State.IN_PROGRESS
    kazoo.switch.advance(1)
    kazoo.switch.hangup(b)  # its RECORD_STOP comes under b's Unique-ID
    done = kazoo.daemon.wait_state(rec.sid, State.COMPLETED)
    with wave.open(kazoo.daemon.media_file(done)) as w:
        assert w.getnframes() / w.getframerate() >= 1.9  # both legs' second
    assert done.meta["call_id"] == a  # Kazoo's call id stays the call's (the upload name)


def test_a_restart_after_the_transfer_still_follows_the_recording(make_kazoo,
                                                                  wire: WireClient) -> None:
    """The leg a recording moved to is stored: a daemon started after the transfer finds
    it running there (not 'ended while disconnected' on the leg that is gone)."""
    kazoo = make_kazoo(FOLLOW)
    a, b = bridged_pair(kazoo, wire)
    rec, = kazoo.recordings_of(a)
    kazoo.daemon.wait_state(rec.sid, State.IN_PROGRESS)
    kazoo.switch.advance(1)
    assert wire.command(f"api uuid_transfer {a} -bleg tone_b").body.startswith(b"+OK")
    kazoo.switch.hangup(a)
    kazoo.daemon.wait_until(lambda: kazoo.daemon.service.for_call(b), what="the move")
    assert kazoo.daemon.app.store.get_recording(rec.sid).call_uuid == b
    kazoo.daemon.stop()
    again = make_kazoo()
    again.daemon.wait_until(lambda: again.daemon.service.for_call(b), what="the recovery")
    assert again.daemon.app.recordings.get(rec.sid).state is State.IN_PROGRESS
    kazoo.switch.advance(1)
    kazoo.switch.hangup(b)
    done = again.daemon.wait_state(rec.sid, State.COMPLETED)
    with wave.open(again.daemon.media_file(done)) as w:
        assert w.getnframes() / w.getframerate() >= 1.9
    assert done.meta["call_id"] == a


def test_without_follow_transfer_the_recording_ends_with_its_leg(make_kazoo,
                                                                 wire: WireClient) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"record_call": {"format": "wav"}}}})
    a, b = bridged_pair(kazoo, wire)
    rec, = kazoo.recordings_of(a)
    kazoo.daemon.wait_state(rec.sid, State.IN_PROGRESS)
    kazoo.switch.advance(1)
    assert wire.command(f"api uuid_transfer {a} -bleg tone_b").body.startswith(b"+OK")
    kazoo.switch.hangup(a)
    done = kazoo.daemon.wait_state(rec.sid, State.COMPLETED)
    with wave.open(kazoo.daemon.media_file(done)) as w:
        assert 0.9 <= w.getnframes() / w.getframerate() < 1.5
    assert not [c for c in kazoo.switch.commands if c.startswith("uuid_setvar")]
    kazoo.switch.hangup(b)
