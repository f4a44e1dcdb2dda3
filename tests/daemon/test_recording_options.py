"""Each recording option: the exact command FreeSWITCH receives and the file it produces.

The simulator runs a manual media clock, so durations are exact: `switch.advance(2)`
is two seconds of call audio.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from esl_recorder.domain.options import (
    AudioFormat,
    PauseBehavior,
    RecordOptions,
    SilenceDetection,
    Track,
)
from esl_recorder.domain.recording import Recording, State, StopReason
from esl_recorder.errors import Conflict
from esl_recorder.esl.frames import serialize_plain_event
from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import Daemon
from .tones import analyse

BASE_VARS = ("RECORD_STEREO={stereo},RECORD_STEREO_SWAP=false,RECORD_READ_ONLY={ro},"
             "RECORD_WRITE_ONLY={wo},RECORD_ANSWER_REQ={ans},RECORD_APPEND=false,"
             "RECORD_TOGGLE_ON_REPEAT=false,RECORD_MIN_SEC={min}")


def expected_start(rec: Recording, limit: int = 14400, stereo: str = "false", ro: str = "false",
                   wo: str = "false", ans: str = "true", min_sec: int = 0, extra: str = "") -> str:
    variables = BASE_VARS.format(stereo=stereo, ro=ro, wo=wo, ans=ans, min=min_sec)
    return (f"uuid_record {rec.call_uuid} start {rec.path} {limit} "
            f"{{{variables}{extra},esl_recorder_sid={rec.sid}}}")


def start_commands(switch: FakeSwitch, uuid: str) -> list[str]:
    return [c for c in switch.commands if c.startswith(f"uuid_record {uuid} start")]


def call(switch: FakeSwitch, daemon: Daemon, ext: str = "tone_a",
         dest: str = "loopback/tone_b/rectest") -> str:
    uuid = switch.originate(dest, ext)
    daemon.wait_call(uuid)
    return uuid


def record(daemon: Daemon, switch: FakeSwitch, uuid: str, seconds: float,
           **options: object) -> Recording:
    rec = daemon.service.start(uuid, RecordOptions(**options))  # type: ignore[arg-type]
    assert rec.state is State.IN_PROGRESS
    switch.advance(seconds)
    daemon.service.stop(rec.sid)
    return daemon.wait_state(rec.sid, State.COMPLETED, State.ABSENT, State.FAILED)


def test_default_is_a_mono_mix_of_both_directions(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = record(daemon, switch, uuid, 2.0)
    assert start_commands(switch, uuid) == [expected_start(rec)]
    assert f"uuid_record {uuid} stop {rec.path}" in switch.commands
    info = analyse(daemon.media_file(rec))
    assert (info.channels, info.rate, info.tones) == (1, 8000, [{440, 880}])
    assert abs(info.duration - 2.0) <= 0.05
    assert rec.state is State.COMPLETED and rec.stop_reason is StopReason.REQUESTED
    assert rec.cause == "success-maxtime"
    assert rec.file is not None and rec.file.duration_ms == pytest.approx(2000, abs=50)
    assert rec.file.size == len(daemon.media(rec)) and len(rec.file.sha256) == 64


def test_dual_channels_put_the_party_left_and_what_it_hears_right(
        switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = record(daemon, switch, uuid, 1.0, channels=2)
    assert start_commands(switch, uuid) == [expected_start(rec, stereo="true")]
    info = analyse(daemon.media_file(rec))
    # A leg: it receives 880 Hz from its far end (read, ch0) and sends 440 Hz (write, ch1).
    assert (info.channels, info.rate, info.tones) == (2, 8000, [{880}, {440}])
    assert abs(info.duration - 1.0) <= 0.05


@pytest.mark.parametrize("seconds", [1.0, 20.0])
def test_file_facts_of_a_short_and_a_long_recording(switch: FakeSwitch, daemon: Daemon,
                                                    seconds: float) -> None:
    """A short file is examined as its recording is finalized, a long one (20 s of stereo:
    640 KB) in a worker thread: the same facts either way."""
    uuid = call(switch, daemon)
    rec = record(daemon, switch, uuid, seconds, channels=2)
    assert rec.state is State.COMPLETED and rec.file is not None
    media = daemon.media(rec)
    assert rec.file.duration_ms == pytest.approx(seconds * 1000, abs=50)
    assert (rec.file.channels, rec.file.sample_rate) == (2, 8000)
    assert rec.file.size == len(media) == os.path.getsize(rec.path)
    assert rec.file.sha256 == hashlib.sha256(media).hexdigest()


@pytest.mark.parametrize("track,ro,wo,tone", [
    (Track.INBOUND, "true", "false", 880), (Track.OUTBOUND, "false", "true", 440)])
def test_one_track(switch: FakeSwitch, daemon: Daemon, track: Track, ro: str, wo: str,
                   tone: int) -> None:
    uuid = call(switch, daemon)
    rec = record(daemon, switch, uuid, 2.0, track=track)
    assert start_commands(switch, uuid) == [expected_start(rec, ro=ro, wo=wo)]
    info = analyse(daemon.media_file(rec))
    assert (info.channels, info.tones) == (1, [{tone}])
    assert rec.file is not None and rec.file.duration_ms == round(info.duration * 1000)
    assert 1.7 <= info.duration <= 2.05  # FreeSWITCH's write-only file runs ~0.2 s short


def test_sample_rate(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = record(daemon, switch, uuid, 1.0, sample_rate=16000, channels=2)
    assert start_commands(switch, uuid) == [
        expected_start(rec, stereo="true", extra=",record_sample_rate=16000")]
    info = analyse(daemon.media_file(rec))
    assert (info.channels, info.rate) == (2, 16000)
    assert abs(info.duration - 1.0) <= 0.05
    assert rec.file is not None and rec.file.sample_rate == 16000


def test_mp3(switch: FakeSwitch, daemon: Daemon) -> None:
    pytest.importorskip("lameenc", reason="the simulator writes MP3 with lameenc")
    uuid = call(switch, daemon)
    rec = record(daemon, switch, uuid, 2.0, format=AudioFormat.MP3)
    assert rec.path.endswith(".mp3")
    assert start_commands(switch, uuid) == [expected_start(rec)]
    assert rec.state is State.COMPLETED and rec.file is not None
    assert (rec.file.channels, rec.file.sample_rate) == (1, 8000)
    assert 1900 <= rec.file.duration_ms <= 2600  # MP3 frames pad the end, as mod_shout's do


def test_max_length_is_told_apart_from_a_requested_stop(switch: FakeSwitch,
                                                        daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = daemon.service.start(uuid, RecordOptions(max_length_s=2))
    assert start_commands(switch, uuid) == [expected_start(rec, limit=2)]
    switch.advance(3.0)
    rec = daemon.wait_state(rec.sid, State.COMPLETED)
    assert rec.cause == "success-maxtime" and rec.stop_reason is StopReason.MAX_LENGTH
    assert not any(c.startswith(f"uuid_record {uuid} stop") for c in switch.commands)
    assert 1.0 <= analyse(daemon.media_file(rec)).duration <= 2.05


def test_min_length_discards_a_short_recording(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = record(daemon, switch, uuid, 1.0, min_length_s=2)
    assert start_commands(switch, uuid) == [expected_start(rec, min_sec=2)]
    assert rec.state is State.ABSENT and rec.cause == "input-too-short"
    assert not os.path.exists(rec.path)


def test_answered_only_waits_for_the_answer(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = switch.inbound_call("tone_a", answered=False)
    daemon.wait_call(uuid, answered=False)
    rec = daemon.service.start(uuid, RecordOptions())
    assert rec.state is State.QUEUED and start_commands(switch, uuid) == []
    switch.answer(uuid)
    rec = daemon.wait_state(rec.sid, State.IN_PROGRESS)
    assert start_commands(switch, uuid) == [expected_start(rec)]
    switch.advance(1.0)
    daemon.service.stop(rec.sid)
    rec = daemon.wait_state(rec.sid, State.COMPLETED)
    assert abs(analyse(daemon.media_file(rec)).duration - 1.0) <= 0.05


def test_not_answered_only_starts_at_once(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = switch.inbound_call("tone_a", answered=False)
    daemon.wait_call(uuid, answered=False)
    rec = daemon.service.start(uuid, RecordOptions(answered_only=False))
    assert rec.state is State.IN_PROGRESS
    assert start_commands(switch, uuid) == [expected_start(rec, ans="false")]


def test_beep_is_played_before_the_recording_starts(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = record(daemon, switch, uuid, 1.0, beep=True)
    beep = f"uuid_broadcast {uuid} tone_stream://%(250,0,1000) aleg"
    assert beep in switch.commands
    assert switch.commands.index(beep) < switch.commands.index(expected_start(rec))
    assert rec.state is State.COMPLETED


def test_dtmf_terminator_stops_the_recording(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = daemon.service.start(uuid, RecordOptions(terminators="#"))
    switch.advance(1.0)
    switch.send_dtmf(uuid, "1")
    switch.advance(0.5)
    assert daemon.app.recordings.get(rec.sid).state is State.IN_PROGRESS
    switch.send_dtmf(uuid, "#")
    rec = daemon.wait_state(rec.sid, State.COMPLETED)
    assert rec.stop_reason is StopReason.TERMINATOR
    assert f"uuid_record {uuid} stop {rec.path}" in switch.commands
    assert abs(analyse(daemon.media_file(rec)).duration - 1.5) <= 0.05


def test_initial_silence_timeout_on_a_silent_call(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon, dest="loopback/silence/rectest", ext="&park")  # no audio at all
    rec = daemon.service.start(uuid, RecordOptions(
        silence=SilenceDetection(initial_timeout_ms=1000, threshold=200)))
    assert start_commands(switch, uuid) == [expected_start(
        rec, extra=",RECORD_INITIAL_TIMEOUT_MS=1000,RECORD_SILENCE_THRESHOLD=200")]
    switch.advance(2.0)
    rec = daemon.wait_state(rec.sid, State.ABSENT)
    assert rec.cause == "no-input-timeout" and rec.stop_reason is StopReason.NO_INPUT
    assert os.path.exists(rec.path)  # FreeSWITCH keeps the silent file; the status says absent


def test_end_silence_timeout_and_sensitivity(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = record(daemon, switch, uuid, 1.0, silence=SilenceDetection(
        end_silence_timeout_ms=3000, threshold=50))
    assert start_commands(switch, uuid) == [expected_start(
        rec, extra=",RECORD_FINAL_TIMEOUT_MS=3000,RECORD_SILENCE_THRESHOLD=50")]
    assert rec.state is State.COMPLETED  # the tones never go quiet: our stop ended it
    assert abs(analyse(daemon.media_file(rec)).duration - 1.0) <= 0.05


def test_pause_skip_leaves_the_paused_audio_out(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = daemon.service.start(uuid, RecordOptions(pause_behavior=PauseBehavior.SKIP))
    switch.advance(1.0)
    assert daemon.service.pause(rec.sid).state is State.PAUSED
    switch.advance(1.5)
    assert daemon.service.resume(rec.sid).state is State.IN_PROGRESS
    switch.advance(1.0)
    daemon.service.stop(rec.sid)
    rec = daemon.wait_state(rec.sid, State.COMPLETED)
    assert f"uuid_record {uuid} pause {rec.path}" in switch.commands
    assert f"uuid_record {uuid} resume {rec.path}" in switch.commands
    assert abs(analyse(daemon.media_file(rec)).duration - 2.0) <= 0.05


def test_pause_silence_masks_and_keeps_the_timeline(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = daemon.service.start(uuid, RecordOptions())
    switch.advance(1.0)
    daemon.service.pause(rec.sid, behavior=PauseBehavior.SILENCE)
    switch.advance(1.5)
    daemon.service.resume(rec.sid)
    switch.advance(1.0)
    daemon.service.stop(rec.sid)
    rec = daemon.wait_state(rec.sid, State.COMPLETED)
    assert f"uuid_record {uuid} mask {rec.path}" in switch.commands
    assert f"uuid_record {uuid} unmask {rec.path}" in switch.commands
    info = analyse(daemon.media_file(rec))
    assert abs(info.duration - 3.5) <= 0.05
    assert all(w == 0 for w in info.rms_windows[11:24])
    assert all(w > 5000 for w in info.rms_windows[1:9] + info.rms_windows[26:34])


def test_trim_silence(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = daemon.service.start(uuid, RecordOptions(trim_silence=True))
    daemon.service.pause(rec.sid, behavior=PauseBehavior.SILENCE)
    switch.advance(1.0)  # one second of masked silence first
    daemon.service.resume(rec.sid)
    switch.advance(1.0)
    daemon.service.stop(rec.sid)
    rec = daemon.wait_state(rec.sid, State.COMPLETED)
    assert abs(analyse(daemon.media_file(rec)).duration - 1.1) <= 0.05  # 100 ms of margin kept
    assert rec.file is not None and abs(rec.file.duration_ms - 1100) <= 50


def test_concurrent_recordings_each_with_its_own_control_id(switch: FakeSwitch,
                                                            daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    mono = daemon.service.start(uuid, RecordOptions(control_id="mono"))
    stereo = daemon.service.start(uuid, RecordOptions(control_id="stereo", channels=2))
    assert mono.path != stereo.path
    assert start_commands(switch, uuid) == [expected_start(mono),
                                            expected_start(stereo, stereo="true")]
    with pytest.raises(Conflict, match="control id"):
        daemon.service.start(uuid, RecordOptions(control_id="stereo"))
    switch.advance(1.0)
    daemon.service.stop(mono.sid)
    switch.advance(1.0)
    daemon.service.stop(stereo.sid)
    mono = daemon.wait_state(mono.sid, State.COMPLETED)
    stereo = daemon.wait_state(stereo.sid, State.COMPLETED)
    one, two = analyse(daemon.media_file(mono)), analyse(daemon.media_file(stereo))
    assert (one.channels, two.channels) == (1, 2)
    assert abs(one.duration - 1.0) <= 0.05
    assert abs(two.duration - 2.0) <= 0.05


def test_hangup_finishes_the_recording(switch: FakeSwitch, daemon: Daemon) -> None:
    uuid = call(switch, daemon)
    rec = daemon.service.start(uuid, RecordOptions())
    switch.advance(1.0)
    switch.hangup(uuid)
    rec = daemon.wait_state(rec.sid, State.COMPLETED)
    assert rec.cause == "success-silence" and rec.stop_reason is StopReason.HANGUP
    assert abs(analyse(daemon.media_file(rec)).duration - 1.0) <= 0.05


# FreeSWITCH's dispatch threads may send a hangup's RECORD_STOP before its CHANNEL_HANGUP (seen
# against the live server after uuid_kill); the event's own channel state says the call was down
# (tests/data/freeswitch-wire/errors.txt, "hangup while recording": CS_HANGUP, Answer-State hangup).
HANGING_UP = {"Channel-State": "CS_HANGUP", "Answer-State": "hangup",
              "Hangup-Cause": "NORMAL_CLEARING"}
STILL_UP = {"Channel-State": "CS_EXECUTE", "Answer-State": "answered"}


@pytest.mark.parametrize(("channel", "reason"), [(HANGING_UP, StopReason.HANGUP),
                                                 (STILL_UP, StopReason.SILENCE)])
def test_a_record_stop_says_hangup_when_its_channel_was_going_down(
        switch: FakeSwitch, daemon: Daemon, channel: dict[str, str], reason: StopReason) -> None:
    uuid = call(switch, daemon)
    rec = daemon.service.start(uuid, RecordOptions())
    switch.advance(1.0)
    switch.inject_raw(serialize_plain_event({
        "Event-Name": "RECORD_STOP", "Unique-ID": uuid, **channel, "Record-File-Path": rec.path,
        "Record-Completion-Cause": "success-silence"}))
    rec = daemon.wait_state(rec.sid, State.COMPLETED, State.ABSENT)  # as the file says
    assert rec.cause == "success-silence" and rec.stop_reason is reason
    assert not daemon.app.tracker.get(uuid).hungup  # its CHANNEL_HANGUP has not come
    switch.hangup(uuid)
