"""Bandwidth Catapult v1 calls beyond recording: null fields, hang-up, transfer, timeout,
the call list, media delete, event order and times, and a call that ended while the daemon
was down. Over a real port, against the simulator, with a real callback receiver."""

from __future__ import annotations

import json
from typing import Any

import requests

from esl_recorder.domain.recording import State

from .conftest import ACCOUNTS, Api, DaemonFactory
from .receiver import Receiver
from .test_bandwidth import (
    ACME,
    USERS,
    bw,  # noqa: F401 (fixture)
    create,
    error,
    events,
    rec_id,
    toggle,
    wait_recording,
)

# what the Catapult v1 SDK sends for every option it was not given
SDK_NULLS = {"callTimeout": None, "callbackUrl": None, "callbackTimeout": None,
             "callbackHttpMethod": None, "fallbackUrl": None, "bridgeId": None,
             "conferenceId": None, "recordingEnabled": None, "recordingFileFormat": None,
             "recordingMaxDuration": None, "transcriptionEnabled": None, "tag": None,
             "sipHeaders": None}


def call_doc(bw: Api, call_id: str) -> dict[str, Any]:  # noqa: F811
    r = bw.request("GET", f"{USERS}/calls/{call_id}", headers=ACME)
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def update(bw: Api, call_id: str, **body: Any) -> requests.Response:  # noqa: F811
    return bw.request("POST", f"{USERS}/calls/{call_id}", json=body, headers=ACME)


def test_null_means_not_given_on_create_and_update(bw: Api) -> None:  # noqa: F811
    call_id = create(bw, **SDK_NULLS)
    assert "originate_timeout=60}" in bw.switch.wait_for_command("originate")
    doc = call_doc(bw, call_id)
    assert (doc["callbackHttpMethod"], doc["recordingFileFormat"], doc["recordingEnabled"],
            doc["recordingMaxDuration"]) == ("POST", "wav", False, 3600)
    nulls = {"state": None, "recordingEnabled": True, "recordingFileFormat": None,
             "transferTo": None, "transferCallerId": None, "whisperAudio": None,
             "callbackUrl": None}
    assert update(bw, call_id, **nulls).status_code == 200
    assert wait_recording(bw, call_id).options.format.value == "wav"


def test_state_completed_hangs_the_call_up(bw: Api, receiver: Receiver) -> None:  # noqa: F811
    call_id = create(bw, receiver, recordingEnabled=True)
    rec = wait_recording(bw, call_id)
    receiver.wait(1)  # answer
    bw.switch.advance(1.0)
    assert update(bw, call_id, state="completed").status_code == 200
    assert bw.switch.wait_for_command(f"uuid_kill {call_id}") == (
        f"uuid_kill {call_id} NORMAL_CLEARING")
    bw.switch.advance(0.1)  # the simulator ends the call's legs on the next media tick
    got = receiver.wait(3)
    assert [json.loads(r.body)["eventType"] for r in got] == ["answer", "hangup", "recording"]
    assert events(got, "hangup")[0]["cause"] == "NORMAL_CLEARING"
    assert bw.daemon.wait_state(rec.sid, State.COMPLETED).state is State.COMPLETED
    assert call_doc(bw, call_id)["state"] == "completed"
    error(update(bw, call_id, state="completed"), 409, "conflict")


def test_state_transferring_transfers_the_call_in_the_dialplan(
        bw: Api, receiver: Receiver) -> None:  # noqa: F811
    call_id = create(bw, receiver)
    receiver.wait(1)  # answer
    assert update(bw, call_id, state="transferring", transferTo="tone_a").status_code == 200
    assert bw.switch.wait_for_command(f"uuid_transfer {call_id}") == (
        f"uuid_transfer {call_id} tone_a XML default")
    transfer = events(receiver.wait(2), "transfer")[0]
    assert (transfer["callId"], transfer["callState"], transfer["transferTo"]) == (
        call_id, "transferring", "tone_a")
    assert call_doc(bw, call_id)["state"] == "active"  # the call goes on, elsewhere
    bw.switch.hangup(call_id)
    receiver.wait(3)
    names = [e["name"] for e in
             bw.request("GET", f"{USERS}/calls/{call_id}/events", headers=ACME).json()]
    assert names == ["create", "answer", "transfer", "hangup"]


def test_a_transfer_shows_the_transfer_caller_id(bw: Api, receiver: Receiver) -> None:  # noqa: F811
    """transferCallerId becomes the call's effective_caller_id_number before the transfer,
    so the bridge in the extension it is sent to presents it."""
    call_id = create(bw, receiver)
    receiver.wait(1)  # answer
    for bad in ({"transferCallerId": "+15559990000"},  # without a transfer
                {"state": "transferring", "transferTo": "tone_a", "transferCallerId": "a b"},
                {"state": "transferring", "transferTo": "tone_a",
                 "transferCallerId": "sip:x@example.net"}):
        error(update(bw, call_id, **bad), 400, "bad-request")
    assert update(bw, call_id, state="transferring", transferTo="tone_a",
                  transferCallerId="+15559990000").status_code == 200
    bw.switch.wait_for_command(f"uuid_transfer {call_id}")
    assert [c for c in bw.switch.commands if c.startswith(("uuid_setvar", "uuid_transfer"))
            and call_id in c] == [
        f"uuid_setvar {call_id} effective_caller_id_number +15559990000",
        f"uuid_transfer {call_id} tone_a XML default"]
    assert events(receiver.wait(2), "transfer")[0]["transferTo"] == "tone_a"


def test_an_unanswered_call_times_out(bw: Api, receiver: Receiver) -> None:  # noqa: F811
    r = bw.request("POST", f"{USERS}/calls", headers=ACME,
                   json={"from": "+15551230001", "to": "no_answer", "callTimeout": 5,
                         "callbackUrl": receiver.url("/cb")})
    assert r.status_code == 201, r.text
    call_id = r.headers["Location"].rsplit("/", 1)[1]
    assert "originate_timeout=5}" in bw.switch.wait_for_command("originate")
    got = [json.loads(x.body) for x in receiver.wait(2)]
    assert [(d["eventType"], d["callId"]) for d in got] == [
        ("timeout", call_id), ("hangup", call_id)]
    assert got[1]["cause"] == "NO_ANSWER" and "callState" not in got[0]
    doc = call_doc(bw, call_id)
    assert (doc["state"], doc["chargeableDuration"]) == ("completed", 0)
    names = [e["name"] for e in
             bw.request("GET", f"{USERS}/calls/{call_id}/events", headers=ACME).json()]
    assert names == ["create", "timeout", "hangup"]


def test_calls_are_listed_paged_and_filtered(bw: Api) -> None:  # noqa: F811
    ids = []
    for caller in ("+15551230001", "+15551230001", "+15550000002"):
        ids.append(create(bw, to="tone_b", **{"from": caller}))
        bw.switch.advance(0.1)  # FreeSWITCH's creation times tell them apart
    url = f"{bw.url}{USERS}/calls"
    first = bw.request("GET", f"{USERS}/calls?size=2", headers=ACME)
    assert first.status_code == 200, first.text
    assert [d["id"] for d in first.json()] == ids[::-1][:2]
    assert first.headers["Link"] == (f'<{url}?page=0&size=2>; rel="first", '
                                     f'<{url}?page=1&size=2>; rel="next"')
    second = bw.request("GET", f"{USERS}/calls?page=1&size=2", headers=ACME).json()
    assert [d["id"] for d in second] == ids[:1]
    asc = bw.request("GET", f"{USERS}/calls?sortOrder=asc", headers=ACME).json()
    assert [d["id"] for d in asc] == ids
    by_from = bw.request("GET", f"{USERS}/calls", params={"from": "+15550000002"},
                         headers=ACME)
    assert [d["id"] for d in by_from.json()] == ids[2:]
    assert by_from.headers["Link"] == f'<{url}?from=%2B15550000002&page=0&size=25>; rel="first"'
    assert bw.request("GET", f"{USERS}/calls?to=nobody", headers=ACME).json() == []
    assert bw.request("GET", f"{USERS}/calls?bridgeId=brg-1", headers=ACME).json() == []
    globex = bw.request("GET", "/v1/users/u-globex/calls",
                        headers={"Authorization": ACCOUNTS_GLOBEX_AUTH}).json()
    assert globex == []
    error(bw.request("GET", f"{USERS}/calls?sortOrder=sideways", headers=ACME), 400,
          "bad-request")


ACCOUNTS_GLOBEX_AUTH = "Basic dC1nbG9iZXg6cy1neA=="  # t-globex:s-gx


def test_media_delete_removes_the_recording(bw: Api) -> None:  # noqa: F811
    call_id = create(bw, recordingEnabled=True)
    rec = wait_recording(bw, call_id)
    media = f"{USERS}/media/{rec_id(rec)}.wav"
    error(bw.request("DELETE", media, headers=ACME), 409, "conflict")  # still recording
    bw.switch.advance(1.0)
    toggle(bw, call_id, False)
    bw.switch.wait_for_command(f"uuid_record {call_id} stop")
    bw.switch.advance(0.1)
    rec = bw.daemon.wait_state(rec.sid, State.COMPLETED)
    assert bw.request("GET", media, headers=ACME).status_code == 200
    assert bw.request("DELETE", media, headers=ACME).status_code == 200
    error(bw.request("GET", media, headers=ACME), 404, "not-found")
    error(bw.request("GET", f"{USERS}/recordings/{rec_id(rec)}", headers=ACME), 404,
          "not-found")
    error(bw.request("DELETE", media, headers=ACME), 404, "not-found")


def test_times_and_events_follow_the_call(bw: Api, receiver: Receiver) -> None:  # noqa: F811
    call_id = create(bw, receiver)
    receiver.wait(1)
    bw.switch.advance(2.0)
    bw.switch.hangup(call_id)
    receiver.wait(2)
    doc = call_doc(bw, call_id)
    assert doc["startTime"] <= doc["activeTime"] <= doc["endTime"]  # same ISO format
    listed = bw.request("GET", f"{USERS}/calls/{call_id}/events", headers=ACME).json()
    assert [e["name"] for e in listed] == ["create", "answer", "hangup"]
    assert [e["time"] for e in listed] == sorted(e["time"] for e in listed)
    assert (listed[0]["time"], listed[1]["time"]) == (doc["startTime"], doc["activeTime"])


def test_a_call_that_ended_while_the_daemon_was_down_is_shown_ended(
        daemon_factory: DaemonFactory, bw: Api, receiver: Receiver) -> None:  # noqa: F811
    call_id = create(bw, receiver)
    receiver.wait(1)  # answer
    bw.daemon.stop()
    bw.switch.hangup(call_id)  # no one listening
    again = daemon_factory(
        accounts=ACCOUNTS, delivery={"initial_delay": 0.05, "max_delay": 0.2},
        bandwidth={"dial_string": "loopback/{to}/rectest", "application": "&park()"})
    assert again.app.clients["fs1"].wait_connected(5)
    assert again.app.http is not None
    url = f"http://127.0.0.1:{again.app.http.server_port}{USERS}/calls/{call_id}"
    again.wait_until(lambda: requests.get(url, headers=ACME, timeout=5).json()["state"]
                     == "completed", what="the call shown completed")
    hangup = events(receiver.wait(2), "hangup")[0]
    assert hangup["callId"] == call_id
