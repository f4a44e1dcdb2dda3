"""Nothing is lost: dropped ESL connections, FreeSWITCH crashes, bad frames, bad passwords."""

from __future__ import annotations

import logging
import os
import struct

import pytest
import requests

from esl_recorder.domain.options import RecordOptions
from esl_recorder.domain.recording import State, StopReason
from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import FAST_ESL, Daemon, DaemonFactory
from .tones import analyse


def metric(daemon: Daemon, name: str, **labels: str) -> float:
    return daemon.app.prometheus.get_sample_value(name, labels) or 0.0


def wait_reconnected(daemon: Daemon, before: float) -> None:
    client = daemon.app.clients["fs1"]
    daemon.wait_until(lambda: metric(daemon, "esl_recorder_esl_reconnects_total", node="fs1")
                      > before and client.connected, what="reconnect")


def test_connection_dropped_mid_recording_is_reconciled(switch: FakeSwitch,
                                                        daemon: Daemon) -> None:
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    daemon.wait_call(uuid)
    rec = daemon.service.start(uuid, RecordOptions())
    switch.advance(1.0)
    before = metric(daemon, "esl_recorder_esl_reconnects_total", node="fs1")
    switch.drop_connections()
    switch.advance(1.0)  # FreeSWITCH keeps recording while we are away
    wait_reconnected(daemon, before)
    # the reconcile runs after the connection is up: wait for its question, not just the link
    assert switch.wait_for_command(f"uuid_buglist {uuid}") == f"uuid_buglist {uuid}"
    assert daemon.app.recordings.get(rec.sid).state is State.IN_PROGRESS
    daemon.service.stop(rec.sid)
    rec = daemon.wait_state(rec.sid, State.COMPLETED)
    assert abs(analyse(daemon.media_file(rec)).duration - 2.0) <= 0.05


def test_recording_that_ended_while_disconnected_is_finished_from_disk(
        switch: FakeSwitch, daemon_factory: DaemonFactory) -> None:
    daemon = daemon_factory(recording={"stop_grace": 0.5})
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    daemon.wait_call(uuid)
    rec = daemon.service.start(uuid, RecordOptions())
    switch.advance(1.5)
    switch.password = "locked-out"  # keep the daemon out while the call ends
    switch.drop_connections()
    switch.hangup(uuid)  # RECORD_STOP goes to nobody
    assert daemon.app.recordings.get(rec.sid).state is State.IN_PROGRESS
    switch.password = "ClueCon"
    # no RECORD_STOP comes after the reconnect: finished from disk after its 0.5 s grace
    # (recording.stop_grace; the default 5 s would not be over in time)
    rec = daemon.wait_state(rec.sid, State.COMPLETED, timeout=4)
    assert rec.stop_reason is StopReason.LOST
    assert rec.file is not None and abs(rec.file.duration_ms - 1500) <= 50


def test_a_recorded_call_that_ended_while_disconnected_is_saved_as_ended(
        switch: FakeSwitch, daemon: Daemon) -> None:
    """Its recording finished before, so no reconcile of a recording looks at it: the resync
    that finds it gone does (its row said the call was up for good)."""
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    daemon.wait_call(uuid)
    rec = daemon.service.start(uuid, RecordOptions())
    switch.advance(0.5)
    daemon.service.stop(rec.sid)
    daemon.wait_state(rec.sid, State.COMPLETED)
    before = metric(daemon, "esl_recorder_esl_reconnects_total", node="fs1")
    switch.password = "locked-out"  # keep the daemon out while the call ends
    switch.drop_connections()
    switch.hangup(uuid)
    stored = daemon.app.store.load_call(uuid)
    assert stored is not None and not stored.hungup
    switch.password = "ClueCon"
    wait_reconnected(daemon, before)
    daemon.wait_until(lambda: (c := daemon.app.store.load_call(uuid)) is not None and c.hungup,
                      what=f"call {uuid} saved as ended")


def test_a_call_still_listed_after_its_hangup_is_not_taken_for_live_at_the_reconnect(
        switch: FakeSwitch, daemon: Daemon) -> None:
    """FreeSWITCH's `show channels` lags behind its sessions: a call that hung up just
    before the reconnect's subscription was still listed, and the daemon held it as live
    for good (seen on the live server after an ESL cut: a Bandwidth call stayed `active`)."""
    gone, up = (switch.originate("loopback/tone_b/rectest", "tone_a") for _ in range(2))
    daemon.wait_call(gone)
    daemon.wait_call(up)
    before = metric(daemon, "esl_recorder_esl_reconnects_total", node="fs1")
    switch.password = "locked-out"
    switch.drop_connections()
    switch.keep_listed(gone)
    switch.hangup(gone)
    switch.password = "ClueCon"
    wait_reconnected(daemon, before)
    daemon.wait_until(lambda: daemon.app.tracker.get(gone) is None,
                      what=f"call {gone} forgotten")
    assert daemon.app.tracker.get(up) is not None


def test_freeswitch_crash_leaves_a_stale_wav_header_that_is_repaired(
        switch: FakeSwitch, daemon_factory: DaemonFactory,
        caplog: pytest.LogCaptureFixture) -> None:
    daemon = daemon_factory(recording={"stop_grace": 0.5})
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    daemon.wait_call(uuid)
    rec = daemon.service.start(uuid, RecordOptions())
    switch.advance(2.0)
    switch.crash()
    with open(rec.path, "rb") as fh:
        header = fh.read(44)
    assert struct.unpack_from("<I", header, 40)[0] != os.path.getsize(rec.path) - 44
    with caplog.at_level(logging.WARNING):  # after the grace for a RECORD_STOP
        rec = daemon.wait_state(rec.sid, State.COMPLETED, timeout=4)
    assert any("repaired" in r.getMessage() and rec.sid in r.getMessage()
               for r in caplog.records)
    assert abs(analyse(daemon.media_file(rec)).duration - 2.0) <= 0.05


def test_malformed_frame_is_logged_and_survived(switch: FakeSwitch, daemon: Daemon,
                                                caplog: pytest.LogCaptureFixture) -> None:
    before = metric(daemon, "esl_recorder_esl_reconnects_total", node="fs1")
    with caplog.at_level(logging.WARNING):
        switch.inject_raw(b"Content-Length: banana\nContent-Type: text/event-plain\n\n")
        daemon.wait_until(lambda: metric(daemon, "esl_recorder_esl_malformed_frames_total",
                                         node="fs1") >= 1, what="malformed frame counted")
        wait_reconnected(daemon, before)  # dropped, then back and resynced
    assert any("malformed frame" in r.getMessage() and "fs1" in r.getMessage()
               for r in caplog.records), "the malformed frame was not logged"
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    daemon.wait_call(uuid)
    rec = daemon.service.start(uuid, RecordOptions())
    switch.advance(1.0)
    daemon.service.stop(rec.sid)
    assert daemon.wait_state(rec.sid, State.COMPLETED).file is not None


def test_truncated_frame_at_disconnect_is_survived(switch: FakeSwitch, daemon: Daemon) -> None:
    before = metric(daemon, "esl_recorder_esl_reconnects_total", node="fs1")
    switch.inject_raw(b"Content-Length: 500\nContent-Type: text/event-plain\n\nEvent-Name: RE")
    switch.drop_connections()
    wait_reconnected(daemon, before)
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    daemon.wait_call(uuid)


def test_forged_caller_name_changes_nothing(switch: FakeSwitch, daemon: Daemon) -> None:
    forged = "x\nUnique-ID: forged-uuid\nvariable_esl_recorder_account_id: victim"
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a", variables={
        "origination_caller_id_name": forged, "esl_recorder_account_id": "acme"})
    daemon.wait_call(uuid)
    call = daemon.app.tracker.get(uuid)
    assert call is not None and call.account == "acme"
    assert daemon.app.tracker.get("forged-uuid") is None
    rec = daemon.service.start(uuid, RecordOptions())
    assert "/acme/" in rec.path
    switch.advance(0.5)
    daemon.service.stop(rec.sid)
    assert daemon.wait_state(rec.sid, State.COMPLETED).account == "acme"


def test_wrong_password_gives_a_clear_error_and_retries(
        switch: FakeSwitch, daemon_factory: DaemonFactory,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        daemon = daemon_factory(password="not-the-password")
        client = daemon.app.clients["fs1"]
        daemon.wait_until(lambda: metric(daemon, "esl_recorder_esl_auth_failures_total",
                                         node="fs1") >= 2, what="two refused attempts")
    assert not client.connected
    assert client.last_error and "auth" in client.last_error.lower()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "auth" in text.lower() and "not-the-password" not in text
    switch.password = "not-the-password"  # the operator fixes FreeSWITCH's side
    assert client.wait_connected(5)


def readyz(daemon: Daemon) -> tuple[int, dict[str, object]]:
    """/readyz over the daemon's real port: (status, per-node body)."""
    assert daemon.app.http is not None
    got = requests.get(f"http://127.0.0.1:{daemon.app.http.server_port}/readyz", timeout=5)
    return got.status_code, got.json()["nodes"]


def test_silent_freeswitch_turns_the_daemon_unready_then_ready_and_resynced(
        switch: FakeSwitch, daemon_factory: DaemonFactory,
        caplog: pytest.LogCaptureFixture) -> None:
    """A FreeSWITCH that keeps TCP open and stops answering used to go unnoticed: the
    daemon stayed ready, with no log line and no reconnect."""
    liveness = 1.0
    daemon = daemon_factory(esl={**FAST_ESL, "liveness_timeout": liveness})
    client = daemon.app.clients["fs1"]
    assert client.wait_connected(5)
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    daemon.wait_call(uuid)
    rec = daemon.service.start(uuid, RecordOptions())
    switch.advance(1.0)
    before = metric(daemon, "esl_recorder_esl_reconnects_total", node="fs1")
    with caplog.at_level(logging.WARNING):
        switch.go_silent()
        daemon.wait_until(lambda: readyz(daemon) == (503, {"fs1": {"connected": False}}),
                          timeout=liveness + 1.0, what="unready within the liveness time")
    assert any("declaring it dead" in r.getMessage() and "fs1" in r.getMessage()
               for r in caplog.records)
    assert metric(daemon, "esl_recorder_esl_connected", node="fs1") == 0
    buglists = sum(c == f"uuid_buglist {uuid}" for c in switch.commands)
    switch.speak_again()
    wait_reconnected(daemon, before)
    assert readyz(daemon) == (200, {"fs1": {"connected": True}})
    daemon.wait_until(lambda: sum(c == f"uuid_buglist {uuid}" for c in switch.commands)
                      > buglists, what="the reconcile after reconnecting")
    assert daemon.app.recordings.get(rec.sid).state is State.IN_PROGRESS
    daemon.service.stop(rec.sid)
    assert daemon.wait_state(rec.sid, State.COMPLETED).file is not None
