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
from urllib.parse import parse_qs

import gevent
import pytest
import requests
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


def patch_account(live: Live, data: dict[str, Any]) -> None:
    """A Crossbar PATCH of acme's document (X-Auth-Token, as Kazoo clients send it)."""
    http = live.daemon.app.http
    assert http is not None
    answer = requests.patch(
        f"http://127.0.0.1:{http.server_port}/v2/accounts/{ACCOUNTS[0]['kazoo_account_id']}",
        json={"data": data}, headers={"X-Auth-Token": ACCOUNTS[0]["kazoo_auth_token"]},
        timeout=10)
    assert answer.status_code == 200, answer.text


def test_upload_carries_the_caller_id_name_and_interaction_id(kazoo_live: tuple[Live, Esl]
                                                              ) -> None:
    live, esl = kazoo_live
    a = esl.call(**{"ecallmgr_Call-Interaction-ID": "63741914152-5813c485"})
    rec = eventually(lambda: live.daemon.app.service.for_call(a), 10, "the recording")[0]
    live.daemon.wait_state(rec.sid, State.IN_PROGRESS)
    esl.hangup(a)
    live.daemon.wait_state(rec.sid, State.COMPLETED, timeout=15)
    got = live.receiver.wait(1, timeout=15)[0]
    # the A leg of an originate: FreeSWITCH's caller id name of it (Caller-Caller-ID-Name,
    # what Kazoo's kapps_call:caller_id_name reads) is "Outbound Call", its callee id name
    # until it enters the dialplan (its CREATE and ANSWER carry no caller id name); URL-encoded
    assert "&caller_id_name=Outbound%20Call&" in got.query
    query = parse_qs(got.query, keep_blank_values=True)
    assert query["interaction_id"] == ["63741914152-5813c485"]
    assert query["call_id"] == [a] and query["recording_id"] == [rec.sid]


def test_a_call_up_before_a_reconnect_is_recorded_from_then_on(kazoo_live: tuple[Live, Esl]
                                                               ) -> None:
    live, esl = kazoo_live
    client = live.daemon.app.clients["fs1"]
    client.stop()
    a = esl.call()  # placed while the daemon is not listening
    gevent.sleep(1.5)  # 1.5 s of call the recording cannot have (real media time)
    client.start()
    assert client.wait_connected(10)
    rec = eventually(lambda: live.daemon.app.service.for_call(a), 10, "the late recording")[0]
    assert rec.meta["started_late"] is True
    live.daemon.wait_state(rec.sid, State.IN_PROGRESS)
    gevent.sleep(1.0)  # 1 s recorded (real media time, not a wait)
    esl.hangup(a)
    done = live.daemon.wait_state(rec.sid, State.COMPLETED, timeout=15)
    assert done.file is not None and 500 <= done.file.duration_ms < 2300


def test_a_user_set_before_the_bridge_adds_its_recording(kazoo_live: tuple[Live, Esl]
                                                         ) -> None:
    live, esl = kazoo_live
    patch_account(live, {"record_call": None})
    answer = requests.patch(
        f"http://127.0.0.1:{live.daemon.app.http.server_port}/v2/accounts/"  # type: ignore[union-attr]
        f"{ACCOUNTS[0]['kazoo_account_id']}/users/alice",
        json={"data": {"record_call": {"format": "wav", "time_limit": 120}}},
        headers={"Authorization": f"Bearer {ACCOUNTS[0]['kazoo_auth_token']}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    a = esl.call()
    other = esl.call(account="globex")
    account_rec = eventually(lambda: live.daemon.app.service.for_call(a), 10, "it")[0]
    esl.api(f"uuid_setvar {a} esl_recorder_user_id alice")
    assert esl.api(f"uuid_bridge {a} {other}").startswith("+OK")
    recs = eventually(lambda: (r := live.daemon.app.service.for_call(a)) and len(r) == 2
                      and r, 10, "the user's recording at the bridge")
    user_rec = next(r for r in recs if r.sid != account_rec.sid)
    assert user_rec.meta["level"] == "user" and user_rec.options.max_length_s == 120
    live.daemon.wait_state(user_rec.sid, State.IN_PROGRESS)
    esl.hangup(a)
    esl.hangup(other)
    for rec in (account_rec, user_rec):
        live.daemon.wait_state(rec.sid, State.COMPLETED, State.ABSENT, timeout=15)
    assert len(live.daemon.app.store.list_recordings(call_uuid=a)) == 2


def test_the_recording_follows_a_transfer(kazoo_live: tuple[Live, Esl]) -> None:
    """uuid_transfer <a> -bleg: FreeSWITCH moves a's recording to its partner (a has
    recording_follow_transfer, set by the daemon) and sends the partner on; the recording
    goes on after a hung up and ends with the partner, under the partner's Unique-ID."""
    live, esl = kazoo_live
    patch_account(live, {"call_recording": {"account": {"outbound": {"any": {
        "should_follow_transfer": True}}}}})
    a = esl.call()
    other = esl.call(account="globex")
    rec = eventually(lambda: live.daemon.app.service.for_call(a), 10, "the recording")[0]
    live.daemon.wait_state(rec.sid, State.IN_PROGRESS)
    assert esl.api(f"uuid_getvar {a} recording_follow_transfer").strip() == "true"
    assert esl.api(f"uuid_bridge {a} {other}").startswith("+OK")
    eventually(lambda: live.daemon.app.tracker.get(a).other_leg == other, 10, "the bridge")
    gevent.sleep(1.0)  # a second on the first leg (real media time, not a wait)
    assert esl.api(f"uuid_transfer {a} -bleg tone_b XML rectest").startswith("+OK")
    esl.hangup(a)
    eventually(lambda: [r.sid for r in live.daemon.app.service.for_call(other)] == [rec.sid],
               10, "the recording on the transferred leg")
    gevent.sleep(1.0)  # a second on the second leg
    assert live.daemon.app.recordings.get(rec.sid).state is State.IN_PROGRESS
    esl.hangup(other)
    done = live.daemon.wait_state(rec.sid, State.COMPLETED, timeout=15)
    assert done.file is not None and done.file.duration_ms >= 1800
    got = live.receiver.wait(1, timeout=15)[0]
    assert got.path == f"/rec/call_recording_{a}.wav"  # Kazoo's call id: the call's
    assert hashlib.sha256(got.body).hexdigest() == done.file.sha256


def test_media_name_crossbar_auth_list_and_delete(kazoo_live: tuple[Live, Esl]) -> None:
    live, esl = kazoo_live
    patch_account(live, {"call_recording": {"account": {"outbound": {"any": {
        "media_name": "live call 1"}}}}})
    a = esl.call()
    rec = eventually(lambda: live.daemon.app.service.for_call(a), 10, "the recording")[0]
    live.daemon.wait_state(rec.sid, State.IN_PROGRESS)
    esl.hangup(a)
    live.daemon.wait_state(rec.sid, State.COMPLETED, timeout=15)
    http = live.daemon.app.http
    assert http is not None
    url = (f"http://127.0.0.1:{http.server_port}/v2/accounts/"
           f"{ACCOUNTS[0]['kazoo_account_id']}/recordings/{rec.sid}")
    token = ACCOUNTS[0]["kazoo_auth_token"]
    doc = requests.get(url, headers={"X-Auth-Token": token}, timeout=10).json()["data"]
    assert doc["name"] == "live call 1.wav" and doc["call_id"] == a
    media = requests.get(url, params={"accept": "audio/wav"}, timeout=10,
                         headers={"Authorization": f"Bearer {token}"})
    assert media.status_code == 200
    assert 'filename="live call 1.wav"' in media.headers["Content-Disposition"]
    wrong = requests.get(url, headers={"X-Auth-Token": token + "x"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["message"] == "invalid_credentials"
    assert wrong.json()["data"] == {"message": "invalid credentials"}
    listing = url.rsplit("/", 1)[0]
    listed = requests.get(listing, headers={"X-Auth-Token": token}, timeout=10).json()["data"]
    assert rec.sid in [r["id"] for r in listed]
    gone = requests.delete(url, headers={"X-Auth-Token": token}, timeout=10)
    assert gone.status_code == 200, gone.text
    assert requests.get(url, headers={"X-Auth-Token": token}, timeout=10).status_code == 404
    listed = requests.get(listing, headers={"X-Auth-Token": token}, timeout=10).json()["data"]
    assert rec.sid not in [r["id"] for r in listed]
