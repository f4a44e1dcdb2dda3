"""Kazoo policies and callflows on real calls of a real FreeSWITCH (skipped without
ESL_RECORDER_FS): the daemon in process, uploads to a real local receiver.

Policy calls: `originate {vars}loopback/tone_b/rectest tone_a XML rectest`; mod_loopback
copies the variables to the B leg, so the policies here name the direction: the A leg is
FreeSWITCH's outbound leg. Callflow calls: the `script_park` extension parks B for the
script named by the variable (test_swml_live.py's Live does the watching)."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
import yaml
from api.conftest import ACCOUNTS
from api.receiver import Receiver
from daemon.conftest import Daemon
from daemon.tones import analyse
from fakeswitch.wireclient import WireClient
from store_backends import Backends

from esl_recorder.app import build_app
from esl_recorder.domain.recording import State
from esl_recorder.settings import settings_from_mapping

from .conftest import FreeSwitchAddress
from .live import Esl, eventually
from .test_swml_live import VARIABLE, Live, Watch, script_apps

OUTBOUND_ONLY = {"enabled": True, "format": "wav"}


@pytest.fixture
def kazoo_live(freeswitch: FreeSwitchAddress, tmp_path: Path,
               backends: Backends) -> Iterator[tuple[Live, Esl]]:
    receiver = Receiver().start()
    flow = tmp_path / "flow.json"
    policies = tmp_path / "policies.yaml"
    policies.write_text(yaml.safe_dump({"accounts": {"acme": {"call_recording": {"account": {
        "outbound": {"any": {**OUTBOUND_ONLY, "url": receiver.url("/rec/")}}}}}}}))
    settings = settings_from_mapping({
        "nodes": [{"name": "fs1", "host": freeswitch.host, "port": freeswitch.port,
                   "password": freeswitch.password}],
        "recording": {"root": os.path.join(freeswitch.recordings, tmp_path.name)},
        **backends.sections(tmp_path), "http": {"port": 0},
        "delivery": {"allowed_networks": ["127.0.0.0/8"], "initial_delay": 0.05},
        "accounts": ACCOUNTS,
        "kazoo": {"policy_file": str(policies), "default_format": "wav",
                  "bridge_dial_string": "loopback/{to}/rectest"},
        "scripts": {"variable": VARIABLE, "documents": [
            {"name": "demo", "document": str(flow), "dialect": "kazoo"}]},
    }, env={})
    app = build_app(settings)
    app.start()
    assert app.clients["fs1"].wait_connected(10), "cannot reach FreeSWITCH"
    wire = WireClient((freeswitch.host, freeswitch.port), timeout=10).login(freeswitch.password)
    wire.command("event plain CHANNEL_PARK CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP_COMPLETE")
    watch = Watch(wire)
    reader = gevent.spawn(watch.run)
    control = WireClient((freeswitch.host, freeswitch.port), timeout=10).login(
        freeswitch.password)
    esl = Esl(freeswitch)
    yield Live(Daemon(app), watch, control, flow, receiver, freeswitch), esl
    esl.close()
    app.stop(timeout=5)
    reader.kill()
    wire.close()
    control.close()
    receiver.stop()


def test_a_policy_records_the_matching_leg_and_uploads_it(kazoo_live: tuple[Live, Esl]
                                                          ) -> None:
    live, esl = kazoo_live
    other = esl.call(account="globex")
    a = esl.call()
    rec = eventually(lambda: live.daemon.app.service.for_call(a), 10, "the policy's recording")[0]
    live.daemon.wait_state(rec.sid, State.IN_PROGRESS)
    gevent.sleep(1.5)  # let the call make 1.5 s of audio (real media time, not a wait)
    esl.hangup(a)
    esl.hangup(other)
    done = live.daemon.wait_state(rec.sid, State.COMPLETED, timeout=15)
    got = live.receiver.wait(1, timeout=15)[0]
    assert got.method == "PUT" and got.path == f"/rec/call_recording_{a}.wav"
    assert done.file is not None and hashlib.sha256(got.body).hexdigest() == done.file.sha256
    assert done.file.channels == 2
    store = live.daemon.app.store
    assert not store.list_recordings(call_uuid=other)
    assert len(store.list_recordings(account="acme")) == 1  # the B leg is inbound: not it


def flow_doc(*nodes: dict[str, Any]) -> str:
    for first, second in itertools.pairwise(nodes):
        first.setdefault("children", {})["_"] = second
    return json.dumps({"flow": nodes[0]})


def test_a_callflow_records_then_stops(kazoo_live: tuple[Live, Esl]) -> None:
    live, _ = kazoo_live
    live.document.write_text(flow_doc(
        {"module": "answer"},
        {"module": "record_call", "data": {"action": "start", "format": "wav"}},
        {"module": "sleep", "data": {"duration": 2}},
        {"module": "record_call", "data": {"action": "stop"}},
        {"module": "no_such_module", "children": {
            "failure": {"module": "play", "data": {"id": "tone_stream://%(300,0,600)"}}}},
        {"module": "hangup"}))
    b = live.call()
    live.wait_hangup(b)
    [rec] = eventually(lambda: [r for r in live.daemon.app.store.list_recordings(call_uuid=b)
                                if r.terminal], 15, "the recording")
    assert rec.state is State.COMPLETED and rec.source == "kazoo"
    assert rec.file is not None and 1.5 < rec.file.duration_ms / 1000 < 3.5
    assert [x[0] for x in script_apps(live, b)] == ["answer", "playback", "playback",
                                                   "hangup"]


def test_a_callflow_records_on_bridge(kazoo_live: tuple[Live, Esl]) -> None:
    """record_on_bridge waits for the bridge node; the bridge to tone_b (880 Hz) runs until
    the far end's extension ends or the test hangs up."""
    live, esl = kazoo_live
    live.document.write_text(flow_doc(
        {"module": "record_call", "data": {"format": "wav", "record_on_bridge": True,
                                           "record_on_answer": True}},
        {"module": "bridge", "data": {"number": "tone_b"}},
        {"module": "hangup"}))
    b = live.call()
    rec = eventually(lambda: live.daemon.app.service.for_call(b), 15, "the recording")[0]
    live.daemon.wait_state(rec.sid, State.IN_PROGRESS, timeout=15)
    assert "bridge" not in [x[0] for x in script_apps(live, b)]  # still bridged
    gevent.sleep(1.5)  # 1.5 s of bridged audio (real media time, not a wait)
    esl.api(f"uuid_kill {b}")
    live.wait_hangup(b)
    done = live.daemon.wait_state(rec.sid, State.COMPLETED, timeout=15)
    assert done.file is not None and done.file.duration_ms >= 1000
    info = analyse(live.daemon.media_file(done))
    # left: what B hears (its caller's 440 Hz); right: what B sends (the bridged 880 Hz)
    assert info.channels == 2 and info.tones == [{440}, {880}]
