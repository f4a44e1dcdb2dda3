"""Calls the daemon did not see start: learned from show channels, identity fetched."""

from __future__ import annotations

import pytest

from esl_recorder.domain.options import RecordOptions
from esl_recorder.domain.recording import State
from esl_recorder.errors import NotFound
from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import DaemonFactory


def test_call_from_before_the_connection_is_resynced_with_its_identity(
        switch: FakeSwitch, daemon_factory: DaemonFactory) -> None:
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a",
                            variables={"esl_recorder_account_id": "acme",
                                       "esl_recorder_user_id": "u7"})
    daemon = daemon_factory()
    daemon.wait_call(uuid)  # from `show channels as json`, not from events
    assert "show channels as json" in switch.commands
    with pytest.raises(NotFound):
        daemon.service.start(uuid, RecordOptions(), account="someone-else")
    rec = daemon.service.start(uuid, RecordOptions(), account="acme")
    assert f"uuid_getvar {uuid} esl_recorder_account_id" in switch.commands
    call = daemon.app.tracker.get(uuid)
    assert call is not None and (call.account, call.user, call.device) == ("acme", "u7", "")
    assert "/acme/" in rec.path
    switch.advance(0.5)
    daemon.service.stop(rec.sid, account="acme")
    assert daemon.wait_state(rec.sid, State.COMPLETED).account == "acme"


def test_another_accounts_call_and_recording_are_not_found(switch: FakeSwitch,
                                                           daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory()
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a",
                            variables={"esl_recorder_account_id": "acme"})
    daemon.wait_call(uuid)
    rec = daemon.service.start(uuid, RecordOptions(), account="acme")
    for action in (daemon.service.stop, daemon.service.pause, daemon.service.resume):
        with pytest.raises(NotFound):
            action(rec.sid, account="other")
    with pytest.raises(NotFound):
        daemon.service.get(rec.sid, account="other")
    assert daemon.service.get(rec.sid, account="acme").state is State.IN_PROGRESS


def test_a_recorded_calls_row_says_it_ended_when_its_recording_finished_first(
        switch: FakeSwitch, daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory()
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a",
                            variables={"esl_recorder_account_id": "acme"})
    daemon.wait_call(uuid)
    rec = daemon.service.start(uuid, RecordOptions(), account="acme")
    switch.advance(0.5)
    daemon.service.stop(rec.sid, account="acme")
    daemon.wait_state(rec.sid, State.COMPLETED)
    stored = daemon.app.store.load_call(uuid)
    assert stored is not None and stored.hungup_at is None  # written with its recording
    switch.hangup(uuid, cause="USER_BUSY")
    ended = daemon.wait_until(
        lambda: (c := daemon.app.store.load_call(uuid)) is not None and c.hungup_at and c,
        what=f"call {uuid} saved as ended")
    assert ended.hangup_cause == "USER_BUSY" and ended.hungup_at >= ended.created_at
