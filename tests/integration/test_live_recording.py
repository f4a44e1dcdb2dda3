"""The engine's recording options no REST dialect reaches (sample rate, minimum and maximum
length, DTMF terminator, hangup), against a real FreeSWITCH, through the daemon's domain service
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
from esl_recorder.domain.options import PauseBehavior, RecordOptions, Track
from esl_recorder.domain.recording import Recording, State, StopReason
from esl_recorder.settings import settings_from_mapping

from .conftest import FreeSwitchAddress
from .live import SETUP_ATTEMPTS, running_its_extension


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


def originate(daemon: Daemon, ext: str = "tone_a") -> str:
    client = daemon.app.clients["fs1"]
    for _ in range(SETUP_ATTEMPTS):
        reply = client.api(f"originate loopback/tone_b/rectest {ext} XML rectest")
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
