"""Telnyx TeXML recordings over a real port, against the simulator, with real callbacks.

Seed 002: PlayBeep defaults to true, RecordingChannels single/dual defaults to dual, the
recording sid is a UUID, errors are Telnyx v2 `{"errors": [...]}`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import time
import uuid as uuid_module
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from esl_recorder.domain.recording import State

from .compat_helpers import (
    OTHER_SID,
    TEXML,
    TEXML_AUTH,
    assert_time,
    expected_start,
    finish,
    json_of,
    recording,
    start_commands,
    wait_done,
)
from .conftest import ACCOUNTS, ACME_TEXML, GLOBEX_TEXML_SIGNING, Api
from .receiver import Receiver

GLOBEX_TEXML = f"/v2/texml/Accounts/{ACCOUNTS[1]['texml_account_sid']}"
GLOBEX_TEXML_AUTH = {"Authorization": f"Bearer {ACCOUNTS[1]['texml_api_key']}"}
SEED_FIELDS = {"account_sid", "call_sid", "conference_sid", "channels", "date_created",
               "date_updated", "start_time", "price", "price_unit", "duration", "sid",
               "source", "error_code", "track", "uri"}
FETCH_FIELDS = {"status", "subresources_uris", "media_url"}  # Telnyx's fetch resource adds


def create(api: Api, uuid: str, **params: Any) -> dict[str, Any]:
    r = api.request("POST", f"{TEXML}/Calls/{uuid}/Recordings.json", headers=TEXML_AUTH,
                    data=params)
    return json_of(r, 200)


def our_sid(texml_sid: str) -> str:
    return "RE" + uuid_module.UUID(texml_sid).hex


def beep(uuid: str) -> str:
    return f"uuid_broadcast {uuid} tone_stream://%(250,0,1000) aleg"


def assert_error(doc: dict[str, Any], code: str, title: str, *words: str) -> None:
    assert set(doc) == {"errors"} and len(doc["errors"]) == 1
    error = doc["errors"][0]
    assert set(error) == {"code", "title", "detail"}
    assert (error["code"], error["title"]) == (code, title)
    for word in words:
        assert word in error["detail"]


def test_create_with_defaults_beeps_and_records_dual(api: Api) -> None:
    uuid = api.call()
    doc = create(api, uuid)
    rec = recording(api, our_sid(doc["sid"]))
    assert start_commands(api.switch, uuid) == [expected_start(rec, stereo="true")]
    assert api.switch.commands.index(beep(uuid)) < api.switch.commands.index(
        expected_start(rec, stereo="true"))
    assert set(doc) == SEED_FIELDS | FETCH_FIELDS
    assert str(uuid_module.UUID(doc["sid"])) == doc["sid"]  # a canonical UUID
    assert (doc["account_sid"], doc["call_sid"], doc["conference_sid"]) == (
        ACME_TEXML[0], uuid, None)
    assert (doc["channels"], doc["track"], doc["duration"]) == (2, "both", "-1")
    assert (doc["price"], doc["price_unit"], doc["error_code"]) == (None, "USD", None)
    assert (doc["source"], doc["status"], doc["media_url"]) == (
        "StartCallRecordingAPI", "in-progress", None)
    for key in ("date_created", "date_updated", "start_time"):
        assert_time(doc[key], rec.created_at)
    assert doc["uri"] == f"{TEXML}/Calls/{uuid}/Recordings/{doc['sid']}.json"
    assert doc["subresources_uris"] == {
        "transcriptions": f"{TEXML}/Recordings/{doc['sid']}/Transcriptions.json"}
    assert rec.source == "texml" and rec.options.beep


@pytest.mark.parametrize("params,stereo,ro,wo", [
    ({"PlayBeep": "false", "RecordingChannels": "single"}, "false", "false", "false"),
    ({"PlayBeep": "false", "RecordingTrack": "inbound"}, "false", "true", "false"),
    ({"PlayBeep": "false", "RecordingTrack": "outbound", "RecordingChannels": "single"},
     "false", "false", "true"),
    ({"PlayBeep": "false", "RecordingChannels": "dual", "RecordingTrack": "both"},
     "true", "false", "false"),
])
def test_channels_and_tracks(api: Api, params: dict[str, str], stereo: str, ro: str,
                             wo: str) -> None:
    uuid = api.call()
    doc = create(api, uuid, **params)
    rec = recording(api, our_sid(doc["sid"]))
    assert start_commands(api.switch, uuid) == [expected_start(rec, stereo=stereo, ro=ro,
                                                               wo=wo)]
    assert beep(uuid) not in api.switch.commands
    assert doc["channels"] == (2 if stereo == "true" else 1)
    assert doc["track"] == params.get("RecordingTrack", "both")


@pytest.mark.parametrize("params,words", [
    ({"RecordingChannels": "mono"}, ["RecordingChannels"]),
    ({"RecordingChannels": "dual", "RecordingTrack": "inbound"}, ["both tracks"]),
    ({"PlayBeep": "loud"}, ["PlayBeep"]),
    ({"RecordingStatusCallbackEvent": "paused"}, ["RecordingStatusCallbackEvent"]),
    ({"RecordingStatusCallback": "http://host:99999/x"}, ["RecordingStatusCallback"]),
])
def test_bad_parameters_are_400_in_the_telnyx_shape(api: Api, params: dict[str, str],
                                                    words: list[str]) -> None:
    uuid = api.call()
    r = api.request("POST", f"{TEXML}/Calls/{uuid}/Recordings.json", headers=TEXML_AUTH,
                    data=params)
    assert_error(json_of(r, 400), "10015", "Bad Request", *words)
    assert start_commands(api.switch, uuid) == []


def test_bodies_and_content_types(api: Api) -> None:
    uuid = api.call()
    url = f"{TEXML}/Calls/{uuid}/Recordings.json"
    r = api.request("POST", url, headers={**TEXML_AUTH, "Content-Type": "text/xml"},
                    data=b"<Record/>")
    assert_error(json_of(r, 415), "10014", "Unsupported Media Type")
    r = api.request("POST", url, headers={**TEXML_AUTH, "Content-Type": "application/json"},
                    data=b"{")
    assert_error(json_of(r, 400), "10015", "Bad Request", "JSON")
    assert start_commands(api.switch, uuid) == []
    doc = create(api, uuid, **{"PlayBeep": "false", "RecordingChannels": "single"})
    assert doc["channels"] == 1
    r = api.request("POST", url, headers=TEXML_AUTH, json={"PlayBeep": False,
                                                           "RecordingTrack": "outbound"})
    assert json_of(r, 200)["track"] == "outbound"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": f"Basic {ACME_TEXML[1]}"},
                                     GLOBEX_TEXML_AUTH])
def test_authentication(api: Api, headers: dict[str, str]) -> None:
    uuid = api.call()
    for method, path in [("POST", f"/Calls/{uuid}/Recordings.json"), ("GET", "/Recordings.json"),
                         ("GET", f"/Recordings/{OTHER_SID}.json"),
                         ("POST", f"/Calls/{uuid}/Recordings/{OTHER_SID}.json")]:
        r = api.request(method, TEXML + path, headers=headers, data={"Status": "paused"})
        assert_error(json_of(r, 401), "10009", "Authentication failed")
    assert start_commands(api.switch, uuid) == []


def test_foreign_and_unknown_recordings_are_the_same_404(api: Api) -> None:
    uuid = api.call()
    sid = create(api, uuid)["sid"]
    unknown = str(uuid_module.uuid4())
    for path in ("/Recordings/{}.json", "/Recordings/{}.wav"):
        a = api.request("GET", GLOBEX_TEXML + path.format(sid), headers=GLOBEX_TEXML_AUTH)
        b = api.request("GET", GLOBEX_TEXML + path.format(unknown), headers=GLOBEX_TEXML_AUTH)
        assert a.status_code == b.status_code == 404
        assert json.loads(a.text.replace(sid, "X")) == json.loads(b.text.replace(unknown, "X"))
        assert_error(a.json(), "10005", "Resource not found")
    r = api.request("POST", f"{GLOBEX_TEXML}/Calls/{uuid}/Recordings.json",
                    headers=GLOBEX_TEXML_AUTH)
    assert_error(json_of(r, 404), "10005", "Resource not found")
    assert recording(api, our_sid(sid)).state is State.IN_PROGRESS


def test_update_accepts_both_sid_forms(api: Api) -> None:
    uuid = api.call()
    doc = create(api, uuid, PlayBeep="false")
    sid, path = doc["sid"], recording(api, our_sid(doc["sid"])).path
    base = f"{TEXML}/Calls/{uuid}/Recordings"
    r = api.request("POST", f"{base}/{sid}.json", headers=TEXML_AUTH, data={"Status": "paused"})
    assert json_of(r, 200)["status"] == "paused"
    assert api.switch.commands[-1] == f"uuid_record {uuid} mask {path}"
    r = api.request("POST", f"{base}/{sid.upper()}.json", headers=TEXML_AUTH,
                    data={"Status": "in-progress"})
    assert json_of(r, 200)["status"] == "in-progress"
    assert api.switch.commands[-1] == f"uuid_record {uuid} unmask {path}"
    api.switch.advance(1.0)
    r = api.request("POST", f"{base}/{our_sid(sid)}.json", headers=TEXML_AUTH,
                    data={"Status": "stopped"})
    assert json_of(r, 200)["status"] == "stopped" and r.json()["sid"] == sid
    assert api.switch.commands[-1] == f"uuid_record {uuid} stop {path}"
    wait_done(api, our_sid(sid))
    r = api.request("POST", f"{base}/{sid}.json", headers=TEXML_AUTH, data={"Status": "paused"})
    assert_error(json_of(r, 422), "10015", "Bad Request", "completed", sid)  # its UUID form
    r = api.request("POST", f"{base}/{sid}.json", headers=TEXML_AUTH, data={"Status": "pause"})
    assert_error(json_of(r, 400), "10015", "Bad Request", "Status")


def test_callbacks_and_the_media_url(api: Api, receiver: Receiver) -> None:
    uuid = api.call()
    doc = create(api, uuid, RecordingStatusCallback=receiver.url("/texml"),
                 RecordingStatusCallbackEvent="in-progress completed")
    finish(api, uuid, 2.0)
    rec = wait_done(api, our_sid(doc["sid"]))
    first, second = receiver.wait(2)
    common = {"AccountSid": ACME_TEXML[0], "CallSid": uuid, "CallSidLegacy": uuid,
              "RecordingSid": doc["sid"], "RecordingChannels": "2",
              "RecordingSource": "StartCallRecordingAPI"}
    media = f"{api.url}{TEXML}/Recordings/{doc['sid']}.wav"
    assert first.form == {**common, "RecordingStatus": "in-progress"}
    assert second.form == {**common, "RecordingStatus": "completed", "RecordingDuration": "2",
                           "RecordingUrl": media}
    assert all(g.method == "POST" and g.path == "/texml" for g in (first, second))
    fetched = json_of(api.request("GET", f"{TEXML}/Recordings/{doc['sid']}.json",
                                  headers=TEXML_AUTH), 200)
    assert (fetched["status"], fetched["duration"], fetched["media_url"]) == (
        "completed", "2", media)
    assert fetched["uri"] == f"{TEXML}/Recordings/{doc['sid']}.json"
    r = api.http.get(media, headers=TEXML_AUTH, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "audio/x-wav"
    assert r.content == open(rec.path, "rb").read()  # noqa: SIM115
    assert api.http.get(media, timeout=10).status_code == 401  # the account's key is needed


def test_get_callback_without_the_recording_url(api: Api, receiver: Receiver) -> None:
    uuid = api.call()
    sid = create(api, uuid, RecordingStatusCallback=receiver.url("/t"),
                 RecordingStatusCallbackMethod="GET", SendRecordingUrl="false")["sid"]
    finish(api, uuid, 1.0)
    wait_done(api, our_sid(sid))
    (got,) = receiver.wait(1)
    assert got.method == "GET" and got.body == b""
    assert got.form["RecordingStatus"] == "completed" and got.form["RecordingSid"] == sid
    assert "RecordingUrl" not in got.form


def telnyx_signature_holds(got: Any, public_key_b64: str) -> bool:
    """What Telnyx's SDK (webhooks.unwrap) checks: Ed25519 over `<timestamp>|<body>`."""
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    timestamp = got.headers["Telnyx-Timestamp"]
    signed = f"{timestamp}|".encode() + got.body
    try:
        key.verify(base64.b64decode(got.headers["Telnyx-Signature-Ed25519"]), signed)
    except InvalidSignature:
        return False
    return True


def test_callbacks_of_an_account_with_a_signing_key_are_signed_as_telnyx_signs(
        api: Api, receiver: Receiver) -> None:
    receiver.status = 503  # refused at first: what arrives is a retry, signed when sent
    uuid = api.call(account="globex")
    sid = create_as_globex(api, uuid, RecordingStatusCallback=receiver.url("/signed"),
                           RecordingStatusCallbackEvent="in-progress completed")["sid"]
    api.daemon.wait_until(lambda: retries(api) >= 1, what="a refused attempt")
    receiver.status = 200
    finish(api, uuid, 1.0)
    wait_done(api, our_sid(sid))
    started, completed = receiver.wait(2)
    assert [g.form["RecordingStatus"] for g in (started, completed)] == [
        "in-progress", "completed"]
    for got in (started, completed):
        assert got.form["RecordingSid"] == sid
        assert telnyx_signature_holds(got, GLOBEX_TEXML_SIGNING[1])
        assert abs(int(got.headers["Telnyx-Timestamp"]) - time.time()) < 60
        assert GLOBEX_TEXML_SIGNING[0] not in json.dumps(got.headers)
    forged = dataclasses.replace(completed, body=completed.body + b"&RecordingDuration=99")
    assert not telnyx_signature_holds(forged, GLOBEX_TEXML_SIGNING[1])
    assert not telnyx_signature_holds(completed, esl_recorder_public_key_of_a_new_pair())


def retries(api: Api) -> float:
    found = re.search(r'^esl_recorder_callback_attempts_total\{result="retry"\} (\S+)$',
                      api.request("GET", "/metrics").text, re.M)
    return float(found.group(1)) if found else 0.0


def test_callbacks_of_an_account_without_a_signing_key_are_unsigned(
        api: Api, receiver: Receiver) -> None:
    uuid = api.call()
    create(api, uuid, RecordingStatusCallback=receiver.url())
    finish(api, uuid, 1.0)
    (got,) = receiver.wait(1)
    assert not {"Telnyx-Timestamp", "Telnyx-Signature-Ed25519"} & set(got.headers)


def esl_recorder_public_key_of_a_new_pair() -> str:
    from esl_recorder.delivery.signing import ed25519_key, ed25519_public_b64, new_ed25519_seed

    return ed25519_public_b64(ed25519_key(new_ed25519_seed()))


def create_as_globex(api: Api, uuid: str, **params: Any) -> dict[str, Any]:
    r = api.request("POST", f"{GLOBEX_TEXML}/Calls/{uuid}/Recordings.json",
                    headers=GLOBEX_TEXML_AUTH, data=params)
    return json_of(r, 200)


def test_absent_when_the_call_ends_before_the_answer(api: Api, receiver: Receiver) -> None:
    uuid = api.call(answered=False)
    sid = create(api, uuid, RecordingStatusCallback=receiver.url(),
                 RecordingStatusCallbackEvent="absent")["sid"]
    api.switch.hangup(uuid)
    rec = wait_done(api, our_sid(sid))
    assert rec.state is State.ABSENT
    (got,) = receiver.wait(1)
    assert (got.form["RecordingStatus"], got.form["ErrorCode"]) == ("absent", "16101")
    assert got.form["RecordingDuration"] == "0" and "RecordingUrl" not in got.form


def test_list_and_delete(api: Api) -> None:
    uuid = api.call()
    first = create(api, uuid, PlayBeep="false")["sid"]
    second = create(api, uuid, PlayBeep="false")["sid"]
    doc = json_of(api.request("GET", f"{TEXML}/Calls/{uuid}/Recordings.json",
                              headers=TEXML_AUTH, params={"PageSize": 1}), 200)
    assert [d["sid"] for d in doc["recordings"]] == [second]
    assert doc["next_page_uri"].startswith(f"{TEXML}/Calls/{uuid}/Recordings.json?")
    nxt = json_of(api.request("GET", doc["next_page_uri"], headers=TEXML_AUTH), 200)
    assert [d["sid"] for d in nxt["recordings"]] == [first] and nxt["next_page_uri"] is None
    finish(api, uuid)
    for sid in (first, second):
        wait_done(api, our_sid(sid))
    r = api.request("DELETE", f"{TEXML}/Recordings/{first}.json", headers=TEXML_AUTH)
    assert (r.status_code, r.content) == (204, b"")
    doc = json_of(api.request("GET", f"{TEXML}/Recordings.json", headers=TEXML_AUTH), 200)
    assert [d["sid"] for d in doc["recordings"]] == [second]
    assert doc["recordings"][0]["uri"] == f"{TEXML}/Recordings/{second}.json"
