"""The engine's recording options no REST dialect reaches (sample rate, minimum and maximum
length, DTMF terminator, hangup, waiting for the answer or not, silence detection), against a
real FreeSWITCH, through the daemon's domain service
(as tests/daemon drive it against the simulator). The dialects' own flows and options are in
test_dialects.py.

Run: ESL_RECORDER_FS=host:port[:password] pytest tests/integration
The server needs freeswitch/ (rectest dialplan, mod_loopback, mod_shout for mp3) and must
write into ESL_RECORDER_FS_RECORDINGS (default /tmp/esl_recorder_it), a directory this
machine reads at the same path. Real calls take real time: the waits below let audio
accumulate; every wait for a *state* is an event wait with a timeout.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from daemon.conftest import Daemon
from daemon.tones import analyse
from store_backends import Backends

from esl_recorder.app import App, build_app
from esl_recorder.domain.options import PauseBehavior, RecordOptions, SilenceDetection, Track
from esl_recorder.domain.recording import Recording, State, StopReason
from esl_recorder.settings import settings_from_mapping

from .conftest import FreeSwitchAddress
from .live import SETUP_ATTEMPTS, Esl, eventually, running_its_extension


@pytest.fixture
def live(freeswitch: FreeSwitchAddress, tmp_path: Path,
         backends: Backends) -> Iterator[Daemon]:
    settings = settings_from_mapping({
        "nodes": [{"name": "fs1", "host": freeswitch.host, "port": freeswitch.port,
                   "password": freeswitch.password}],
        "recording": {"root": os.path.join(freeswitch.recordings, tmp_path.name)},
        **backends.sections(tmp_path),
        "http": {"port": 0},
    }, env={})
    app: App = build_app(settings)
    app.start()
    assert app.clients["fs1"].wait_connected(10), "cannot reach FreeSWITCH"
    daemon = Daemon(app)
    yield daemon
    daemon.stop()


def originate(daemon: Daemon, ext: str = "tone_a", leg: str = "tone_b") -> str:
    client = daemon.app.clients["fs1"]
    for _ in range(SETUP_ATTEMPTS):
        reply = client.api(f"originate loopback/{leg}/rectest {ext} XML rectest")
        assert reply.startswith("+OK "), reply
        uuid = reply.split()[1]
        if running_its_extension(client.api, uuid, ext):
            daemon.wait_call(uuid)
            return uuid
        client.api(f"uuid_kill {uuid}")
    raise AssertionError(f"FreeSWITCH left {SETUP_ATTEMPTS} calls to {ext} in ROUTING")


def record(daemon: Daemon, seconds: float, **options: object) -> Recording:
    uuid = originate(daemon)
    rec = daemon.service.start(uuid, RecordOptions(**options))  # type: ignore[arg-type]
    gevent.sleep(seconds)  # let real audio accumulate
    daemon.service.stop(rec.sid)
    rec = daemon.wait_state(rec.sid, State.COMPLETED, State.ABSENT, State.FAILED, timeout=10)
    daemon.app.clients["fs1"].api(f"uuid_kill {uuid}")
    return rec


@pytest.mark.parametrize("options,channels,tones", [
    ({}, 1, [{440, 880}]),
    ({"channels": 2}, 2, [{880}, {440}]),
    ({"track": Track.INBOUND}, 1, [{880}]),
    ({"track": Track.OUTBOUND}, 1, [{440}]),
])
def test_channels_and_tracks(live: Daemon, options: dict[str, object], channels: int,
                             tones: list[set[int]]) -> None:
    rec = record(live, 2.0, **options)
    info = analyse(live.media_file(rec))
    assert (rec.state, info.channels, info.tones) == (State.COMPLETED, channels, tones)
    assert 1.7 <= info.duration <= 2.2


def test_sample_rate(live: Daemon) -> None:
    rec = record(live, 1.0, sample_rate=16000)
    assert analyse(live.media_file(rec)).rate == 16000


def test_min_length_absent(live: Daemon) -> None:
    rec = record(live, 1.0, min_length_s=3)
    assert rec.state is State.ABSENT and not os.path.exists(rec.path)


def test_max_length(live: Daemon) -> None:
    uuid = originate(live)
    rec = live.service.start(uuid, RecordOptions(max_length_s=2))
    rec = live.wait_state(rec.sid, State.COMPLETED, timeout=10)
    assert rec.stop_reason is StopReason.MAX_LENGTH
    live.app.clients["fs1"].api(f"uuid_kill {uuid}")


def test_pause_skip_and_mask(live: Daemon) -> None:
    uuid = originate(live)
    skip = live.service.start(uuid, RecordOptions(pause_behavior=PauseBehavior.SKIP))
    mask = live.service.start(uuid, RecordOptions(pause_behavior=PauseBehavior.SILENCE))
    gevent.sleep(1.0)
    live.service.pause(skip.sid)
    live.service.pause(mask.sid)
    gevent.sleep(1.5)
    live.service.resume(skip.sid)
    live.service.resume(mask.sid)
    gevent.sleep(1.0)
    live.app.clients["fs1"].api(f"uuid_kill {uuid}")
    skip = live.wait_state(skip.sid, State.COMPLETED, timeout=10)
    mask = live.wait_state(mask.sid, State.COMPLETED, timeout=10)
    assert abs(analyse(live.media_file(skip)).duration - 2.0) <= 0.2
    assert abs(analyse(live.media_file(mask)).duration - 3.5) <= 0.2


def test_dtmf_terminator(live: Daemon) -> None:
    uuid = originate(live)
    rec = live.service.start(uuid, RecordOptions(terminators="#"))
    gevent.sleep(1.0)
    live.app.clients["fs1"].api(f"uuid_recv_dtmf {uuid} #")
    rec = live.wait_state(rec.sid, State.COMPLETED, timeout=10)
    assert rec.stop_reason is StopReason.TERMINATOR
    live.app.clients["fs1"].api(f"uuid_kill {uuid}")


def test_hangup_while_recording(live: Daemon) -> None:
    uuid = originate(live)
    rec = live.service.start(uuid, RecordOptions())
    gevent.sleep(1.0)
    live.app.clients["fs1"].api(f"uuid_kill {uuid}")
    rec = live.wait_state(rec.sid, State.COMPLETED, timeout=10)
    assert rec.cause == "success-silence" and rec.stop_reason is StopReason.HANGUP


def parked_unanswered(daemon: Daemon, esl: Esl) -> str:
    """The B leg of a call (script_park) that waits, parked and unanswered; its A leg will
    run tone_a (440 Hz) once B is answered."""
    client = daemon.app.clients["fs1"]
    reply = esl.wire.command("bgapi originate loopback/script_park/rectest tone_a XML rectest")
    assert (reply.header("Reply-Text") or "").startswith("+OK"), reply
    b = eventually(lambda: next((c.uuid for c in daemon.app.tracker.calls()
                                 if c.uuid and client.api(f"uuid_getvar {c.uuid} loopback_leg")
                                 .strip() == "B" and not c.answered), None), 10, "the B leg")
    esl.placed.append(b)  # hung up at the end, whatever happens
    return str(b)


def test_answered_only_waits_for_the_answer(live: Daemon, esl: Esl) -> None:
    client = live.app.clients["fs1"]
    b = parked_unanswered(live, esl)
    rec = live.service.start(b, RecordOptions())
    assert rec.state is State.QUEUED
    assert rec.path not in client.api(f"uuid_buglist {b}")  # nothing recording yet
    assert client.api(f"uuid_answer {b}").startswith("+OK")
    rec = live.wait_state(rec.sid, State.IN_PROGRESS, timeout=10)
    gevent.sleep(1.5)  # audio: what B hears is A's 440 Hz
    live.service.stop(rec.sid)
    rec = live.wait_state(rec.sid, State.COMPLETED, timeout=10)
    client.api(f"uuid_kill {b}")
    info = analyse(live.media_file(rec))
    assert info.tones == [{440}] and 1.0 <= info.duration <= 1.7, info.duration


def test_not_answered_only_starts_at_once_and_pre_answers(live: Daemon, esl: Esl) -> None:
    client = live.app.clients["fs1"]
    b = parked_unanswered(live, esl)
    rec = live.service.start(b, RecordOptions(answered_only=False))
    assert rec.state is State.IN_PROGRESS
    assert eventually(lambda: rec.path in client.api(f"uuid_buglist {b}"), 5, "the recording")
    assert client.api(f"uuid_getvar {b} endpoint_disposition").strip() == "EARLY MEDIA"
    gevent.sleep(1.0)
    live.service.stop(rec.sid)
    rec = live.wait_state(rec.sid, State.COMPLETED, State.ABSENT, timeout=10)
    assert live.app.tracker.get(b) is not None and not live.app.tracker.get(b).answered
    client.api(f"uuid_kill {b}")


def test_initial_silence_timeout_on_a_silent_call(live: Daemon) -> None:
    uuid = originate(live, ext="silence", leg="silence")  # nobody sends anything
    rec = live.service.start(uuid, RecordOptions(
        silence=SilenceDetection(initial_timeout_ms=1000, threshold=200)))
    rec = live.wait_state(rec.sid, State.ABSENT, timeout=10)
    assert rec.cause == "no-input-timeout" and rec.stop_reason is StopReason.NO_INPUT
    live.app.clients["fs1"].api(f"uuid_kill {uuid}")


def test_end_silence_timeout_after_a_tone(live: Daemon) -> None:
    client = live.app.clients["fs1"]
    uuid = originate(live, ext="silence", leg="silence")
    rec = live.service.start(uuid, RecordOptions(
        silence=SilenceDetection(end_silence_timeout_ms=1000, threshold=200)))
    gevent.sleep(0.5)
    assert client.api(f"uuid_broadcast {uuid} tone_stream://%(1000,0,440) aleg").startswith("+OK")
    rec = live.wait_state(rec.sid, State.COMPLETED, timeout=10)  # a second after the tone
    assert rec.cause == "success-silence" and rec.stop_reason is StopReason.SILENCE
    assert live.app.tracker.get(uuid) is not None  # the silence ended the recording, not the call
    info = analyse(live.media_file(rec))
    assert info.tones == [{440}] and 1.9 <= info.duration <= 2.7, info.duration
    client.api(f"uuid_kill {uuid}")
