"""Kazoo callflows on simulated calls over real sockets: the applications the daemon ran,
the files written, the uploads a real local receiver got; bad flows fail their call alone.

The call is the simulator's `script_park` B leg, parked for the script; its caller sends
440 Hz once B is answered (tests/scripts/conftest.py's Scripted drives the media clock)."""

from __future__ import annotations

import itertools
import json
import wave
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from daemon.conftest import FAST_ESL
from scripts.conftest import FRAME, VARIABLE, Scripted, start_scripted, stop_scripted
from scripts.swml_support import DocumentServer

from esl_recorder.domain.recording import State
from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import ACCOUNTS, FAST_RETRIES

Flows = Callable[..., Scripted]
TONE = "tone_stream://%(1000,0,600)"


def node(module: str, data: dict[str, Any] | None = None, **children: Any) -> dict[str, Any]:
    return {"module": module, "data": data or {}, "children": children}


def chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    """Each node's `_` child is the next."""
    for first, second in itertools.pairwise(nodes):
        first["children"]["_"] = second
    return nodes[0]


@pytest.fixture
def flows(tmp_settings: Callable[..., Any]) -> Iterator[Flows]:
    made: list[Scripted] = []

    def make(documents: dict[str, Any]) -> Scripted:
        def settings_for(switch: FakeSwitch, server: DocumentServer) -> Any:
            routes = []
            for name, flow in documents.items():
                server.documents[f"/{name}.json"] = (flow if isinstance(flow, str)
                                                      else json.dumps({"flow": flow}))
                routes.append({"name": name, "document": server.url(f"/{name}.json"),
                               "dialect": "kazoo"})
            return tmp_settings(switch.address, esl=FAST_ESL, accounts=ACCOUNTS,
                                delivery=FAST_RETRIES,
                                kazoo={"default_format": "wav",
                                       "bridge_dial_string": "loopback/{to}/rectest"},
                                scripts={"variable": VARIABLE, "documents": routes,
                                         "fetch_timeout": 1.0})

        return start_scripted(settings_for, made)

    yield make
    stop_scripted(made)


def outcome(sim: Scripted, result: str) -> float:
    return sim.daemon.app.prometheus.get_sample_value(
        "esl_recorder_script_runs_total", {"dialect": "kazoo", "outcome": result}) or 0


def test_record_call_start_and_stop_with_an_upload(flows: Flows) -> None:
    sim = flows({"rec": {}})
    url = sim.receiver.url("/calls/")
    sim.documents.documents["/rec.json"] = json.dumps({"flow": chain(
        node("answer"),
        node("record_call", {"action": "start", "format": "wav", "url": url,
                             "label": "sales", "time_limit": 2}),
        node("sleep", {"duration": 1}),
        node("tts", {"text": "hello"}),
        node("record_call", {"action": "stop"}),
        node("play", {"id": TONE}),
        node("hangup"))})
    b = sim.call("rec")
    sim.run(b)
    apps = [a for a, _, _ in sim.applications(b)]
    assert apps == ["answer", "playback", "speak", "playback", "hangup"]
    [rec] = sim.recordings(b)
    assert rec.state is State.COMPLETED and rec.source == "kazoo"
    assert rec.options.max_length_s == 5  # 2 asked: clamped to Kazoo's 5 s minimum
    assert rec.meta["origin"] == "callflow : sales"
    # should_follow_transfer defaults to true in a callflow (cf_record_call.erl)
    assert rec.options.follow_transfer
    assert f"uuid_setvar {b} recording_follow_transfer true" in sim.switch.commands
    with wave.open(sim.daemon.media_file(rec)) as w:
        assert w.getnchannels() == 2 and 1.0 <= w.getnframes() / w.getframerate() <= 3.0
    got, = sim.receiver.wait(1)
    assert got.method == "PUT"
    assert urlsplit(got.url).path == f"/calls/call_recording_{b}.wav"
    assert got.body == sim.daemon.media(rec)
    assert outcome(sim, "completed") == 1


def test_media_name_is_the_stored_name(flows: Flows) -> None:
    """Kazoo's media_name names the recording (its document's name, the media's file name,
    the extension added as get_media_name/2 adds it); the upload keeps Kazoo's
    call_recording_<call id> name; a media_name that is not a plain file name takes the
    node's failure branch."""
    sim = flows({"named": {}})
    url = sim.receiver.url("/n/")
    named = chain(node("record_call", {"format": "wav", "media_name": "Sales call 7",
                                       "url": url}),
                  node("sleep", {"duration": 1}), node("hangup"))
    sim.documents.documents["/named.json"] = json.dumps({"flow": chain(
        node("answer"),
        node("record_call", {"format": "wav", "media_name": "../../etc/passwd"},
             failure=named),
        node("hangup"))})
    b = sim.call("named")
    sim.run(b)
    [rec] = sim.recordings(b)  # the bad one started nothing
    assert rec.state is State.COMPLETED and rec.meta["media_name"] == "Sales call 7"
    token = ACCOUNTS[0]["kazoo_auth_token"]
    base = f"http://127.0.0.1:{sim.daemon.app.http.server_port}/v2/accounts/" \
           f"{ACCOUNTS[0]['kazoo_account_id']}/recordings/{rec.sid}"
    doc = requests.get(base, headers={"X-Auth-Token": token}, timeout=10).json()["data"]
    assert doc["name"] == "Sales call 7.wav"
    assert doc["description"] == "recording Sales call 7.wav"
    media = requests.get(base, params={"accept": "audio/wav"}, timeout=10,
                         headers={"X-Auth-Token": token})
    assert media.status_code == 200 and 'filename="Sales call 7.wav"' in \
        media.headers["Content-Disposition"]
    got, = sim.receiver.wait(1)
    assert urlsplit(got.url).path == f"/n/call_recording_{b}.wav"


def test_record_caller_records_the_callers_side_until_its_limit(flows: Flows) -> None:
    sim = flows({"vm": chain(node("answer"),
                             node("record_caller", {"format": "wav", "time_limit": 5,
                                                    "method": "post"}),
                             node("play", {"id": TONE}), node("hangup"))})
    b = sim.call("vm")
    sim.run(b, until=lambda: sim.daemon.service.for_call(b))
    rec, = sim.daemon.service.for_call(b)
    while not sim.daemon.app.recordings.get(rec.sid).terminal and \
            not any(a == "playback" for a, _, _ in sim.applications(b)):
        sim.switch.advance(FRAME)  # the recording runs on media time
        sim.switch.flush()
    sim.run(b)
    [done] = sim.recordings(b)
    assert done.options.track.value == "inbound" and done.options.channels == 1
    assert not done.options.follow_transfer  # a voicemail-style recording of one side
    with wave.open(sim.daemon.media_file(done)) as w:
        assert 4.0 <= w.getnframes() / w.getframerate() <= 5.5
    assert [a for a, _, _ in sim.applications(b)] == ["answer", "playback", "hangup"]


def test_record_on_answer_and_bridge_starts_at_the_bridge(flows: Flows) -> None:
    sim = flows({"br": chain(
        node("record_call", {"format": "wav", "record_on_answer": True,
                             "record_on_bridge": True, "time_limit": 60}),
        node("play", {"id": TONE}),
        node("bridge", {"number": "tone_b"}),
        node("hangup"))})
    b = sim.call("br")
    assert not sim.daemon.app.store.list_recordings(call_uuid=b)

    def bridged() -> bool:
        call = sim.daemon.app.tracker.get(b)
        return call is not None and call.state.value == "bridged"

    sim.run(b, until=bridged)
    # not before the bridge node: the tone played first, then the recording and the bridge
    assert [a for a, _, _ in sim.applications(b)] == ["answer", "playback"]  # bridge runs
    rec, = sim.daemon.service.for_call(b)
    sim.daemon.wait_state(rec.sid, State.IN_PROGRESS)
    sim.switch.advance(1.0)
    sim.switch.hangup(b)
    sim.run(b)
    [done] = sim.recordings(b)
    assert done.state is State.COMPLETED and done.options.channels == 2
    with wave.open(sim.daemon.media_file(done)) as w:
        assert w.getnframes() / w.getframerate() >= 0.9
    assert outcome(sim, "hungup") == 1


def test_unknown_module_takes_the_failure_branch(flows: Flows) -> None:
    sim = flows({"odd": chain(node("answer"), node("voicemail_v9", {},
                                                  failure=node("play", {"id": TONE})))})
    b = sim.call("odd")
    sim.run(b)
    assert [a for a, _, _ in sim.applications(b)] == ["answer", "playback", "hangup"]
    assert outcome(sim, "completed") == 1


@pytest.mark.parametrize("document", [
    "{not json",
    json.dumps({"flow": {"module": 7}}),
    json.dumps({"flow": chain(node("answer"), node("nope"))}),
    json.dumps({"flow": chain(node("answer"), node("record_call", {"format": "ogg"}))}),
    json.dumps({"flow": chain(node("answer"), node("sleep", {"duration": "long"}))}),
    json.dumps({"flow": chain(node("answer"), node("play", {"id": "../../etc/passwd"}))}),
])
def test_a_bad_flow_fails_its_call_alone(flows: Flows, document: str) -> None:
    good = chain(node("answer"), node("record_call", {"format": "wav"}),
                 node("sleep", {"duration": 1}), node("hangup"))
    sim = flows({"bad": document, "good": good})
    bad_call = sim.call("bad")
    good_call = sim.call("good")
    sim.run(bad_call, good_call)
    assert outcome(sim, "failed") == 1 and outcome(sim, "completed") == 1
    [rec] = sim.recordings(good_call)
    assert rec.state is State.COMPLETED
    assert not sim.daemon.app.store.list_recordings(call_uuid=bad_call)
    hangups = [d for a, d, _ in sim.applications(bad_call) if a == "hangup"]
    assert hangups == ["NORMAL_TEMPORARY_FAILURE"]
