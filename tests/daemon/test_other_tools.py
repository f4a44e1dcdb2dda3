"""Other tools record on the same FreeSWITCH: their RECORD_* events are counted and left alone,
whatever they carry, and never taken for one of ours."""

from __future__ import annotations

from esl_recorder.domain.options import RecordOptions
from esl_recorder.domain.recording import State
from esl_recorder.esl.frames import serialize_plain_event
from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import Daemon

ORPHANS = "esl_recorder_orphan_recordings_total"


def orphans(daemon: Daemon) -> float:
    return daemon.app.prometheus.get_sample_value(ORPHANS) or 0.0


def record_stop(uuid: str, path: str, **extra: str) -> bytes:
    return serialize_plain_event({"Event-Name": "RECORD_STOP", "Unique-ID": uuid, **extra,
                                  "Record-File-Path": path,
                                  "Record-Completion-Cause": "success-maxtime"})


def test_other_tools_recordings_are_counted_and_ours_still_followed(
        switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    daemon.wait_call(uuid)
    ours = daemon.service.start(uuid, RecordOptions())
    root = ours.path.rsplit("/", 5)[0]
    before = orphans(daemon)
    # another tool's file; then one whose variables mention our root and even our file
    switch.inject_raw(record_stop(uuid, "/var/spool/other/call.wav"))
    switch.inject_raw(record_stop(uuid, f"{root}/../elsewhere.wav",
                                  variable_last_file=ours.path))
    daemon.wait_until(lambda: orphans(daemon) >= before + 2, what="two orphan events")
    assert daemon.service.get(ours.sid).state is State.IN_PROGRESS
    switch.advance(1.0)
    daemon.service.stop(ours.sid)
    assert daemon.wait_state(ours.sid, State.COMPLETED).file is not None
    assert orphans(daemon) == before + 2
