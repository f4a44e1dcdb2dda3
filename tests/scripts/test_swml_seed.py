"""Seed 003's three SWML examples on simulated calls: the applications the daemon ran on the
call, the recording file it made (channels, duration, which tone), the variables, and the
`calling.call.record` status events a real local receiver got.

The call: the simulator's `script_park` B leg, parked for the script; its caller (A) sends
440 Hz once B is answered, so B hears 440 Hz (what its caller says) and sends what the
script plays (the beep, speech, silence, the recording).
"""

from __future__ import annotations

import wave
from collections.abc import Callable

import pytest
import requests
from api.conftest import ACME_LAML, basic
from daemon.tones import analyse, goertzel

from esl_recorder.domain.recording import State

from .conftest import ScriptedFactory
from .swml_support import mp3_example, playback_example, speaker_example, states, status_events

BEEP = "tone_stream://%(250,0,1000)"  # recording.beep_tone's default


def beep_level(path: str, seconds: float = 3.0) -> float:
    """The 1000 Hz beep's largest amplitude in 0.2 s windows of the first `seconds` of
    channel 0 (the beep lasts 0.25 s)."""
    with wave.open(path) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        samples = memoryview(w.readframes(int(rate * seconds))).cast("h").tolist()[::channels]
    window = rate // 5
    return max(goertzel(samples[i:i + window], rate, 1000)
               for i in range(0, len(samples) - window + 1, rate // 10))


def test_mp3_recording(scripted_factory: ScriptedFactory) -> None:
    sim = scripted_factory({"mp3": "version: 1.0.0"})
    sim.documents.documents["/mp3.swml"] = mp3_example(sim.receiver.url("/status"))
    b = sim.call("mp3")
    sim.run(b)
    assert sim.applications(b) == [("answer", "", "_none_"),
                                   ("playback", "silence_stream://2000", "FILE PLAYED"),
                                   ("hangup", "NORMAL_CLEARING", "_none_")]
    [rec] = sim.recordings(b)
    assert rec.state is State.COMPLETED and rec.path.endswith(".mp3")
    assert rec.source == "swml" and rec.options.channels == 1
    events = status_events(sim.receiver.wait(2))
    assert states(events) == ["recording", "finished"]
    record = events[-1]["params"]["record"]
    assert record["format"] == "mp3" and record["size"] == len(sim.daemon.media(rec)) > 0
    assert 1.9 <= record["duration"] <= 2.6
    assert events[0]["event_channel"].startswith("swml:")
    assert events[0]["params"]["call_id"] == b and events[0]["params"]["node_id"] == "fs1"


@pytest.mark.parametrize("example,heard", [
    (playback_example, "both"),  # the caller and what the script sent (the beep, the speech)
    (speaker_example, "speak"),  # the caller only
])
def test_record_and_play_back(scripted_factory: ScriptedFactory,
                              example: Callable[[str], str], heard: str) -> None:
    sim = scripted_factory({"seed": "version: 1.0.0"})
    sim.documents.documents["/seed.swml"] = example(sim.receiver.url("/status"))
    b = sim.call("seed")
    sim.run(b)
    [rec] = sim.recordings(b)
    apps = sim.applications(b)
    # the beep is uuid_broadcast's playback (the simulator starts it 0.16 s after the
    # command, so it may come after the first speak): the script's own, in order
    assert ("playback", BEEP, "FILE PLAYED") in apps
    script = [a for a in apps if a[1] != BEEP]
    assert [(app, arg) for app, arg, _ in script] == [
        ("answer", ""), ("speak", "flite|kal|Leave your message now"),
        ("playback", "silence_stream://10000"), ("speak", "flite|kal|Playing back"),
        ("playback", rec.path),  # ${record_call_url}: the file itself, never fetched
        ("hangup", "NORMAL_CLEARING")]
    assert script[4][2] == "FILE PLAYED"

    info = analyse(sim.daemon.media_file(rec))
    assert info.channels == 1
    # from the record_call to the stop: the speech, then the 10 s of silence
    assert 10.5 < info.duration < 13.0
    assert info.tones[0] == {440}  # the caller, in both
    assert (beep_level(sim.daemon.media_file(rec)) > 1000) is (heard == "both")

    events = status_events(sim.receiver.wait(2))
    assert states(events) == ["recording", "finished"]
    record = events[-1]["params"]["record"]
    assert record["format"] == "wav"
    assert record["duration"] == pytest.approx(info.duration, abs=0.05)
    assert record["size"] == len(sim.daemon.media(rec))
    assert record["url"].endswith(f"/Accounts/{ACME_LAML[0]}/Recordings/{rec.sid}.wav")
    media = requests.get(record["url"], headers={"Authorization": basic(*ACME_LAML)},
                         timeout=10)
    assert media.status_code == 200 and media.content == sim.daemon.media(rec)


def test_variables(scripted_factory: ScriptedFactory) -> None:
    """record_call and stop_record_call set their variables; `${...}` and `%{...}` read them."""
    doc = """
version: 1.0.0
sections:
  main:
    - record_call: {control_id: take-1, stereo: true, max_length: 30}
    - play: {url: 'silence:1'}
    - execute: {dest: report}
    - stop_record_call: {control_id: take-1}
    - play: {url: 'say:stopped ${stop_record_call_result}'}
    - stop_record_call: {control_id: nothing-by-this-name}
    - play: {url: 'say:again %{stop_record_call_result}'}
  report:
    - play:
        urls: ['say:${record_call_result} ${record_control_id} ${no_such_variable}end']
"""
    sim = scripted_factory({"vars": doc})
    b = sim.call("vars")
    sim.run(b)
    spoken = [arg for app, arg, _ in sim.applications(b) if app == "speak"]
    assert spoken == ["flite|kal|success take-1 end", "flite|kal|stopped success",
                      "flite|kal|again failed"]
    [rec] = sim.recordings(b)
    assert rec.control_id == "take-1" and rec.options.channels == 2
    assert rec.options.max_length_s == 30
    info = analyse(sim.daemon.media_file(rec))
    assert info.channels == 2 and info.tones[0] == {440}  # ch0: what B hears


def test_a_terminator_digit_stops_the_recording(scripted_factory: ScriptedFactory) -> None:
    """The playback example's `terminators: '#'`: the caller's # ends the recording while the
    script goes on; stop_record_call then finds nothing running."""
    sim = scripted_factory({"seed": "version: 1.0.0"})
    sim.documents.documents["/seed.swml"] = playback_example(sim.receiver.url("/status"))
    b = sim.call("seed")
    sim.run(b, until=lambda: ("playback", "silence_stream://10000") in sim.running(b))
    sim.switch.advance(3.0)
    sim.switch.send_dtmf(b, "#")
    sim.switch.wait_for_command(f"uuid_record {b} stop")  # the daemon's answer to the #
    sim.run(b)
    [rec] = sim.recordings(b)
    assert rec.stop_reason is not None and rec.stop_reason.value == "dtmf-terminator"
    info = analyse(sim.daemon.media_file(rec))
    assert 3.0 < info.duration < 6.0  # the speech, 3 s of silence: not the whole 10 s
    events = status_events(sim.receiver.wait(2))
    assert states(events) == ["recording", "finished"]
    played = [arg for app, arg, _ in sim.applications(b) if app == "playback"]
    assert played[-1] == rec.path  # ${record_call_url} is still the recording
