"""When policies look at a call: identity variables that arrive after the call was created
(re-looked at the answer and at the bridge, never a duplicate), and calls already up when the
daemon connects (recorded from then on)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakeswitch.wireclient import WireClient

from esl_recorder.domain.recording import State
from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import ACCOUNT_VAR, DEVICE_VAR, USER_VAR


@pytest.fixture
def wire(switch: FakeSwitch) -> Iterator[WireClient]:
    client = WireClient(switch.address, timeout=5).login()
    yield client
    client.close()


def set_var(switch: FakeSwitch, uuid: str, name: str, value: str) -> None:
    """What the dialplan's `set` does (no event of its own)."""
    switch.run_locked(lambda: switch.channel(uuid).variables.__setitem__(name, value))


def test_a_user_set_after_the_call_was_created_is_seen_at_the_answer(make_kazoo) -> None:
    """The account's policy records the call from its creation (queued until the answer);
    the user set in the dialplan afterwards adds the user's recording at the answer (other
    parameters: Kazoo records account and endpoint), and nothing is started twice."""
    kazoo = make_kazoo({"accounts": {"acme": {
        "record_call": {"format": "wav"},
        "users": {"alice": {"record_call": {"format": "wav", "time_limit": 120}}}}}})
    # a leg created with its account (originated: the variables come with it), parked
    # unanswered, with no user yet
    call = kazoo.switch.park_for_script("tone_a", {ACCOUNT_VAR: "acme"})
    account_rec, = kazoo.recordings_of(call)  # the look at its creation is over
    assert account_rec.meta["level"] == "account" and account_rec.state is State.QUEUED
    set_var(kazoo.switch, call, USER_VAR, "alice")
    kazoo.switch.answer(call)
    recs = kazoo.recordings_of(call, 2)
    user_rec = next(r for r in recs if r.sid != account_rec.sid)
    assert user_rec.meta["level"] == "user" and user_rec.meta["owner_id"] == "alice"
    assert user_rec.options.max_length_s == 120
    done = kazoo.finish(call)
    assert [r.state for r in done] == [State.COMPLETED] * 2
    assert len(kazoo.daemon.app.store.list_recordings(call_uuid=call)) == 2


def test_a_device_set_before_the_bridge_is_seen_at_the_bridge_without_a_duplicate(
        make_kazoo, wire: WireClient) -> None:
    """The account records from the answer; the device known only at the bridge adds its
    own recording (other parameters: Kazoo records account and endpoint); a user set at the
    same time adds none (the endpoint is decided once), and nothing is started twice."""
    kazoo = make_kazoo({"accounts": {"acme": {
        "record_call": {"format": "wav"},
        "users": {"bob": {"record_call": {"format": "wav", "time_limit": 120}}},
        "devices": {"desk-9": {"record_call": {"format": "wav", "time_limit": 60}}}}}})
    a = kazoo.call()  # the account's call, answered
    b = kazoo.call(account="globex")  # the far end, no policy
    account_rec, = kazoo.recordings_of(a)
    assert account_rec.meta["level"] == "account"
    set_var(kazoo.switch, a, DEVICE_VAR, "desk-9")
    set_var(kazoo.switch, a, USER_VAR, "bob")
    assert wire.command(f"api uuid_bridge {a} {b}").body.startswith(b"+OK")
    recs = kazoo.recordings_of(a, 2)
    device_rec = next(r for r in recs if r.sid != account_rec.sid)
    assert device_rec.meta["level"] == "device" and device_rec.options.max_length_s == 60
    kazoo.daemon.wait_state(device_rec.sid, State.IN_PROGRESS)
    set_var(kazoo.switch, a, USER_VAR, "carol")  # a later change seen at no event: nothing
    kazoo.switch.advance(1)
    kazoo.switch.hangup(a)
    for rec in (account_rec, device_rec):
        assert kazoo.daemon.wait_state(rec.sid, State.COMPLETED).state is State.COMPLETED
    assert len(kazoo.daemon.app.store.list_recordings(call_uuid=a)) == 2
    assert not kazoo.daemon.app.store.list_recordings(call_uuid=b)


def test_calls_up_before_the_daemon_connects_are_recorded_from_then_on(
        make_kazoo, switch: FakeSwitch) -> None:
    policies = {"accounts": {"acme": {"users": {"alice": {"record_call": {"format": "wav"}}}},
                             "globex": {}}}
    up = switch.inbound_call("tone_a", {ACCOUNT_VAR: "acme", USER_VAR: "alice"},
                             answered=True)
    ringing = switch.inbound_call("tone_a", {ACCOUNT_VAR: "acme", USER_VAR: "alice"})
    bob = switch.inbound_call("tone_a", {ACCOUNT_VAR: "acme", USER_VAR: "bob"},
                              answered=True)
    other = switch.inbound_call("tone_a", {ACCOUNT_VAR: "globex"}, answered=True)
    switch.advance(2)  # two seconds the recording cannot have
    kazoo = make_kazoo(policies)
    rec, = kazoo.recordings_of(up)
    assert rec.meta["owner_id"] == "alice" and rec.meta["started_late"] is True
    done, = kazoo.finish(up, seconds=1)
    assert done.state is State.COMPLETED
    assert done.file is not None and done.file.duration_ms < 1800  # from the connect on
    switch.answer(ringing)  # a call the resync saw ringing: its answer decides, as ever
    late_answer, = kazoo.recordings_of(ringing)
    assert "started_late" not in late_answer.meta
    kazoo.finish(ringing)
    assert kazoo.no_recording(bob) and kazoo.no_recording(other)


def test_a_restarted_daemon_does_not_record_a_call_twice(make_kazoo, switch: FakeSwitch
                                                         ) -> None:
    """The recording a policy started before the restart still runs on FreeSWITCH: the
    reconnect's reconcile keeps following it and the policies start nothing more."""
    policies = {"accounts": {"acme": {"record_call": {"format": "wav"}}}}
    first = make_kazoo(policies)
    call = first.call()
    rec, = first.recordings_of(call)
    first.daemon.wait_state(rec.sid, State.IN_PROGRESS)
    first.daemon.stop()
    again = make_kazoo(policies)
    switch.advance(1)
    again.daemon.wait_until(lambda: again.daemon.app.tracker.get(call) is not None,
                            what="the call resynced")
    switch.hangup(call)
    done = again.daemon.wait_state(rec.sid, State.COMPLETED)
    assert done.state is State.COMPLETED
    assert [r.sid for r in again.daemon.app.store.list_recordings(call_uuid=call)] == [rec.sid]
