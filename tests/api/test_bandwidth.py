"""Bandwidth Catapult v1 over a real port, against the simulator, with a real callback receiver.

Calls are placed through the simulator's `rectest` dialplan (`to` = the extension dialled,
dial string `loopback/{to}/rectest`); the manual media clock makes recordings exact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from esl_recorder.domain.recording import Recording, State
from esl_recorder.errors import InvalidArgument
from esl_recorder.esl import commands as cmd
from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import ACCOUNTS, ACME_BW, Api, DaemonFactory, basic
from .receiver import Received, Receiver

USERS = "/v1/users/u-acme"
ACME = {"Authorization": basic(ACME_BW[1], ACME_BW[2])}
GLOBEX = {"Authorization": basic("t-globex", "s-gx")}
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
RECORD_VARS = ("RECORD_STEREO=false,RECORD_STEREO_SWAP=false,RECORD_READ_ONLY=false,"
               "RECORD_WRITE_ONLY=false,RECORD_ANSWER_REQ=true,RECORD_APPEND=false,"
               "RECORD_TOGGLE_ON_REPEAT=false,RECORD_MIN_SEC=0")
NO_CALL = "0b2ec0de-0000-4000-8000-000000000000"
NO_REC = "rec-" + "0" * 32


@pytest.fixture
def bw(daemon_factory: DaemonFactory, switch: FakeSwitch) -> Iterator[Api]:
    daemon = daemon_factory(
        accounts=ACCOUNTS, delivery={"initial_delay": 0.05, "max_delay": 0.2},
        bandwidth={"dial_string": "loopback/{to}/rectest", "application": "&park()"})
    assert daemon.app.clients["fs1"].wait_connected(5)
    assert daemon.app.http is not None
    with requests.Session() as http:
        yield Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)


# --- helpers ---------------------------------------------------------------------------------


def create(bw: Api, receiver: Receiver | None = None, **body: Any) -> str:
    """POST /calls; returns the callId once the daemon tracks the answered call."""
    doc = {"from": "+15551230001", "to": "tone_b", **body}
    if receiver is not None:
        doc.setdefault("callbackUrl", receiver.url("/cb"))
    r = bw.request("POST", f"{USERS}/calls", json=doc, headers=ACME)
    assert r.status_code == 201, r.text
    call_id = r.headers["Location"].rsplit("/", 1)[1]
    assert r.headers["Location"] == f"{bw.url}{USERS}/calls/{call_id}"
    bw.daemon.wait_call(call_id)
    return call_id


def toggle(bw: Api, call_id: str, enabled: Any, **more: Any) -> requests.Response:
    return bw.request("POST", f"{USERS}/calls/{call_id}",
                      json={"recordingEnabled": enabled, **more}, headers=ACME)


def recordings_of(bw: Api, call_id: str) -> list[Recording]:
    """The call's recordings, oldest first."""
    return sorted(bw.daemon.service.list("acme", call_uuid=call_id), key=lambda r: r.created_at)


def wait_recording(bw: Api, call_id: str, count: int = 1) -> Recording:
    """The call's `count`-th recording, once FreeSWITCH was told to start it."""
    rec = bw.daemon.wait_until(lambda: len(recs := recordings_of(bw, call_id)) >= count
                               and recs[count - 1], what="recording")
    bw.switch.wait_for_command(f"uuid_record {call_id} start {rec.path}")
    return bw.daemon.wait_state(rec.sid, State.IN_PROGRESS, State.COMPLETED)


def expected_start(rec: Recording, limit: int = 3600) -> str:
    return (f"uuid_record {rec.call_uuid} start {rec.path} {limit} "
            f"{{{RECORD_VARS},esl_recorder_sid={rec.sid}}}")


def rec_id(rec: Recording) -> str:
    return "rec-" + rec.sid[2:]


def events(received: list[Received], kind: str) -> list[dict[str, Any]]:
    docs = [json.loads(r.body) for r in received]
    return [d for d in docs if d["eventType"] == kind]


def iso(ts: float | None) -> str:
    """ISO-8601 UTC with milliseconds and Z, written out independently of the dialect."""
    assert ts is not None
    whole = int(ts)
    return (datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            + f".{min(999, round((ts - whole) * 1000)):03d}Z")


def error(r: requests.Response, status: int, category: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    doc: dict[str, Any] = r.json()
    assert set(doc) == {"category", "code", "message", "details"}
    assert doc["category"] == category and doc["code"] and doc["message"]
    return doc


# --- create a call with recording -------------------------------------------------------------


def test_create_call_originates_and_records_from_answer(bw: Api, receiver: Receiver) -> None:
    call_id = create(bw, receiver, recordingEnabled="true", tag="order-42")
    assert bw.switch.wait_for_command("originate") == (
        f"originate {{origination_uuid={call_id},origination_caller_id_number=+15551230001,"
        f"esl_recorder_account_id=acme,originate_timeout=60}}loopback/tone_b/rectest &park()")
    rec = wait_recording(bw, call_id)
    assert bw.switch.wait_for_command(f"uuid_record {call_id} start") == expected_start(rec)
    assert rec.path.startswith(str(bw.daemon.app.settings.recording.root) + "/acme/")

    answer = events(receiver.wait(1), "answer")[0]
    call = bw.daemon.app.tracker.get(call_id)
    assert call is not None
    assert answer == {"eventType": "answer", "callId": call_id,
                      "callUri": f"{bw.url}{USERS}/calls/{call_id}", "from": "+15551230001",
                      "to": "tone_b", "callState": "active", "time": iso(call.answered_at),
                      "tag": "order-42"}

    bw.switch.advance(2.0)
    bw.switch.hangup(call_id)
    got = receiver.wait(3)
    rec = bw.daemon.wait_state(rec.sid, State.COMPLETED)
    assert [json.loads(r.body)["eventType"] for r in got] == ["answer", "hangup", "recording"]
    for r in got:
        assert (r.method, r.path) == ("POST", "/cb")
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        assert r.headers["User-Agent"].startswith("BandwidthAPI/v1")
    hangup = events(got, "hangup")[0]
    assert hangup["cause"] == "NORMAL_CLEARING" and hangup["callState"] == "completed"
    assert ISO_MS.fullmatch(hangup["time"]) and hangup["callId"] == call_id
    recording = events(got, "recording")[0]
    assert recording == {
        "callId": call_id, "eventType": "recording", "recordingId": rec_id(rec),
        "recordingUri": f"{bw.url}{USERS}/recordings/{rec_id(rec)}",
        "status": "complete", "state": "complete",
        "startTime": iso(rec.started_at), "endTime": iso(rec.ended_at)}
    assert ISO_MS.fullmatch(recording["startTime"]) and ISO_MS.fullmatch(recording["endTime"])
    # the A leg is parked (&park()): FreeSWITCH's file misses the first 0.5 s of a channel
    # that sends nothing (freeswitch-wire README, script_dtmf; 1.52 s for 2 s of a silent call)
    assert rec.file is not None and rec.file.duration_ms == pytest.approx(1500, abs=60)


def test_get_call_and_its_recordings_and_media(bw: Api, receiver: Receiver) -> None:
    call_id = create(bw, receiver, recordingEnabled=True, recordingMaxDuration=120,
                     callTimeout=30)
    assert "originate_timeout=30}" in bw.switch.wait_for_command("originate")
    rec = wait_recording(bw, call_id)
    assert bw.switch.wait_for_command(f"uuid_record {call_id} start") == expected_start(rec, 120)
    live = bw.request("GET", f"{USERS}/calls/{call_id}", headers=ACME).json()
    assert live["state"] == "active" and "endTime" not in live

    bw.switch.advance(1.0)
    bw.switch.hangup(call_id)
    rec = bw.daemon.wait_state(rec.sid, State.COMPLETED)
    call_url = f"{bw.url}{USERS}/calls/{call_id}"
    doc = bw.request("GET", f"{USERS}/calls/{call_id}", headers=ACME).json()
    tracked = bw.daemon.app.store.load_call(call_id)
    assert tracked is not None
    assert doc == {
        "id": call_id, "direction": "out", "from": "+15551230001", "to": "tone_b",
        "state": "completed", "startTime": doc["startTime"],
        "activeTime": iso(tracked.answered_at), "endTime": iso(tracked.hungup_at),
        "chargeableDuration": 60, "callTimeout": 30, "callbackUrl": receiver.url("/cb"),
        "callbackHttpMethod": "POST", "recordingEnabled": True, "recordingMaxDuration": 120,
        "recordingFileFormat": "wav", "transcriptionEnabled": False,
        "recordings": f"{call_url}/recordings", "events": f"{call_url}/events"}
    assert ISO_MS.fullmatch(doc["startTime"])

    resource = {"id": rec_id(rec), "call": call_url,
                "media": f"{bw.url}{USERS}/media/{rec_id(rec)}.wav",
                "startTime": iso(rec.started_at), "endTime": iso(rec.ended_at),
                "state": "complete"}
    assert bw.request("GET", f"{USERS}/calls/{call_id}/recordings", headers=ACME).json() == [
        resource]
    assert bw.request("GET", f"{USERS}/recordings/{rec_id(rec)}", headers=ACME).json() == resource
    served = bw.daemon.media(rec)  # (with media in S3: once uploaded, from the bucket)
    media = bw.request("GET", f"{USERS}/media/{rec_id(rec)}.wav", headers=ACME)
    assert media.status_code == 200 and media.headers["Content-Type"] == "audio/x-wav"
    assert media.content == served

    names = [e["name"] for e in
             bw.request("GET", f"{USERS}/calls/{call_id}/events", headers=ACME).json()]
    assert names == ["create", "answer", "hangup"]


def test_max_duration_and_mp3_reach_the_command(bw: Api) -> None:
    call_id = create(bw, recordingEnabled=True, recordingMaxDuration=5,
                     recordingFileFormat="MP3")
    rec = bw.daemon.wait_until(lambda: recordings_of(bw, call_id), what="recording")[0]
    assert rec.path.endswith(f"/{rec.sid}.mp3")
    assert bw.switch.wait_for_command(f"uuid_record {call_id} start") == expected_start(rec, 5)


def test_a_call_placed_while_the_reconnect_lists_the_calls_is_not_ended_by_it(
        bw: Api) -> None:
    """The reconnect's `show channels` was taken before the call was placed, so it is not in
    it: the resync took it for a call that ended while the link was down and completed it
    (a Bandwidth call answered `completed` at once, its recording never started)."""
    bw.switch.wait_for_command("show channels")  # the first connection's: not held
    held = bw.switch.hold_commands("show channels")
    bw.switch.drop_connections()
    bw.daemon.wait_until(lambda: held.taken, what="the reconnect's show channels")
    r = bw.request("POST", f"{USERS}/calls", headers=ACME,
                   json={"from": "+15551230001", "to": "tone_b", "recordingEnabled": True})
    assert r.status_code == 201, r.text
    call_id = r.headers["Location"].rsplit("/", 1)[1]
    held.release()
    wait_recording(bw, call_id)
    call = bw.request("GET", f"{USERS}/calls/{call_id}", headers=ACME).json()
    assert call["state"] == "active", call


def test_a_recording_begun_as_the_link_dropped_is_finished_when_its_call_ended_meanwhile(
        bw: Api) -> None:
    """`uuid_record start` goes out as the link drops and FreeSWITCH runs it; the call
    hangs up before the reconnect. The reconnect's resync ends the Bandwidth call first, and
    its hangup settled the still-queued recording absent while FreeSWITCH had written it
    (seen on the live server after a kill -9). It is finished from its file."""
    held = bw.switch.hold_commands("uuid_record ")
    r = bw.request("POST", f"{USERS}/calls", headers=ACME,
                   json={"from": "+15551230001", "to": "tone_b", "recordingEnabled": True})
    assert r.status_code == 201, r.text
    call_id = r.headers["Location"].rsplit("/", 1)[1]
    bw.daemon.wait_until(lambda: held.taken, what="uuid_record start")
    client = bw.daemon.app.clients["fs1"]
    bw.switch.password = "locked-out"
    bw.switch.drop_connections()
    held.release()  # FreeSWITCH runs it
    bw.switch.advance(1.0)
    bw.switch.hangup(call_id)  # its events go to nobody
    bw.switch.password = "ClueCon"
    assert client.wait_connected(5)
    [rec] = recordings_of(bw, call_id)
    done = bw.daemon.wait_state(rec.sid, State.COMPLETED, State.ABSENT, State.FAILED,
                                timeout=15)  # from its file, after the 5 s grace
    assert done.state is State.COMPLETED, done
    # the parked A leg sends nothing: its file misses the first 0.5 s (as above)
    assert done.file is not None and done.file.duration_ms == pytest.approx(500, abs=60)


def test_callback_by_get_carries_the_fields_in_the_query(bw: Api, receiver: Receiver) -> None:
    call_id = create(bw, receiver, callbackHttpMethod="GET")
    got = receiver.wait(1)[0]
    assert got.method == "GET" and got.form["eventType"] == "answer"
    assert got.form["callId"] == call_id and got.form["callState"] == "active"


def test_events_go_to_the_fallback_url_when_the_callback_url_fails(bw: Api,
                                                                   receiver: Receiver) -> None:
    down = Receiver().start()
    down.stop()  # nothing listens there any more
    call_id = create(bw, callbackUrl=down.url("/cb"), fallbackUrl=receiver.url("/fallback"),
                     callbackTimeout=2000)
    got = receiver.wait(1)[0]
    assert got.path == "/fallback"
    assert json.loads(got.body)["callId"] == call_id


# --- toggling ---------------------------------------------------------------------------------


def test_each_enable_disable_window_is_one_recording(bw: Api, receiver: Receiver) -> None:
    call_id = create(bw, receiver)
    assert toggle(bw, call_id, "false").status_code == 200  # nothing running: no-op
    assert not [c for c in bw.switch.commands if c.startswith("uuid_record")]

    windows: list[Recording] = []
    for enabled_on, enabled_off in ((True, False), ("true", "false")):
        r = toggle(bw, call_id, enabled_on)
        assert (r.status_code, r.content) == (200, b"")
        rec = wait_recording(bw, call_id, len(windows) + 1)
        assert toggle(bw, call_id, enabled_on).status_code == 200  # already on: same one
        bw.switch.advance(1.0)
        assert toggle(bw, call_id, enabled_off).status_code == 200
        stop = f"uuid_record {call_id} stop {rec.path}"
        assert bw.switch.wait_for_command(stop.__eq__) == stop
        windows.append(bw.daemon.wait_state(rec.sid, State.COMPLETED))
    starts = [c for c in bw.switch.commands if c.startswith(f"uuid_record {call_id} start")]
    assert starts == [expected_start(r) for r in windows]

    listed = bw.request("GET", f"{USERS}/calls/{call_id}/recordings", headers=ACME).json()
    assert sorted(d["id"] for d in listed) == sorted(rec_id(r) for r in windows)
    assert {d["state"] for d in listed} == {"complete"}
    got = receiver.wait(3)
    assert [e["recordingId"] for e in events(got, "recording")] == [rec_id(r) for r in windows]
    doc = bw.request("GET", f"{USERS}/calls/{call_id}", headers=ACME).json()
    assert doc["recordingEnabled"] is False


def test_recording_an_inbound_call_of_the_account(bw: Api) -> None:
    call_id = bw.call("acme")
    assert toggle(bw, call_id, True, recordingFileFormat="wav").status_code == 200
    rec = wait_recording(bw, call_id)
    assert bw.switch.wait_for_command(f"uuid_record {call_id} start") == expected_start(rec)
    doc = bw.request("GET", f"{USERS}/calls/{call_id}", headers=ACME).json()
    assert (doc["id"], doc["direction"], doc["state"], doc["recordingEnabled"]) == (
        call_id, "in", "active", True)


def test_toggling_a_completed_call_is_a_conflict(bw: Api, receiver: Receiver) -> None:
    call_id = create(bw, receiver)
    bw.switch.hangup(call_id)
    receiver.wait(2)
    error(toggle(bw, call_id, True), 409, "conflict")


def test_a_failed_originate_completes_the_call(bw: Api, receiver: Receiver) -> None:
    r = bw.request("POST", f"{USERS}/calls", headers=ACME,
                   json={"from": "+15551230001", "to": "+19195550000",
                         "callbackUrl": receiver.url("/cb"), "recordingEnabled": True})
    assert r.status_code == 201
    call_id = r.headers["Location"].rsplit("/", 1)[1]
    hangup = json.loads(receiver.wait(1)[0].body)
    assert (hangup["eventType"], hangup["callId"], hangup["cause"], hangup["to"]) == (
        "hangup", call_id, "NO_ROUTE_DESTINATION", "+19195550000")
    doc = bw.request("GET", f"{USERS}/calls/{call_id}", headers=ACME).json()
    assert (doc["state"], doc["chargeableDuration"]) == ("completed", 0)
    assert "activeTime" not in doc
    assert not [c for c in bw.switch.commands if c.startswith("uuid_record")]


# --- lists ------------------------------------------------------------------------------------


def test_recordings_are_paged_with_a_link_header(bw: Api) -> None:
    call_id = create(bw)
    for n in range(1, 4):
        toggle(bw, call_id, True)
        wait_recording(bw, call_id, n)
        toggle(bw, call_id, False)
    newest_first = [rec_id(r) for r in bw.daemon.service.list("acme", call_uuid=call_id)]
    url = f"{bw.url}{USERS}/recordings"

    first = bw.request("GET", f"{USERS}/recordings?size=2", headers=ACME)
    assert [d["id"] for d in first.json()] == newest_first[:2]
    assert first.headers["Link"] == (f'<{url}?page=0&size=2>; rel="first", '
                                     f'<{url}?page=1&size=2>; rel="next"')
    last = bw.request("GET", f"{USERS}/recordings?page=1&size=2", headers=ACME)
    assert [d["id"] for d in last.json()] == newest_first[2:]
    assert last.headers["Link"] == (f'<{url}?page=0&size=2>; rel="first", '
                                    f'<{url}?page=0&size=2>; rel="previous"')
    assert len(bw.request("GET", f"{USERS}/recordings", headers=ACME).json()) == 3
    for query in ("size=1001", "size=0", "page=-1", "page=x"):
        error(bw.request("GET", f"{USERS}/recordings?{query}", headers=ACME), 400,
              "bad-request")


# --- authentication and tenancy ---------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": basic(ACME_BW[1], "wrong")}, {"Authorization": "Basic !!"},
    {"Authorization": basic("t-globex", "s-gx")}, {"Authorization": "Bearer t-acme-token"}])
@pytest.mark.parametrize("method,path", [
    ("POST", "/calls"), ("GET", f"/calls/{NO_CALL}"), ("POST", f"/calls/{NO_CALL}"),
    ("GET", f"/calls/{NO_CALL}/recordings"), ("GET", "/recordings"),
    ("GET", f"/recordings/{NO_REC}"), ("GET", f"/media/{NO_REC}.wav")])
def test_wrong_credentials_get_401(bw: Api, headers: dict[str, str], method: str,
                                   path: str) -> None:
    r = bw.request(method, USERS + path, headers=headers, json={"from": "1", "to": "tone_b"})
    error(r, 401, "authentication")
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert not [c for c in bw.switch.commands if c.startswith("originate")]


def test_another_accounts_call_and_recording_are_not_found(bw: Api) -> None:
    call_id = create(bw, recordingEnabled=True)
    rec = wait_recording(bw, call_id)
    bw.switch.advance(1.0)
    bw.switch.hangup(call_id)
    bw.daemon.wait_state(rec.sid, State.COMPLETED)
    commands = len(bw.switch.commands)

    def as_globex(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        r = bw.request(method, "/v1/users/u-globex" + path, headers=GLOBEX, **kwargs)
        return error(r, 404, "not-found")

    for own, missing in ((call_id, NO_CALL), (rec_id(rec), NO_REC)):
        paths = ([("GET", "/calls/{}"), ("POST", "/calls/{}"), ("GET", "/calls/{}/recordings"),
                  ("GET", "/calls/{}/events")] if own == call_id
                 else [("GET", "/recordings/{}"), ("GET", "/media/{}.wav")])
        for method, template in paths:
            body = {"json": {"recordingEnabled": True}} if method == "POST" else {}
            foreign = as_globex(method, template.format(own), **body)
            absent = as_globex(method, template.format(missing), **body)
            assert foreign == {**absent, "message": absent["message"].replace(missing, own)}
    assert len(bw.switch.commands) == commands  # nothing reached FreeSWITCH


def test_media_of_a_running_recording_is_not_found(bw: Api) -> None:
    call_id = create(bw, recordingEnabled=True)
    rec = wait_recording(bw, call_id)
    error(bw.request("GET", f"{USERS}/media/{rec_id(rec)}.wav", headers=ACME), 404, "not-found")
    error(bw.request("GET", f"{USERS}/media/{rec_id(rec)}.mp3", headers=ACME), 404, "not-found")
    doc = bw.request("GET", f"{USERS}/recordings/{rec_id(rec)}", headers=ACME).json()
    assert doc["state"] == "recording" and "endTime" not in doc


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("body,problem", [
    ({"to": "tone_b"}, "from"),
    ({"from": "+15551230001"}, "to"),
    ({"from": "+15551230001", "to": "tone_b park"}, "to"),
    ({"from": "+15551230001", "to": "tone_b,origination_uuid=x"}, "to"),
    ({"from": "+15551230001", "to": "{absolute_codec_string=PCMA}tone_b"}, "to"),
    ({"from": "+15551230001", "to": "../../etc/passwd"}, "to"),
    ({"from": "+1555 123", "to": "tone_b"}, "from"),
    ({"from": "x}y", "to": "tone_b"}, "from"),
    ({"from": 15551230001, "to": "tone_b"}, "from"),
    ({"from": "+15551230001", "to": "tone_b", "recordingEnabled": "maybe"}, "recordingEnabled"),
    ({"from": "+15551230001", "to": "tone_b", "recordingMaxDuration": "long"},
     "recordingMaxDuration"),
    ({"from": "+15551230001", "to": "tone_b", "recordingMaxDuration": 0},
     "recordingMaxDuration"),
    ({"from": "+15551230001", "to": "tone_b", "recordingFileFormat": "ogg"},
     "recordingFileFormat"),
    ({"from": "+15551230001", "to": "tone_b", "callTimeout": 301}, "callTimeout"),
    ({"from": "+15551230001", "to": "tone_b", "callbackTimeout": 20000}, "callbackTimeout"),
    ({"from": "+15551230001", "to": "tone_b", "fallbackUrl": "http://"}, "fallbackUrl"),
    ({"from": "+15551230001", "to": "tone_b", "callbackUrl": "file:///etc/passwd"},
     "callbackUrl"),
    ({"from": "+15551230001", "to": "tone_b", "transcriptionEnabled": True},
     "transcriptionEnabled"),
    ({"from": "+15551230001", "to": "tone_b", "conferenceId": "conf-1"}, "conferenceId"),
])
def test_bad_create_bodies_get_400_and_no_originate(bw: Api, body: dict[str, Any],
                                                    problem: str) -> None:
    r = bw.request("POST", f"{USERS}/calls", json=body, headers=ACME)
    assert error(r, 400, "bad-request")["message"].startswith(problem)
    assert not [c for c in bw.switch.commands if c.startswith("originate")]


@pytest.mark.parametrize("data,content_type,status,category", [
    (b'{"from": "+1555", "to":', "application/json", 400, "bad-request"),
    (b'["from", "to"]', "application/json", 400, "bad-request"),
    (b"from=+1555&to=tone_b", "text/plain", 415, "bad-request"),
    (b'{"from": "' + b"1" * 70000 + b'", "to": "tone_b"}', "application/json", 413, "limit"),
])
def test_malformed_bodies_get_the_bandwidth_error_shape(bw: Api, data: bytes, content_type: str,
                                                        status: int, category: str) -> None:
    r = bw.request("POST", f"{USERS}/calls", data=data,
                   headers={**ACME, "Content-Type": content_type})
    error(r, status, category)
    assert not [c for c in bw.switch.commands if c.startswith("originate")]


def test_bad_updates_and_unknown_ids(bw: Api) -> None:
    call_id = create(bw)
    for body in ({"recordingEnabled": "sometimes"}, {"recordingFileFormat": "flac"},
                 {"recordingEnabled": True, "state": "rejected"}, {"transferTo": "+1555"},
                 {"state": "transferring"}, {"state": "transferring", "transferTo": "a b"},
                 {"state": "transferring", "transferTo": "+1555", "whisperAudio": {"x": 1}}):
        r = bw.request("POST", f"{USERS}/calls/{call_id}", json=body, headers=ACME)
        error(r, 400, "bad-request")
    for path in (f"/calls/{NO_CALL}", "/calls/not-a-uuid", f"/calls/{NO_CALL}/recordings",
                 f"/recordings/{NO_REC}", "/recordings/RE00", "/media/x.wav",
                 f"/media/{NO_REC}.ogg", "/media/..%2F..%2Fetc%2Fpasswd"):
        error(bw.request("GET", USERS + path, headers=ACME), 404, "not-found")
    error(bw.request("DELETE", f"{USERS}/calls/{call_id}", headers=ACME), 405, "bad-request")
    error(bw.request("GET", f"{USERS}/nothing-here", headers=ACME), 404, "not-found")
    assert not [c for c in bw.switch.commands if c.startswith("uuid_record")]


@pytest.mark.parametrize("dial,app", [
    ("loopback/tone_b park/rectest", "&park()"), ("{x=y}loopback/tone_b", "&park()"),
    ("loopback/a,b", "&park()"), ("loopback/tone_b", "&park() ; hupall"),
    ("loopback/tone_b", "tone_a XML rectest extra"), ("loopback/tone_b", "&park('x')")])
def test_originate_builder_refuses_unsafe_values(dial: str, app: str) -> None:
    with pytest.raises(InvalidArgument):
        cmd.originate(dial, app, {"origination_uuid": NO_CALL})
    with pytest.raises(InvalidArgument):
        cmd.originate("loopback/tone_b", "&park()", {"origination_caller_id_number": "1,2"})


def test_open_calls_survive_a_restart(daemon_factory: DaemonFactory, bw: Api,
                                      receiver: Receiver) -> None:
    call_id = create(bw, receiver)
    receiver.wait(1)  # answer
    bw.daemon.stop()
    again = daemon_factory(
        accounts=ACCOUNTS, delivery={"initial_delay": 0.05, "max_delay": 0.2},
        bandwidth={"dial_string": "loopback/{to}/rectest", "application": "&park()"})
    assert again.app.clients["fs1"].wait_connected(5)
    again.wait_call(call_id)
    bw.switch.hangup(call_id)
    hangup = json.loads(receiver.wait(2)[1].body)
    assert (hangup["eventType"], hangup["callId"]) == ("hangup", call_id)
    assert again.app.http is not None
    doc = requests.get(f"http://127.0.0.1:{again.app.http.server_port}{USERS}/calls/{call_id}",
                       headers=ACME, timeout=5).json()
    assert (doc["state"], doc["from"], doc["callbackUrl"]) == (
        "completed", "+15551230001", receiver.url("/cb"))
