"""SignalWire LaML recordings over a real port, against the simulator, with real callbacks.

Each test checks what FreeSWITCH was told (the exact `uuid_record` line), the body
field by field against seed 001's CallRecordingResponse, and what the receiver got.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from twilio.request_validator import RequestValidator

from esl_recorder.delivery.media import UPLOAD as MEDIA_UPLOAD
from esl_recorder.domain.recording import State

from .compat_helpers import (
    GLOBEX,
    GLOBEX_AUTH,
    LAML,
    LAML_AUTH,
    OTHER_SID,
    assert_time,
    days_from_now,
    expected_start,
    finish,
    json_of,
    recording,
    start_commands,
    wait_done,
)
from .conftest import ACCOUNTS, ACME_LAML, Api, basic
from .receiver import Receiver

SEED_FIELDS = {"sid", "account_sid", "api_version", "call_sid", "conference_sid", "channel",
               "channels", "date_created", "date_updated", "start_time", "end_time",
               "duration", "price", "price_unit", "source", "status", "error_code", "uri",
               "subresource_uris", "encryption_details", "trim"}


def create(api: Api, uuid: str, *, json_body: Any = None, **params: Any) -> dict[str, Any]:
    path = f"{LAML}/Calls/{uuid}/Recordings.json"
    if json_body is not None:
        r = api.request("POST", path, headers=LAML_AUTH, json=json_body)
    else:
        r = api.request("POST", path, headers=LAML_AUTH, data=params)
    return json_of(r, 200)


def update(api: Api, uuid: str, sid: str, **params: str) -> dict[str, Any]:
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings/{sid}.json", headers=LAML_AUTH,
                    data=params)
    return json_of(r, 200)


def assert_error(doc: dict[str, Any], status: int, code: int, *words: str) -> None:
    assert set(doc) == {"code", "message", "more_info", "status"}
    assert (doc["status"], doc["code"]) == (status, code)
    assert doc["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    for word in words:
        assert word in doc["message"]


# --- create ------------------------------------------------------------------------------------


def test_create_with_defaults_answers_the_seed_resource(api: Api) -> None:
    uuid = api.call()
    before = time.time()
    doc = create(api, uuid)
    rec = recording(api, doc["sid"])
    assert start_commands(api.switch, uuid) == [expected_start(rec)]  # mono, both tracks
    assert set(doc) == SEED_FIELDS
    assert doc["sid"].startswith("RE") and len(doc["sid"]) == 34
    assert (doc["account_sid"], doc["api_version"], doc["call_sid"]) == (
        ACME_LAML[0], "2010-04-01", uuid)
    assert (doc["channel"], doc["channels"], doc["conference_sid"]) == ("1", "1", None)
    for key in ("date_created", "date_updated", "start_time"):
        assert_time(doc[key], before)
    assert doc["end_time"] is None and doc["duration"] == -1
    assert (doc["price"], doc["price_unit"], doc["encryption_details"]) == (None, "USD", None)
    assert (doc["source"], doc["status"], doc["error_code"]) == (
        "StartCallRecordingApi", "in-progress", None)
    assert doc["uri"] == f"{LAML}/Calls/{uuid}/Recordings/{doc['sid']}.json"
    assert doc["subresource_uris"] == {
        "transcriptions": f"{LAML}/Recordings/{doc['sid']}/Transcriptions.json"}
    assert doc["trim"] == "do-not-trim"
    assert rec.account == "acme" and rec.source == "laml"


def test_create_from_a_json_body_dual_and_trimmed(api: Api) -> None:
    uuid = api.call()
    doc = create(api, uuid, json_body={"RecordingChannels": "dual", "Trim": "trim-silence",
                                       "RecordingTrack": "both"})
    rec = recording(api, doc["sid"])
    assert start_commands(api.switch, uuid) == [expected_start(rec, stereo="true")]
    assert (doc["channel"], doc["channels"], doc["trim"]) == ("2", "2", "trim-silence")
    assert rec.options.trim_silence and rec.path.endswith(".wav")


@pytest.mark.parametrize("track,ro,wo", [("inbound", "true", "false"),
                                         ("outbound", "false", "true")])
def test_one_track(api: Api, track: str, ro: str, wo: str) -> None:
    uuid = api.call()
    doc = create(api, uuid, RecordingTrack=track)
    assert start_commands(api.switch, uuid) == [expected_start(recording(api, doc["sid"]),
                                                               ro=ro, wo=wo)]


def test_the_bare_collection_path_works_too(api: Api) -> None:
    uuid = api.call()
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings", headers=LAML_AUTH)
    assert json_of(r, 200)["status"] == "in-progress"


def test_an_unanswered_call_is_recorded_from_its_answer(api: Api) -> None:
    uuid = api.call(answered=False)
    doc = create(api, uuid)
    assert (doc["status"], doc["start_time"], doc["duration"]) == ("queued", None, -1)
    assert start_commands(api.switch, uuid) == []
    api.switch.answer(uuid)
    rec = api.daemon.wait_state(doc["sid"], State.IN_PROGRESS)
    assert start_commands(api.switch, uuid) == [expected_start(rec)]


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("params,words", [
    ({"RecordingChannels": "stereo"}, ["RecordingChannels", "stereo"]),
    ({"RecordingTrack": "left"}, ["RecordingTrack"]),
    ({"Trim": "yes"}, ["Trim"]),
    ({"RecordingStatusCallbackMethod": "PUT"}, ["RecordingStatusCallbackMethod"]),
    ({"RecordingStatusCallbackEvent": "in-progress finished"},
     ["RecordingStatusCallbackEvent", "finished"]),
    ({"RecordingStatusCallback": "ftp://example.com/x"}, ["RecordingStatusCallback"]),
    ({"RecordingStatusCallback": "/relative"}, ["RecordingStatusCallback"]),
    ({"RecordingChannels": "dual", "RecordingTrack": "inbound"}, ["track", "both tracks"]),
])
def test_bad_parameters_are_400_and_nothing_is_started(api: Api, params: dict[str, str],
                                                       words: list[str]) -> None:
    uuid = api.call()
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH,
                    data=params)
    assert_error(json_of(r, 400), 400, 70002, *words)
    assert start_commands(api.switch, uuid) == []
    assert api.daemon.service.list("acme") == []


@pytest.mark.parametrize("body,content_type,status", [
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b'{"RecordingChannels": ["mono"]}', "application/json", 400),
    (b"RecordingChannels=mono", "text/plain", 400),
    (b"\x00\xff" * 10, "application/octet-stream", 400),
])
def test_malformed_bodies_get_the_laml_shape(api: Api, body: bytes, content_type: str,
                                             status: int) -> None:
    uuid = api.call()
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", data=body,
                    headers={**LAML_AUTH, "Content-Type": content_type})
    assert_error(json_of(r, status), status, 70002)
    assert start_commands(api.switch, uuid) == []


def test_an_oversized_body_is_413_in_the_laml_shape(api: Api) -> None:
    uuid = api.call()
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH,
                    data={"RecordingStatusCallback": "https://example.com/" + "a" * 70000})
    assert_error(json_of(r, 413), 413, 70002)
    assert start_commands(api.switch, uuid) == []


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": basic(ACME_LAML[0], "wrong")},
    {"Authorization": "Bearer " + ACME_LAML[1]}, {"Authorization": "Basic !!!"},
    GLOBEX_AUTH,  # another project's valid credentials
])
def test_every_route_wants_this_projects_credentials(api: Api,
                                                     headers: dict[str, str]) -> None:
    uuid = api.call()
    for method, path in [("POST", f"/Calls/{uuid}/Recordings.json"),
                         ("GET", f"/Calls/{uuid}/Recordings.json"),
                         ("POST", f"/Calls/{uuid}/Recordings/{OTHER_SID}.json"),
                         ("DELETE", f"/Calls/{uuid}/Recordings/{OTHER_SID}"),
                         ("GET", "/Recordings.json"), ("GET", f"/Recordings/{OTHER_SID}"),
                         ("GET", f"/Recordings/{OTHER_SID}.json"),
                         ("DELETE", f"/Recordings/{OTHER_SID}.json")]:
        r = api.request(method, LAML + path, headers=headers, data={"Status": "stopped"})
        assert_error(json_of(r, 401), 401, 20003)
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert start_commands(api.switch, uuid) == []


def test_foreign_calls_and_recordings_read_exactly_like_missing_ones(api: Api) -> None:
    acme_call = api.call("acme")
    sid = create(api, acme_call)["sid"]
    globex_call = api.call("globex")
    # globex asks about acme's call, and about a call that does not exist
    foreign = api.request("POST", f"{GLOBEX}/Calls/{acme_call}/Recordings.json",
                          headers=GLOBEX_AUTH)
    missing = api.request("POST", f"{GLOBEX}/Calls/{'f' * 8}-0000-4000-8000-{'0' * 12}"
                          "/Recordings.json", headers=GLOBEX_AUTH)
    assert foreign.status_code == missing.status_code == 404
    assert_error(foreign.json(), 404, 20404)
    assert (foreign.json()["message"].replace(acme_call, "X")
            == missing.json()["message"].replace(f"{'f' * 8}-0000-4000-8000-{'0' * 12}", "X"))
    # acme's recording seen by globex, at account and call level, for every method
    for method, path in [("GET", "/Recordings/{}.json"), ("GET", "/Recordings/{}"),
                         ("DELETE", "/Recordings/{}"),
                         ("POST", f"/Calls/{globex_call}/Recordings/{{}}.json")]:
        a = api.request(method, GLOBEX + path.format(sid), headers=GLOBEX_AUTH,
                        data={"Status": "paused"})
        b = api.request(method, GLOBEX + path.format(OTHER_SID), headers=GLOBEX_AUTH,
                        data={"Status": "paused"})
        assert a.status_code == b.status_code == 404, (method, path)
        assert json.loads(a.text.replace(sid, "X")) == json.loads(b.text.replace(OTHER_SID, "X"))
    # acme's recording under another of acme's calls is not found either
    other = api.call("acme")
    r = api.request("GET", f"{LAML}/Calls/{other}/Recordings/{sid}.json", headers=LAML_AUTH)
    assert_error(json_of(r, 404), 404, 20404)
    assert recording(api, sid).state is State.IN_PROGRESS  # untouched


@pytest.mark.parametrize("bad", ["RE123", "re" + "0" * 32, "RE" + "G" * 32, "Twilio.current",
                                 "..%2F..%2Fetc%2Fpasswd", "%20"])
def test_malformed_sids_are_404(api: Api, bad: str) -> None:
    uuid = api.call()
    for method, path in [("GET", f"/Recordings/{bad}.json"), ("GET", f"/Recordings/{bad}"),
                         ("POST", f"/Calls/{uuid}/Recordings/{bad}.json"),
                         ("POST", f"/Calls/{bad}/Recordings.json")]:
        r = api.request(method, LAML + path, headers=LAML_AUTH, data={"Status": "stopped"})
        assert_error(json_of(r, 404), 404, 20404)


def test_unknown_paths_and_methods_get_the_laml_shape(api: Api) -> None:
    r = api.request("GET", f"{LAML}/Conferences.json", headers=LAML_AUTH)
    assert_error(json_of(r, 404), 404, 20404)
    r = api.request("PUT", f"{LAML}/Recordings.json", headers=LAML_AUTH)
    doc = json_of(r, 405)
    assert (doc["status"], set(doc)) == (405, {"code", "message", "more_info", "status"})
    assert "GET" in r.headers["Allow"]


# --- update ------------------------------------------------------------------------------------


def test_pause_skip_resume_and_stop_through_twilio_current(api: Api) -> None:
    uuid = api.call()
    sid = create(api, uuid)["sid"]
    path = recording(api, sid).path
    api.switch.advance(1.0)
    doc = update(api, uuid, "Twilio.CURRENT", Status="paused", PauseBehavior="skip")
    assert (doc["sid"], doc["status"]) == (sid, "paused")
    assert api.switch.commands[-1] == f"uuid_record {uuid} pause {path}"
    api.switch.advance(1.0)
    assert update(api, uuid, "Twilio.CURRENT", Status="in-progress")["status"] == "in-progress"
    assert api.switch.commands[-1] == f"uuid_record {uuid} resume {path}"
    api.switch.advance(1.0)
    assert update(api, uuid, sid, Status="stopped")["status"] == "stopped"
    assert api.switch.commands[-1] == f"uuid_record {uuid} stop {path}"
    rec = wait_done(api, sid)
    assert rec.state is State.COMPLETED
    r = api.request("GET", f"{LAML}/Calls/{uuid}/Recordings/{sid}.json", headers=LAML_AUTH)
    doc = json_of(r, 200)
    assert (doc["status"], doc["duration"], doc["error_code"]) == ("completed", 2, None)
    assert_time(doc["end_time"], rec.ended_at or 0)
    assert doc["date_updated"] == doc["end_time"]


def test_pause_defaults_to_silence_which_masks(api: Api) -> None:
    uuid = api.call()
    sid = create(api, uuid)["sid"]
    path = recording(api, sid).path
    update(api, uuid, sid, Status="paused")
    assert api.switch.commands[-1] == f"uuid_record {uuid} mask {path}"
    update(api, uuid, sid, Status="in-progress")
    assert api.switch.commands[-1] == f"uuid_record {uuid} unmask {path}"


def test_update_errors(api: Api) -> None:
    uuid = api.call()
    sid = create(api, uuid)["sid"]
    url = f"{LAML}/Calls/{uuid}/Recordings/{sid}.json"
    for params, word in [({}, "Status"), ({"Status": "completed"}, "Status"),
                         ({"Status": "paused", "PauseBehavior": "mute"}, "PauseBehavior")]:
        r = api.request("POST", url, headers=LAML_AUTH, data=params)
        assert_error(json_of(r, 400), 400, 70002, word)
    finish(api, uuid)
    wait_done(api, sid)
    # well-formed, but a finished recording cannot be paused: 422
    r = api.request("POST", url, headers=LAML_AUTH, data={"Status": "paused"})
    assert_error(json_of(r, 422), 422, 20422, "completed")
    assert update(api, uuid, sid, Status="stopped")["status"] == "completed"  # idempotent
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings/Twilio.CURRENT.json",
                    headers=LAML_AUTH, data={"Status": "paused"})
    assert_error(json_of(r, 404), 404, 20404)


# --- callbacks ---------------------------------------------------------------------------------


def validate(received: Any, token: str = ACME_LAML[1]) -> bool:
    params = received.form if received.method == "POST" else {}
    return RequestValidator(token).validate(received.url, params,
                                            received.headers["X-Twilio-Signature"])


def test_post_callbacks_in_order_with_fields_and_valid_signatures(api: Api,
                                                                  receiver: Receiver) -> None:
    uuid = api.call()
    doc = create(api, uuid, RecordingStatusCallback=receiver.url("/cb?tenant=1"),
                 RecordingStatusCallbackEvent=["in-progress", "completed absent"],
                 RecordingChannels="dual")
    sid = doc["sid"]
    finish(api, uuid, 2.0)
    rec = wait_done(api, sid)
    first, second = receiver.wait(2)
    media = f"{api.url}{LAML}/Recordings/{sid}"
    common = {"AccountSid": ACME_LAML[0], "CallSid": uuid, "RecordingSid": sid,
              "RecordingChannels": "2", "RecordingSource": "StartCallRecordingApi",
              "RecordingTrack": "both", "RecordingUrl": media}
    assert first.form == {**common, "RecordingStatus": "in-progress",
                          "RecordingStartTime": doc["start_time"]}
    assert second.form == {**common, "RecordingStatus": "completed",
                           "RecordingStartTime": doc["start_time"], "RecordingDuration": "2"}
    for got in (first, second):
        assert (got.method, got.path, got.query) == ("POST", "/cb", "tenant=1")
        assert got.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert got.headers["X-Signalwire-Signature"] == got.headers["X-Twilio-Signature"]
        assert validate(got) and not validate(got, token="some-other-token")
    assert rec.state is State.COMPLETED
    # the RecordingUrl downloads the media with the project's credentials
    served = api.daemon.media(rec)  # (with media in S3: once uploaded, from the bucket)
    r = api.http.get(second.form["RecordingUrl"], headers=LAML_AUTH, timeout=10)
    assert r.status_code == 200 and r.content == served


def test_get_callback_carries_the_fields_in_a_signed_query(api: Api,
                                                           receiver: Receiver) -> None:
    uuid = api.call()
    sid = create(api, uuid, RecordingStatusCallback=receiver.url("/get?x=%2F1"),
                 RecordingStatusCallbackMethod="get")["sid"]
    finish(api, uuid, 1.0)
    wait_done(api, sid)
    (got,) = receiver.wait(1)  # the default events: completed only
    assert (got.method, got.path, got.body) == ("GET", "/get", b"")
    fields = dict(parse_qsl(urlsplit(got.url).query))
    assert fields["x"] == "/1"
    assert (fields["RecordingStatus"], fields["RecordingSid"], fields["RecordingDuration"]) == (
        "completed", sid, "1")
    assert validate(got)


def test_credentials_in_the_callback_url_go_as_basic_auth_outside_the_signature(
        api: Api, receiver: Receiver) -> None:
    uuid = api.call()
    url = receiver.url("/hook").replace("http://", "http://hook:s3cret@")
    sid = create(api, uuid, RecordingStatusCallback=url)["sid"]
    finish(api, uuid, 1.0)
    wait_done(api, sid)
    (got,) = receiver.wait(1)
    assert got.headers["Authorization"] == basic("hook", "s3cret")
    assert got.url == receiver.url("/hook") and "s3cret" not in got.url
    assert validate(got)


def test_absent_callback_for_a_recording_that_never_started(api: Api,
                                                            receiver: Receiver) -> None:
    uuid = api.call(answered=False)
    sid = create(api, uuid, RecordingStatusCallback=receiver.url(),
                 RecordingStatusCallbackEvent="absent in-progress")["sid"]
    doc = update(api, uuid, sid, Status="stopped")
    assert (doc["status"], doc["error_code"], doc["duration"]) == ("absent", "16101", 0)
    (got,) = receiver.wait(1)
    assert got.form == {"AccountSid": ACME_LAML[0], "CallSid": uuid, "RecordingSid": sid,
                        "RecordingStatus": "absent", "RecordingChannels": "1",
                        "RecordingSource": "StartCallRecordingApi", "RecordingTrack": "both",
                        "RecordingDuration": "0", "ErrorCode": "16101"}
    assert validate(got)


def test_no_callback_url_means_no_callbacks(api: Api) -> None:
    uuid = api.call()
    sid = create(api, uuid, RecordingStatusCallbackEvent="completed")["sid"]
    finish(api, uuid)
    wait_done(api, sid)
    assert [i for i in api.daemon.app.store.outbox_items() if i.kind != MEDIA_UPLOAD] == []


def test_public_base_url_is_used_for_recording_urls(daemon_factory: Any, switch: Any,
                                                    receiver: Receiver) -> None:
    daemon = daemon_factory(accounts=ACCOUNTS, http={"public_base_url": "https://rec.example"},
                            delivery={"initial_delay": 0.05})
    assert daemon.app.clients["fs1"].wait_connected(5) and daemon.app.http is not None
    with requests.Session() as http:
        api = Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)
        uuid = api.call()
        sid = create(api, uuid, RecordingStatusCallback=receiver.url())["sid"]
        finish(api, uuid)
        wait_done(api, sid)
    (got,) = receiver.wait(1)
    assert got.form["RecordingUrl"] == f"https://rec.example{LAML}/Recordings/{sid}"


# --- list, fetch, media, delete ----------------------------------------------------------------


def test_lists_page_with_a_stable_token_and_filter_by_date_and_call(api: Api) -> None:
    uuid = api.call()
    other_call = api.call()
    sids = [create(api, uuid)["sid"] for _ in range(3)]
    other = create(api, other_call)["sid"]
    r = api.request("GET", f"{LAML}/Recordings.json", headers=LAML_AUTH,
                    params={"PageSize": 2, "CallSid": uuid})
    page0 = json_of(r, 200)
    assert set(page0) == {"recordings", "page", "page_size", "start", "end", "uri",
                          "first_page_uri", "next_page_uri", "previous_page_uri"}
    assert [d["sid"] for d in page0["recordings"]] == sids[::-1][:2]  # newest first
    assert (page0["page"], page0["page_size"], page0["start"], page0["end"]) == (0, 2, 0, 1)
    assert page0["previous_page_uri"] is None and "PageToken=PT" in page0["next_page_uri"]
    assert page0["recordings"][0]["uri"] == f"{LAML}/Recordings/{sids[2]}.json"
    create(api, uuid)  # a newer recording does not shift the pinned pages
    page1 = json_of(api.request("GET", page0["next_page_uri"], headers=LAML_AUTH), 200)
    assert [d["sid"] for d in page1["recordings"]] == [sids[0]]
    assert (page1["page"], page1["start"], page1["end"], page1["next_page_uri"]) == (
        1, 2, 2, None)
    assert page1["previous_page_uri"] is not None and "CallSid=" in page1["uri"]
    # the call's own list, with date filters
    call_list = f"{LAML}/Calls/{other_call}/Recordings.json"
    for params, expect in [({}, [other]), ({"DateCreated": days_from_now(0)}, [other]),
                           ({"DateCreated<": days_from_now(-1)}, []),
                           ({"DateCreated>": days_from_now(1)}, []),
                           ({"DateCreated>": "2020-01-01T00:00:00Z"}, [other])]:
        doc = json_of(api.request("GET", call_list, headers=LAML_AUTH, params=params), 200)
        assert [d["sid"] for d in doc["recordings"]] == expect, params
        assert all(d["uri"].startswith(f"{LAML}/Calls/{other_call}/") for d in doc["recordings"])
    # another project sees none of them
    doc = json_of(api.request("GET", f"{GLOBEX}/Recordings.json", headers=GLOBEX_AUTH), 200)
    assert doc["recordings"] == []


@pytest.mark.parametrize("params", [{"PageSize": 0}, {"PageSize": 1001}, {"Page": -1},
                                    {"PageSize": "ten"}, {"PageToken": "../x"},
                                    {"DateCreated": "yesterday"}, {"DateCreated<": "2024-13-01"},
                                    {"CallSid": "a b"}])
def test_bad_list_parameters_are_400(api: Api, params: dict[str, Any]) -> None:
    r = api.request("GET", f"{LAML}/Recordings.json", headers=LAML_AUTH, params=params)
    assert_error(json_of(r, 400), 400, 70002, next(iter(params)))


def test_media_download_and_delete(api: Api) -> None:
    uuid = api.call()
    sid = create(api, uuid)["sid"]
    r = api.request("GET", f"{LAML}/Recordings/{sid}.wav", headers=LAML_AUTH)
    assert_error(json_of(r, 404), 404, 20404)  # no media while recording
    r = api.request("DELETE", f"{LAML}/Recordings/{sid}.json", headers=LAML_AUTH)
    assert_error(json_of(r, 422), 422, 20422, "stop it")  # running: not deleted
    finish(api, uuid, 1.0)
    rec = wait_done(api, sid)
    data = api.daemon.media(rec)
    for suffix in ("", ".wav"):
        for path in (f"{LAML}/Recordings/{sid}", f"{LAML}/Calls/{uuid}/Recordings/{sid}"):
            r = api.request("GET", path + suffix, headers=LAML_AUTH)
            assert r.status_code == 200 and r.headers["Content-Type"] == "audio/x-wav"
            assert r.content == data and data[:4] == b"RIFF"
    r = api.request("GET", f"{LAML}/Recordings/{sid}.mp3", headers=LAML_AUTH)
    assert_error(json_of(r, 404), 404, 20404)  # we do not transcode
    r = api.request("DELETE", f"{LAML}/Calls/{uuid}/Recordings/{sid}.json", headers=LAML_AUTH)
    assert (r.status_code, r.content) == (204, b"")
    assert not os.path.exists(rec.path)
    for path in (f"{LAML}/Recordings/{sid}.json", f"{LAML}/Recordings/{sid}"):
        assert_error(json_of(api.request("GET", path, headers=LAML_AUTH), 404), 404, 20404)


def test_openapi_documents_the_create_and_update_parameters(api: Api) -> None:
    doc = api.request("GET", "/openapi.json").json()
    path = "/api/laml/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Recordings.json"
    schema = doc["paths"][path]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"]["schema"]
    props = schema["properties"]
    assert props["RecordingChannels"]["enum"] == ["mono", "dual"]
    assert props["RecordingChannels"]["default"] == "mono"
    assert props["Trim"]["default"] == "do-not-trim"
    assert props["RecordingStatusCallbackMethod"]["default"] == "POST"
    item = "/api/laml/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Recordings/{Sid}"
    update_props = doc["paths"][item]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]
    assert set(update_props) == {"Status", "PauseBehavior"}
    assert doc["components"]["securitySchemes"]["lamlAuth"]["scheme"] == "basic"
