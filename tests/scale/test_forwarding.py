"""Every daemon serves the whole API: a request about a call or recording on a node another
daemon owns is handed to that owner through the database (store.commands) and answered as
the owner would answer it. Two daemon processes over one PostgreSQL, two simulated nodes,
both owned by the first daemon; the requests go to the second."""

from __future__ import annotations

import re
import signal
from collections import Counter
from typing import Any

import psycopg
import pytest
import requests
from api.conftest import ACME_BW, ACME_LAML, ACME_TEXML, GLOBEX_LAML, basic
from api.receiver import Receiver
from integration.live import eventually

from esl_recorder.settings import IdentitySettings
from esl_recorder.testing.fakeswitch import FakeSwitch

from .cluster import Cluster, ClusterFactory, Daemon

FORWARD_TIMEOUT = 2.0
ACCOUNT_VAR = IdentitySettings().account_variable
LAML = f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}"
TEXML = f"/v2/texml/Accounts/{ACME_TEXML[0]}"
PREFIX = {"laml": LAML, "texml": TEXML}
AUTH = {"laml": {"Authorization": basic(*ACME_LAML)},
        "texml": {"Authorization": f"Bearer {ACME_TEXML[1]}"}}
BW = "/v1/users/u-acme"
BW_AUTH = {"Authorization": basic(ACME_BW[1], ACME_BW[2])}
CALLING = "/api/calling/calls"
MISSING_CALL = "0b2ec0de-0000-4000-8000-000000000000"


@pytest.fixture
def pair(daemon_cluster: ClusterFactory) -> Cluster:
    """d0 owns both nodes; d1 owns none (it is started once d0 holds them)."""
    cluster = daemon_cluster(
        daemons=2, store={"forward_timeout": FORWARD_TIMEOUT},
        bandwidth={"dial_string": "loopback/{to}/rectest", "application": "&park()"},
        scripts={"run_endpoint": True})
    owner, other = cluster.daemons
    owner.start()
    eventually(lambda: owner.owned() == set(cluster.switches), 15, "d0 to own both nodes")
    other.start()
    return cluster


def call_on(sim: FakeSwitch, account: str = "acme") -> str:
    return sim.inbound_call("tone_a", {ACCOUNT_VAR: account}, answered=True)


def record(daemon: Daemon, dialect: str, call: str, callback: str = "") -> requests.Response:
    """Start a recording on `call` through `daemon`, once the node's owner tracks the call
    (a 404 until then)."""
    data = {"RecordingStatusCallback": callback,
            "RecordingStatusCallbackEvent": "in-progress completed"} if callback else {}

    def attempt() -> requests.Response | None:
        r = daemon.request("POST", f"{PREFIX[dialect]}/Calls/{call}/Recordings.json",
                           headers=AUTH[dialect], data=data)
        return None if r.status_code == 404 else r

    return eventually(attempt, 10, f"{daemon.name} to record call {call}")


def update(daemon: Daemon, dialect: str, call: str, sid: str, status: str
           ) -> requests.Response:
    return daemon.request("POST", f"{PREFIX[dialect]}/Calls/{call}/Recordings/{sid}.json",
                          headers=AUTH[dialect], data={"Status": status})


def recording_command(sim: FakeSwitch, call: str, *actions: str) -> str:
    return sim.wait_for_command(
        lambda c: c.startswith(f"uuid_record {call} ") and c.split()[2] in actions)


def commands_about(sim: FakeSwitch, call: str) -> list[str]:
    return [c for c in sim.commands if call in c]


def forwarded(daemon: Daemon, operation: str, outcome: str = "ok") -> float:
    return daemon.metric("esl_recorder_commands_forwarded_total", operation=operation,
                         outcome=outcome)


def test_laml_and_texml_recordings_through_a_daemon_that_does_not_own_the_node(
        pair: Cluster, receiver: Receiver) -> None:
    _, other = pair.daemons
    sids: dict[str, str] = {}
    for node, dialect in (("fs1", "laml"), ("fs2", "texml")):
        sim, elsewhere = pair.switches[node], pair.switches["fs2" if node == "fs1" else "fs1"]
        call = call_on(sim)
        r = record(other, dialect, call, receiver.url(f"/{dialect}"))
        assert r.status_code in (200, 201), r.text
        sid = r.json()["sid"]
        sids[sid] = dialect
        path = recording_command(sim, call, "start").split()[3]
        r = update(other, dialect, call, sid, "paused")
        assert (r.status_code, r.json()["status"]) == (200, "paused"), r.text
        recording_command(sim, call, "mask", "pause")
        r = update(other, dialect, call, sid, "in-progress")
        assert (r.status_code, r.json()["status"]) == (200, "in-progress"), r.text
        recording_command(sim, call, "unmask", "resume")
        r = update(other, dialect, call, sid, "stopped")
        assert r.status_code == 200, r.text
        assert recording_command(sim, call, "stop") == f"uuid_record {call} stop {path}"
        assert commands_about(elsewhere, call) == []  # the right node, and only it
    done = {(s, st) for s in sids for st in ("in-progress", "completed")}
    eventually(lambda: done <= {(r.form.get("RecordingSid"), r.form.get("RecordingStatus"))
                                for r in receiver.received}, 15, "every callback")
    got = Counter((r.form.get("RecordingSid"), r.form.get("RecordingStatus"))
                  for r in receiver.received)
    assert all(n == 1 for n in got.values()), got  # each once
    assert forwarded(other, "recording.start") == 2
    assert forwarded(other, "recording.pause") == 2
    assert forwarded(other, "recording.stop") == 2


def test_bandwidth_and_calling_through_a_daemon_that_does_not_own_the_node(
        pair: Cluster, receiver: Receiver) -> None:
    owner, other = pair.daemons
    fs1, fs2 = pair.switches["fs1"], pair.switches["fs2"]
    # Bandwidth: recordingEnabled toggled on a live call of fs2, then the call hung up
    call = call_on(fs2)
    eventually(lambda: other.request("POST", f"{BW}/calls/{call}", headers=BW_AUTH,
                                     json={"recordingEnabled": True}).status_code == 200,
               10, "recordingEnabled accepted")
    path = recording_command(fs2, call, "start").split()[3]
    r = other.request("POST", f"{BW}/calls/{call}", headers=BW_AUTH,
                      json={"recordingEnabled": False})
    assert r.status_code == 200, r.text
    assert recording_command(fs2, call, "stop") == f"uuid_record {call} stop {path}"
    r = other.request("POST", f"{BW}/calls/{call}", headers=BW_AUTH, json={"state": "completed"})
    assert r.status_code == 200, r.text
    fs2.wait_for_command(f"uuid_kill {call}")
    assert commands_about(fs1, call) == []
    # Bandwidth: a call created through the daemon that owns no node: its owner places it
    r = other.request("POST", f"{BW}/calls", headers=BW_AUTH, json={
        "from": "+15551230001", "to": "tone_b", "callbackUrl": receiver.url("/bw"),
        "recordingEnabled": True})
    assert r.status_code == 201, r.text
    placed = r.headers["Location"].rsplit("/", 1)[1]
    assert r.headers["Location"] == f"{other.url}{BW}/calls/{placed}"
    fs1.wait_for_command(lambda c: "originate" in c and placed in c)
    recording_command(fs1, placed, "start")
    # Calling API: record, pause, stop by control_id on a call of fs1
    call = call_on(fs1)
    laml = {"Authorization": basic(*ACME_LAML)}

    def command(name: str, **params: Any) -> requests.Response:
        return other.request("POST", CALLING, headers=laml,
                             json={"command": name, "id": call, "params": params})

    r = eventually(lambda: (x := command("calling.record", audio={}, control_id="c1"))
                   .status_code != 404 and x, 10, "calling.record accepted")
    assert (r.status_code, r.json()["control_id"]) == (200, "c1"), r.text
    recording_command(fs1, call, "start")
    assert command("calling.record.pause", control_id="c1").status_code == 200
    recording_command(fs1, call, "mask", "pause")
    assert command("calling.record.stop", control_id="c1").status_code == 200
    recording_command(fs1, call, "stop")
    assert commands_about(fs2, call) == []
    assert forwarded(owner, "recording.start") == 0  # the owner ran them: nothing forwarded
    assert forwarded(other, "call.take_charge") >= 1
    assert forwarded(other, "call.hangup") == 1
    assert forwarded(other, "call.place") == 1


def test_a_daemon_started_after_a_call_was_placed_hands_requests_about_it_to_the_owner(
        daemon_cluster: ClusterFactory) -> None:
    """The later daemon knows the Bandwidth call from the store at its start (a copy of
    another node's call): it must not act on it itself."""
    cluster = daemon_cluster(
        daemons=2, nodes=("fs1",), store={"forward_timeout": FORWARD_TIMEOUT},
        bandwidth={"dial_string": "loopback/{to}/rectest", "application": "&park()"})
    owner, other = cluster.daemons
    fs1 = cluster.switches["fs1"]
    owner.start()
    eventually(lambda: owner.owned() == {"fs1"}, 15, "d0 to own fs1")
    r = owner.request("POST", f"{BW}/calls", headers=BW_AUTH,
                      json={"from": "+15551230001", "to": "tone_b"})
    assert r.status_code == 201, r.text
    call = r.headers["Location"].rsplit("/", 1)[1]
    fs1.wait_for_command(lambda c: "originate" in c and call in c)
    eventually(lambda: owner.request("GET", f"{BW}/calls/{call}", headers=BW_AUTH)
               .json()["state"] == "active", 10, "the call answered")
    other.start()
    r = other.request("POST", f"{BW}/calls/{call}", headers=BW_AUTH,
                      json={"recordingEnabled": True})
    assert r.status_code == 200, r.text
    recording_command(fs1, call, "start")
    r = other.request("POST", f"{BW}/calls/{call}", headers=BW_AUTH, json={"state": "completed"})
    assert r.status_code == 200, r.text
    fs1.wait_for_command(f"uuid_kill {call}")


def test_swml_sent_to_a_daemon_that_does_not_own_the_node_runs_on_its_owner(
        pair: Cluster) -> None:
    _, other = pair.daemons
    fs2 = pair.switches["fs2"]
    call = fs2.park_for_script("tone_a", {ACCOUNT_VAR: "acme"})
    doc = {"version": "1.0.0", "sections": {"main": [
        {"record_call": {"control_id": "api"}}, {"play": {"urls": ["silence:1"]}}, "hangup"]}}
    r = eventually(lambda: (x := other.request(
        "POST", f"/api/swml/calls/{call}", json=doc, headers=AUTH["laml"]))
        .status_code != 404 and x, 10, "the document accepted")
    assert r.status_code == 202, r.text
    assert r.json()["id"] == call and r.json()["session_id"]
    recording_command(fs2, call, "start")  # its record_call step, sent by fs2's owner
    assert commands_about(pair.switches["fs1"], call) == []
    assert forwarded(other, "script.start") == 1


def normalized(r: requests.Response, daemon: Daemon, *ids: str) -> tuple[int, Any]:
    """Status and body with the daemon's own address and the given ids masked."""
    text = r.text.replace(daemon.url, "<base>")
    for i, value in enumerate(ids):
        text = text.replace(value, f"<id{i}>")
    # times, and whether FreeSWITCH's RECORD_STOP had come in when the answer was made
    text = re.sub(r'"(date_\w+|start_time|end_time)": ?("[^"]*"|null)', r'"\1": "<t>"', text)
    return r.status_code, text


def test_a_forwarded_request_is_answered_as_a_local_one(pair: Cluster) -> None:
    owner, other = pair.daemons
    fs1 = pair.switches["fs1"]
    # a recording started locally and one started through the other daemon: the same
    answers = []
    for daemon in (owner, other):
        call = call_on(fs1)
        r = record(daemon, "laml", call)
        sid = r.json()["sid"]
        answers.append(normalized(r, daemon, call, sid))
        # some audio first: a stop within the first frame leaves it absent, not completed
        eventually(lambda c=call: any(rec.elapsed_ms >= 100
                                      for rec in fs1.channel(c).recordings),
                   10, "100 ms of audio recorded")
        for status in ("paused", "in-progress", "stopped"):
            answers.append(normalized(update(daemon, "laml", call, sid, status), daemon,
                                      call, sid))
        # a finished recording cannot be paused: the same error, in the same shape
        fetch = f"{LAML}/Recordings/{sid}.json"
        eventually(lambda d=daemon, path=fetch: d.request(
            "GET", path, headers=AUTH["laml"]).json()["status"] == "completed",
            10, "the recording completed")
        answers.append(normalized(update(daemon, "laml", call, sid, "paused"), daemon,
                                  call, sid))
    half = len(answers) // 2
    for local, remote in zip(answers[:half], answers[half:], strict=True):
        assert local == remote
    assert answers[half - 1][0] == 422  # LaML's answer to a Conflict

    # unknown and foreign calls: 404 as for a missing one, local or forwarded, every dialect
    foreign = call_on(fs1, account="globex")  # unknown to the store: asked of the owner
    record(owner, "laml", call_on(fs1))  # the owner has read the events before it too
    known = call_on(fs1, account="globex")
    globex = {"Authorization": basic(*GLOBEX_LAML)}
    assert owner.request("POST", f"/api/laml/2010-04-01/Accounts/{GLOBEX_LAML[0]}/Calls/"
                         f"{known}/Recordings.json", headers=globex).status_code in (200, 201)
    def requests_about(call: str) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
        return [("POST", f"{LAML}/Calls/{call}/Recordings.json", AUTH["laml"], {}),
                ("POST", f"{TEXML}/Calls/{call}/Recordings.json", AUTH["texml"], {}),
                ("POST", f"{BW}/calls/{call}", BW_AUTH, {"json": {"recordingEnabled": True}}),
                ("POST", CALLING, AUTH["laml"], {"json": {
                    "command": "calling.record", "id": call, "params": {}}})]

    for call in (MISSING_CALL, foreign, known):  # `known` is globex's in the store
        asked = zip(requests_about(call), requests_about(MISSING_CALL), strict=True)
        for (method, path, headers, body), missing_request in asked:
            got = [normalized(d.request(method, path, headers=headers, **body), d, call)
                   for d in (owner, other)]
            assert got[0] == got[1], (path, got)
            assert got[0][0] == 404, (path, got)
            m_method, m_path, m_headers, m_body = missing_request
            missing = normalized(owner.request(m_method, m_path, headers=m_headers, **m_body),
                                 owner, MISSING_CALL)
            assert got[0] == missing, (path, got, missing)
    # the call the store knows under globex was refused before anything was forwarded
    with psycopg.connect(pair.url) as conn:
        asked = conn.execute("SELECT count(*) FROM node_commands WHERE args LIKE %s",
                             (f"%{known}%",)).fetchone()
    assert asked == (0,)


def test_an_owner_that_does_not_take_a_request_in_time_answers_503_and_never_runs_it(
        pair: Cluster) -> None:
    owner, other = pair.daemons
    fs1 = pair.switches["fs1"]
    call = call_on(fs1)
    sid = record(owner, "laml", call).json()["sid"]
    recording_command(fs1, call, "start")
    owner.signal(signal.SIGSTOP)  # it holds the lock but answers nothing
    r = update(other, "laml", call, sid, "stopped")
    assert r.status_code == 503, r.text
    assert "did not take the request within 2 s (it was not carried out)" in r.json()["message"]
    owner.kill9()  # the command waited for it; its heir must not run it late
    eventually(lambda: other.owned() == set(pair.switches), 15, "d1 to take both nodes")
    with psycopg.connect(pair.url) as conn:
        rows = conn.execute("SELECT operation, state FROM node_commands "
                            "WHERE operation = 'recording.stop'").fetchall()
    assert rows == [("recording.stop", "abandoned")]  # claims take pending rows only
    doc = other.request("GET", f"{LAML}/Calls/{call}/Recordings/{sid}.json",
                        headers=AUTH["laml"]).json()
    assert doc["status"] == "in-progress"
    assert not [c for c in fs1.commands if c.startswith(f"uuid_record {call} stop")]
    assert forwarded(other, "recording.stop", "not_taken") == 1
    # now the owner, it stops it itself
    assert update(other, "laml", call, sid, "stopped").status_code == 200
    recording_command(fs1, call, "stop")
