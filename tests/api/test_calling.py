"""SignalWire's Calling API recording commands (`POST /api/calling/calls`) over a real port,
against the simulator; `calling.call.record` events reach a real local receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid as uuidlib
from typing import Any

import pytest

from esl_recorder.delivery.media import UPLOAD as MEDIA_UPLOAD
from esl_recorder.dialects.relay import record_options, status_meta
from esl_recorder.domain.recording import Recording, State

from .compat_helpers import (
    GLOBEX_AUTH,
    LAML,
    LAML_AUTH,
    expected_start,
    json_of,
    recording,
    start_commands,
    wait_done,
)
from .conftest import ACME_LAML, Api, basic
from .receiver import Received, Receiver
from .test_request_targets import REFUSED, closed  # noqa: F401 (fixture)

CALLS = "/api/calling/calls"
MISSING_CALL = "ffffffff-0000-4000-8000-000000000000"


def command(api: Api, name: str, call_id: str, auth: dict[str, str] | None = None,
            **params: Any) -> Any:
    return api.request("POST", CALLS, headers=auth or LAML_AUTH,
                       json={"command": name, "id": call_id, "params": params})


def ok(api: Api, name: str, call_id: str, **params: Any) -> dict[str, Any]:
    return json_of(command(api, name, call_id, **params), 200)


def by_control(api: Api, call_id: str, control_id: str) -> Recording:
    (rec,) = [r for r in api.daemon.service.for_call(call_id) if r.control_id == control_id]
    return rec


def by_control_sid(api: Api, call_id: str, control_id: str) -> str:
    """The sid of the call's recording with this control_id, running or finished."""
    recs = api.daemon.service.list("acme", call_uuid=call_id)
    (rec,) = [r for r in recs if r.control_id == control_id]
    return rec.sid


def error_of(response: Any, status: int) -> dict[str, Any]:
    doc = json_of(response, status)
    (err,) = doc["errors"]
    assert set(err) == {"type", "code", "message", "attribute", "url"}
    assert err["url"].endswith("#" + err["code"])
    return dict(err)


def signature_ok(got: Received, token: str = ACME_LAML[1]) -> bool:
    data = got.url.encode() + got.body
    sha1 = hmac.new(token.encode(), data, hashlib.sha1).hexdigest()
    sha256 = hmac.new(token.encode(), data, hashlib.sha256).hexdigest()
    return (hmac.compare_digest(got.headers["X-Signalwire-Signature"], sha1)
            and hmac.compare_digest(got.headers["X-Signalwire-Sha256-Signature"], sha256))


# --- record, pause, resume, stop -----------------------------------------------------------------


def test_record_with_defaults_starts_a_mono_wav_of_both_sides(api: Api) -> None:
    uuid = api.call()
    doc = ok(api, "calling.record", uuid, control_id="rec-1")
    rec = by_control(api, uuid, "rec-1")
    assert start_commands(api.switch, uuid) == [expected_start(rec)]
    assert rec.path.endswith(".wav") and rec.source == "calling"
    call = api.daemon.app.tracker.get(uuid)
    assert call is not None
    assert doc == {"id": uuid, "from": call.caller, "to": call.destination,
                   "direction": "inbound", "status": "answered", "source": "realtime_api",
                   "type": "relay_sip_call", "url": None, "created_at": doc["created_at"],
                   "parent_id": None, "control_id": "rec-1"}
    assert doc["created_at"] is None or doc["created_at"].endswith("Z")


def test_without_a_control_id_the_answer_names_the_one_chosen(api: Api) -> None:
    uuid = api.call()
    control_id = ok(api, "calling.record", uuid)["control_id"]
    rec = by_control(api, uuid, control_id)
    assert control_id == rec.sid
    api.switch.advance(1.0)
    assert ok(api, "calling.record.stop", uuid, control_id=control_id)["control_id"] == (
        control_id)
    assert wait_done(api, rec.sid).state is State.COMPLETED


@pytest.mark.parametrize("audio,extra_start", [
    ({"stereo": True}, {"stereo": "true"}),
    ({"direction": "speak"}, {"ro": "true"}),
    ({"direction": "listen"}, {"wo": "true"}),
])
def test_stereo_and_direction(api: Api, audio: dict[str, Any],
                              extra_start: dict[str, str]) -> None:
    uuid = api.call()
    ok(api, "calling.record", uuid, control_id="c", audio=audio)
    rec = by_control(api, uuid, "c")
    assert start_commands(api.switch, uuid) == [expected_start(rec, **extra_start)]


def test_silence_timeouts_and_sensitivity_become_recording_variables(api: Api) -> None:
    uuid = api.call()
    ok(api, "calling.record", uuid, control_id="c",
       audio={"initial_timeout": 2.5, "end_silence_timeout": 1, "input_sensitivity": 100.0,
              "format": "mp3", "terminators": "#*"})
    rec = by_control(api, uuid, "c")
    extra = (",RECORD_INITIAL_TIMEOUT_MS=2500,RECORD_FINAL_TIMEOUT_MS=1000,"
             "RECORD_SILENCE_THRESHOLD=0")
    assert start_commands(api.switch, uuid) == [expected_start(rec, extra=extra)]
    assert rec.path.endswith(".mp3") and rec.options.terminators == "#*"
    api.switch.send_dtmf(uuid, "*")  # a terminator stops it
    assert wait_done(api, rec.sid).stop_reason is not None


def test_beep_plays_a_tone_before_the_recording_starts(api: Api) -> None:
    uuid = api.call()
    ok(api, "calling.record", uuid, control_id="c", audio={"beep": True})
    broadcast = [i for i, c in enumerate(api.switch.commands)
                 if c.startswith(f"uuid_broadcast {uuid} ")]
    start = [i for i, c in enumerate(api.switch.commands)
             if c.startswith(f"uuid_record {uuid} start")]
    assert len(broadcast) == 1 and len(start) == 1 and broadcast[0] < start[0]


def test_two_recordings_on_one_call_are_told_apart_by_control_id(api: Api) -> None:
    uuid = api.call()
    ok(api, "calling.record", uuid, control_id="a")
    ok(api, "calling.record", uuid, control_id="b", audio={"stereo": True})
    a, b = by_control(api, uuid, "a"), by_control(api, uuid, "b")
    api.switch.advance(1.0)
    ok(api, "calling.record.pause", uuid, control_id="a")
    assert api.switch.commands[-1] == f"uuid_record {uuid} mask {a.path}"  # silence: default
    assert (a.state, b.state) == (State.PAUSED, State.IN_PROGRESS)
    ok(api, "calling.record.pause", uuid, control_id="b", behavior="skip")
    assert api.switch.commands[-1] == f"uuid_record {uuid} pause {b.path}"
    ok(api, "calling.record.resume", uuid, control_id="a")
    assert api.switch.commands[-1] == f"uuid_record {uuid} unmask {a.path}"
    ok(api, "calling.record.resume", uuid, control_id="b")
    assert api.switch.commands[-1] == f"uuid_record {uuid} resume {b.path}"
    api.switch.advance(1.0)
    ok(api, "calling.record.stop", uuid, control_id="b")
    assert api.switch.commands[-1] == f"uuid_record {uuid} stop {b.path}"
    assert wait_done(api, b.sid).state is State.COMPLETED
    assert recording(api, a.sid).state is State.IN_PROGRESS
    # stopping b again is harmless; pausing it is refused; a goes on
    ok(api, "calling.record.stop", uuid, control_id="b")
    err = error_of(command(api, "calling.record.pause", uuid, control_id="b"), 422)
    assert (err["code"], err["attribute"]) == ("invalid_state", None)
    assert "completed" in err["message"]
    ok(api, "calling.record.stop", uuid, control_id="a")
    assert wait_done(api, a.sid).file is not None
    assert wait_done(api, b.sid).file.channels == 2  # type: ignore[union-attr]


def test_a_control_id_in_use_on_the_call_is_refused(api: Api) -> None:
    uuid = api.call()
    ok(api, "calling.record", uuid, control_id="dup")
    err = error_of(command(api, "calling.record", uuid, control_id="dup"), 422)
    assert (err["code"], err["attribute"]) == ("invalid_parameter", "params.control_id")
    assert len(start_commands(api.switch, uuid)) == 1


def test_an_unknown_control_id_is_404(api: Api) -> None:
    uuid = api.call()
    for name in ("calling.record.pause", "calling.record.resume", "calling.record.stop"):
        err = error_of(command(api, name, uuid, control_id="nope"), 404)
        assert err["code"] == "not_found" and "nope" in err["message"]


# --- events --------------------------------------------------------------------------------------


def test_events_recording_paused_recording_finished_in_order_and_signed(
        api: Api, receiver: Receiver) -> None:
    uuid = api.call()
    ok(api, "calling.record", uuid, control_id="ev",
       status_url=receiver.url("/status?tenant=1"), audio={"stereo": True})
    rec = by_control(api, uuid, "ev")
    api.switch.advance(1.0)
    ok(api, "calling.record.pause", uuid, control_id="ev")
    api.switch.advance(1.0)
    ok(api, "calling.record.resume", uuid, control_id="ev")
    api.switch.advance(1.0)
    ok(api, "calling.record.stop", uuid, control_id="ev")
    done = wait_done(api, rec.sid)
    got = receiver.wait(4)
    docs = [json.loads(g.body) for g in got]
    assert [d["params"]["state"] for d in docs] == ["recording", "paused", "recording",
                                                    "finished"]
    space = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, api.url))
    for g, d in zip(got, docs, strict=True):
        assert (g.method, g.path, g.query) == ("POST", "/status", "tenant=1")
        assert g.headers["Content-Type"] == "application/json"
        assert signature_ok(g) and not signature_ok(g, token="another-token")
        assert set(d) == {"event_type", "event_channel", "timestamp", "project_id",
                          "space_id", "params"}
        assert (d["event_type"], d["event_channel"], d["project_id"], d["space_id"]) == (
            "calling.call.record", f"calling:{uuid}", ACME_LAML[0], space)
        assert isinstance(d["timestamp"], float)
        base = {"call_id": uuid, "node_id": "fs1", "control_id": "ev",
                "state": d["params"]["state"]}
        if d["params"]["state"] != "finished":
            assert d["params"] == base
    assert done.file is not None
    media = f"{api.url}{LAML}/Recordings/{rec.sid}.wav"
    assert docs[-1]["params"] == {"call_id": uuid, "node_id": "fs1", "control_id": "ev",
                                  "state": "finished",
                                  "record": {"url": media,
                                             "duration": done.file.duration_ms / 1000,
                                             "size": done.file.size, "format": "wav"}}
    assert docs[-1]["params"]["record"]["duration"] == 3.0  # mask keeps the timeline
    served = api.daemon.media(done)  # (with media in S3: once uploaded, from the bucket)
    r = api.http.get(media, headers=LAML_AUTH, timeout=10)
    assert r.status_code == 200 and r.content == served
    assert len(r.content) == docs[-1]["params"]["record"]["size"]


def test_a_recording_that_never_started_reports_no_input(api: Api, receiver: Receiver) -> None:
    uuid = api.call(answered=False)
    ok(api, "calling.record", uuid, control_id="q", status_url=receiver.url())
    rec = by_control(api, uuid, "q")
    assert rec.state is State.QUEUED and start_commands(api.switch, uuid) == []
    ok(api, "calling.record.stop", uuid, control_id="q")
    (got,) = receiver.wait(1)
    assert json.loads(got.body)["params"] == {"call_id": uuid, "node_id": "fs1",
                                              "control_id": "q", "state": "no_input"}


def test_events_wait_in_the_outbox_while_the_receiver_refuses_them(
        api: Api, receiver: Receiver) -> None:
    receiver.status = 503
    uuid = api.call()
    ok(api, "calling.record", uuid, control_id="o", status_url=receiver.url())
    api.switch.advance(1.0)
    ok(api, "calling.record.stop", uuid, control_id="o")
    wait_done(api, by_control_sid(api, uuid, "o"))
    store = api.daemon.app.store
    api.daemon.wait_until(lambda: any(i.attempts >= 2 for i in store.outbox_items("pending")),
                          what="a refused event to be retried")
    receiver.status = 200
    got = receiver.wait(2)
    assert [json.loads(g.body)["params"]["state"] for g in got] == ["recording", "finished"]


def test_swml_recordings_report_through_the_same_events(api: Api, receiver: Receiver) -> None:
    """What the SWML runner does (relay.py's docstring): source "swml" and status_meta."""
    uuid = api.call()
    rec = api.daemon.service.start(
        uuid, record_options(format="wav", direction="speak"), account="acme", source="swml",
        meta=status_meta(receiver.url("/swml"), api.url, "swml:session-1"))
    api.switch.advance(1.0)
    api.daemon.service.stop(rec.sid)
    done = wait_done(api, rec.sid)
    first, last = (json.loads(g.body) for g in receiver.wait(2))
    assert (first["event_channel"], first["params"]["state"]) == ("swml:session-1", "recording")
    assert last["params"]["control_id"] == rec.sid and last["params"]["state"] == "finished"
    assert done.file is not None and last["params"]["record"]["size"] == done.file.size
    assert all(signature_ok(g) for g in receiver.received)


def test_no_status_url_means_no_events(api: Api) -> None:
    uuid = api.call()
    ok(api, "calling.record", uuid, control_id="x")
    ok(api, "calling.record.stop", uuid, control_id="x")
    wait_done(api, by_control_sid(api, uuid, "x"))
    assert [i for i in api.daemon.app.store.outbox_items() if i.kind != MEDIA_UPLOAD] == []


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("params,attribute", [
    ({"audio": {"format": "mp4"}}, "params.audio.format"),
    ({"audio": {"format": "ogg"}}, "params.audio.format"),
    ({"audio": {"direction": "up"}}, "params.audio.direction"),
    ({"audio": {"stereo": "true"}}, "params.audio.stereo"),
    ({"audio": {"stereo": True, "direction": "speak"}}, "params.audio"),
    ({"audio": {"terminators": "#x"}}, "params.audio.terminators"),
    ({"audio": {"initial_timeout": -1}}, "params.audio.initial_timeout"),
    ({"audio": {"end_silence_timeout": "5"}}, "params.audio.end_silence_timeout"),
    ({"audio": {"input_sensitivity": 101}}, "params.audio.input_sensitivity"),
    ({"audio": "wav"}, "params.audio"),
    ({"control_id": "has space"}, "params.control_id"),
    ({"status_url": "ftp://example.com/x"}, "params.status_url"),
])
def test_invalid_values_are_422_naming_the_attribute_and_nothing_starts(
        api: Api, params: dict[str, Any], attribute: str) -> None:
    uuid = api.call()
    err = error_of(command(api, "calling.record", uuid, **params), 422)
    assert (err["type"], err["code"], err["attribute"]) == (
        "validation_error", "invalid_parameter", attribute), err
    assert start_commands(api.switch, uuid) == []
    assert api.daemon.service.for_call(uuid) == []


@pytest.mark.parametrize("url", REFUSED)
def test_a_status_url_deliveries_may_not_reach_is_refused(closed: Api,  # noqa: F811
                                                          url: str) -> None:
    uuid = closed.call()
    err = error_of(command(closed, "calling.record", uuid, status_url=url), 422)
    assert err["attribute"] == "params.status_url"
    assert closed.daemon.service.list("acme", call_uuid=uuid) == []
    assert start_commands(closed.switch, uuid) == []


def test_commands_and_ids_are_checked(api: Api) -> None:
    uuid = api.call()
    r = api.request("POST", CALLS, headers=LAML_AUTH, json={"command": "calling.play",
                                                             "id": uuid, "params": {}})
    assert error_of(r, 422)["attribute"] == "command"
    r = api.request("POST", CALLS, headers=LAML_AUTH, json={"command": "calling.record"})
    assert error_of(r, 422)["attribute"] == "id"
    r = command(api, "calling.record.pause", uuid)
    assert error_of(r, 422)["attribute"] == "params.control_id"
    for bad in ("../../etc", "a b", ""):
        assert error_of(command(api, "calling.record", bad), 404 if bad else 422)


@pytest.mark.parametrize("body,content_type", [
    (b"{nope", "application/json"), (b"[1, 2]", "application/json"),
    (b"command=calling.record", "application/x-www-form-urlencoded"), (b"", "application/json"),
])
def test_malformed_bodies_are_400_in_signalwires_shape(api: Api, body: bytes,
                                                        content_type: str) -> None:
    r = api.request("POST", CALLS, data=body,
                    headers={**LAML_AUTH, "Content-Type": content_type})
    assert error_of(r, 400)["code"] == "bad_request"


def test_an_oversized_body_is_413_in_signalwires_shape(api: Api) -> None:
    uuid = api.call()
    r = command(api, "calling.record", uuid, status_url="https://example.com/" + "a" * 70000)
    assert error_of(r, 413)["code"] == "request_too_large"
    assert start_commands(api.switch, uuid) == []


def test_credentials_are_the_projects(api: Api) -> None:
    uuid = api.call()
    for headers in ({}, {"Authorization": basic(ACME_LAML[0], "wrong")},
                    {"Authorization": basic("unknown-project", ACME_LAML[1])},
                    {"Authorization": "Bearer " + ACME_LAML[1]}):
        r = api.request("POST", CALLS, headers=headers,
                        json={"command": "calling.record", "id": uuid})
        assert error_of(r, 401)["code"] == "unauthorized"
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert start_commands(api.switch, uuid) == []


def test_a_foreign_call_answers_exactly_like_a_missing_one(api: Api) -> None:
    acme_call = api.call("acme")
    ok(api, "calling.record", acme_call, control_id="mine")
    for name in ("calling.record", "calling.record.pause", "calling.record.resume",
                 "calling.record.stop"):
        foreign = command(api, name, acme_call, auth=GLOBEX_AUTH, control_id="mine")
        missing = command(api, name, MISSING_CALL, auth=GLOBEX_AUTH, control_id="mine")
        assert foreign.status_code == missing.status_code == 404
        assert (json.loads(foreign.text.replace(acme_call, "X"))
                == json.loads(missing.text.replace(MISSING_CALL, "X")))
    assert by_control(api, acme_call, "mine").state is State.IN_PROGRESS
    assert len(start_commands(api.switch, acme_call)) == 1


def test_a_hung_up_call_is_404(api: Api) -> None:
    uuid = api.call()
    ok(api, "calling.record", uuid, control_id="h")
    rec = by_control(api, uuid, "h")
    api.switch.hangup(uuid)
    wait_done(api, rec.sid)
    api.daemon.wait_until(lambda: (c := api.daemon.app.tracker.get(uuid)) is None or c.hungup)
    assert error_of(command(api, "calling.record.stop", uuid, control_id="h"), 404)


def test_unknown_paths_and_methods_get_signalwires_shape(api: Api) -> None:
    assert error_of(api.request("GET", "/api/calling/nope", headers=LAML_AUTH), 404)
    r = api.request("GET", CALLS, headers=LAML_AUTH)
    assert error_of(r, 405)["code"] == "method_not_allowed"
    assert "POST" in r.headers["Allow"]


def test_openapi_documents_the_commands(api: Api) -> None:
    doc = api.request("GET", "/openapi.json").json()
    op = doc["paths"][CALLS]["post"]
    assert list(op["requestBody"]["content"]) == ["application/json"]
    assert {"400", "401", "404", "422", "503"} <= set(op["responses"])
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["discriminator"]["propertyName"] == "command"
    audio = doc["components"]["schemas"]["calling_Audio"]["properties"]
    assert audio["format"]["enum"] == ["wav", "mp3"] and audio["direction"]["default"] == "both"
    assert doc["components"]["securitySchemes"]["callingAuth"]["scheme"] == "basic"
