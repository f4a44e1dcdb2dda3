"""Seed 003's SWML examples on real calls of a real FreeSWITCH: the dialplan's `script_park`
extension sets esl_recorder_script=demo and parks the call; the daemon (in process, over its
real event socket connection) runs the document on it.

The call: `originate loopback/script_park/rectest tone_a XML rectest`. B (script_park-b)
is the scripted channel; A answers once B is answered and sends 440 Hz, so B hears 440 Hz
(what its caller says) and sends what the script plays (speech, silence, the recording).
Every application the script runs is watched on our own ESL connection
(CHANNEL_EXECUTE_COMPLETE of B).
"""

from __future__ import annotations

import json
import os
import uuid as uuid_module
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import gevent
import pytest
import requests
from api.conftest import ACCOUNTS, ACME_LAML, basic
from api.receiver import Receiver
from daemon.conftest import Daemon
from daemon.tones import analyse, goertzel
from fakeswitch.wireclient import WireClient, event_headers, event_name
from scripts.swml_support import (
    mp3_example,
    playback_example,
    speaker_example,
    states,
    status_events,
)
from store_backends import Backends

from esl_recorder.app import App, build_app
from esl_recorder.domain.recording import State
from esl_recorder.settings import settings_from_mapping

from .conftest import FreeSwitchAddress
from .live import eventually


@dataclass
class Watch:
    """Our own ESL connection: the applications each channel ran, in order."""

    wire: WireClient
    apps: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    hungup: set[str] = field(default_factory=set)
    b_legs: dict[str, str] = field(default_factory=dict)  # A leg's uuid -> its parked B leg

    def run(self) -> None:
        while not self.wire.eof:
            try:
                msg = self.wire.read(1.0)
            except TimeoutError:
                continue
            if not msg.content_type.startswith("text/event"):
                continue
            headers = {k: unquote(v) for k, v in event_headers(msg)}
            uuid = headers.get("Unique-ID", "")
            if event_name(msg) == "CHANNEL_HANGUP_COMPLETE":
                self.hungup.add(uuid)
            elif event_name(msg) == "CHANNEL_PARK" and headers.get("variable_loopback_leg") == "B":
                self.b_legs[headers.get("variable_other_loopback_leg_uuid", "")] = uuid
            elif event_name(msg) == "CHANNEL_EXECUTE_COMPLETE":
                self.apps.setdefault(uuid, []).append(
                    (headers.get("Application", ""), headers.get("Application-Data", ""),
                     headers.get("Application-Response", "")))


@dataclass
class Live:
    daemon: Daemon
    watch: Watch
    control: WireClient  # for commands (the watch's connection only reads)
    document: Path
    receiver: Receiver
    fs: FreeSwitchAddress

    def call(self, script: str = "demo") -> str:
        """Place a script_park call for `script`; the B leg's uuid (the scripted channel,
        which has the A leg's variables: mod_loopback copies them)."""
        a = str(uuid_module.uuid4())
        reply = self.control.command(
            f"bgapi originate {{origination_uuid={a},esl_recorder_account_id=acme,"
            f"{VARIABLE}={script}}}loopback/script_park/rectest tone_a XML rectest")
        assert (reply.header("Reply-Text") or "").startswith("+OK"), reply
        # from B's CHANNEL_PARK: a failing script may hang B up, and with it A, at once
        b = eventually(lambda: self.watch.b_legs.get(a), 10, "the B leg")
        tracker = self.daemon.app.tracker
        self.daemon.wait_until(lambda: b in self.watch.hungup or tracker.get(b) is not None,
                               what=f"the daemon to see call {b}")
        return b

    def wait_hangup(self, uuid: str, timeout: float = 90) -> None:
        with gevent.Timeout(timeout, AssertionError(f"call {uuid} did not end")):
            while uuid not in self.watch.hungup:
                gevent.sleep(0.1)


VARIABLE = "swml_script"  # scripts.variable here: each call names its document


@pytest.fixture
def live(freeswitch: FreeSwitchAddress, tmp_path: Path, request: pytest.FixtureRequest,
         backends: Backends) -> Iterator[Live]:
    """The daemon, started (or, with the indirect parameter "later", started by the test's
    `live.start()`)."""
    receiver = Receiver().start()
    document = tmp_path / "demo.swml"
    (tmp_path / "bad.swml").write_text(BAD)
    settings = settings_from_mapping({
        "nodes": [{"name": "fs1", "host": freeswitch.host, "port": freeswitch.port,
                   "password": freeswitch.password}],
        "recording": {"root": os.path.join(freeswitch.recordings, tmp_path.name)},
        **backends.sections(tmp_path),
        "http": {"port": 0},
        "delivery": {"allowed_networks": ["127.0.0.0/8"], "initial_delay": 0.05},
        "accounts": ACCOUNTS,
        "scripts": {"variable": VARIABLE, "run_endpoint": True, "documents": [
            {"name": "demo", "document": str(document)},
            {"name": "bad", "document": str(tmp_path / "bad.swml")}]},
    }, env={})
    app = build_app(settings)
    if getattr(request, "param", "") != "later":
        start(app)
    wire = WireClient((freeswitch.host, freeswitch.port), timeout=10).login(freeswitch.password)
    wire.command("event plain CHANNEL_PARK CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE")
    watch = Watch(wire)
    reader = gevent.spawn(watch.run)
    control = WireClient((freeswitch.host, freeswitch.port), timeout=10).login(
        freeswitch.password)
    yield Live(Daemon(app), watch, control, document, receiver, freeswitch)
    if app.http is not None:
        app.stop(timeout=5)
    reader.kill()
    wire.close()
    control.close()
    receiver.stop()


def start(app: App) -> None:
    app.start()
    assert app.clients["fs1"].wait_connected(10), "cannot reach FreeSWITCH"


def script_apps(live: Live, uuid: str) -> list[tuple[str, str, str]]:
    """What the script ran (the dialplan's set and park are not the script's)."""
    return [a for a in live.watch.apps.get(uuid, []) if a[0] not in ("set", "park")]


def test_mp3_recording(live: Live) -> None:
    live.document.write_text(mp3_example(live.receiver.url("/status")))
    b = live.call()
    live.wait_hangup(b)
    events = status_events(live.receiver.wait(2, timeout=15))
    assert states(events) == ["recording", "finished"]
    finished = events[-1]["params"]
    assert finished["record"]["format"] == "mp3"
    assert finished["call_id"] == b and finished["node_id"] == "fs1"
    [rec] = live.daemon.app.store.list_recordings(call_uuid=b)
    assert rec.state is State.COMPLETED and rec.path.endswith(".mp3")
    assert 1.5 < finished["record"]["duration"] < 4
    assert len(live.daemon.media(rec)) == finished["record"]["size"] > 0
    assert [a[0] for a in script_apps(live, b)] == ["answer", "playback", "hangup"]


def beep_level(path: str) -> float:
    """How much of the 1000 Hz beep the first 0.4 s of a mono wav hold."""
    with wave.open(path) as w:
        rate = w.getframerate()
        samples = memoryview(w.readframes(rate * 4 // 10)).cast("h").tolist()
    return goertzel(samples, rate, 1000)


@pytest.mark.parametrize("example,beep", [(playback_example, True), (speaker_example, False)])
def test_record_and_play_back(live: Live, example: Callable[[str], str], beep: bool) -> None:
    """Both sides: the caller's 440 Hz and what the script sends (the beep, the speech);
    the speaker's side only: the caller's 440 Hz and nothing the script sent."""
    live.document.write_text(example(live.receiver.url("/status")))
    b = live.call()
    live.wait_hangup(b)
    events = status_events(live.receiver.wait(2, timeout=15))
    assert states(events) == ["recording", "finished"]
    [rec] = live.daemon.app.store.list_recordings(call_uuid=b)
    apps = script_apps(live, b)
    assert [(a[0], a[1]) for a in apps] == [
        ("answer", ""), ("playback", "tone_stream://%(250,0,1000)"),  # the beep
        ("speak", "flite|kal|Leave your message now"),
        ("playback", "silence_stream://10000"), ("speak", "flite|kal|Playing back"),
        ("playback", rec.path), ("hangup", "NORMAL_CLEARING")]
    assert apps[5][2] == "FILE PLAYED"  # ${record_call_url}: the file just made
    info = analyse(live.daemon.media_file(rec))
    assert info.channels == 1 and 10 < info.duration < 13.5
    assert info.tones[0] == {440}  # the caller
    assert (beep_level(live.daemon.media_file(rec)) > 1000) is beep
    record = events[-1]["params"]["record"]
    assert record["format"] == "wav" and abs(record["duration"] - info.duration) < 0.1
    media = requests.get(record["url"], headers={"Authorization": basic(*ACME_LAML)},
                         timeout=10)
    assert media.status_code == 200 and media.content == live.daemon.media(rec)


BAD = "version: 1.0.0\nsections:\n  main:\n    - answer: {}\n    - dance: {}\n"


def test_good_and_bad_calls_together(live: Live, caplog: pytest.LogCaptureFixture) -> None:
    """A script with an unknown verb fails its own call, unanswered; the other call records."""
    live.document.write_text(mp3_example(live.receiver.url("/status")))
    good, bad = live.call("demo"), live.call("bad")
    live.wait_hangup(bad)
    live.wait_hangup(good)
    assert script_apps(live, bad) == [("hangup", "NORMAL_TEMPORARY_FAILURE", "_none_")]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= 40 and bad in r.getMessage()]
    assert len(errors) == 1 and "unknown or unsupported verb 'dance'" in errors[0]
    assert [a[0] for a in script_apps(live, good)] == ["answer", "playback", "hangup"]
    assert states(status_events(live.receiver.wait(2, timeout=15))) == ["recording", "finished"]


@pytest.mark.parametrize("live", ["later"], indirect=True)
def test_a_call_parked_while_the_daemon_was_away(live: Live) -> None:
    """A call parked before the daemon started gets its script once it connects."""
    live.document.write_text(mp3_example(live.receiver.url("/status")))
    a = str(uuid_module.uuid4())
    reply = live.control.command(
        f"bgapi originate {{origination_uuid={a},{VARIABLE}=demo}}"
        "loopback/script_park/rectest tone_a XML rectest")
    assert (reply.header("Reply-Text") or "").startswith("+OK"), reply
    b = eventually(lambda: (v := live.control.api(
        f"uuid_getvar {a} other_loopback_leg_uuid").strip()) != "_undef_"
        and not v.startswith("-ERR") and v, 10, "the B leg")
    # FreeSWITCH's channel list (what the daemon reads on connecting) follows a little late
    eventually(lambda: any(r["uuid"] == b and r["application"] == "park" for r in json.loads(
        live.control.api("show channels as json")).get("rows", [])), 10, "B parked")
    start(live.daemon.app)
    live.wait_hangup(b)
    assert [x[0] for x in script_apps(live, b)] == ["answer", "playback", "hangup"]
    assert states(status_events(live.receiver.wait(2, timeout=15))) == ["recording", "finished"]


def test_a_document_sent_over_the_api(live: Live) -> None:
    """POST /api/swml/calls/{call_id} on a call parked without a configured script."""
    b = live.call("none-configured")
    app = live.daemon.app
    assert app.http is not None
    doc = {"version": "1.0.0", "sections": {"main": [
        {"record_call": {"stereo": True, "status_url": live.receiver.url("/status")}},
        {"play": {"urls": ["say:Hello from the API", "silence:2"]}}]}}
    answer = requests.post(f"http://127.0.0.1:{app.http.server_port}/api/swml/calls/{b}",
                           json=doc, headers={"Authorization": basic(*ACME_LAML)}, timeout=10)
    assert answer.status_code == 202, answer.text
    live.wait_hangup(b)
    assert [(x[0], x[1]) for x in script_apps(live, b)] == [
        ("answer", ""), ("speak", "flite|kal|Hello from the API"),
        ("playback", "silence_stream://2000"), ("hangup", "NORMAL_CLEARING")]
    events = status_events(live.receiver.wait(2, timeout=15))
    assert states(events) == ["recording", "finished"]
    assert events[0]["event_channel"] == f"swml:{answer.json()['session_id']}"
    [rec] = live.daemon.app.store.list_recordings(call_uuid=b)
    info = analyse(live.daemon.media_file(rec))
    assert info.channels == 2 and info.tones[0] == {440}  # left: what B hears, its caller
