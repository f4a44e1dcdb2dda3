"""Recordings uploaded to a real SeaweedFS through the outbox, served and deleted from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from api.compat_helpers import LAML, LAML_AUTH, TEXML, TEXML_AUTH, finish, wait_done
from api.conftest import ACME_BW, Api, basic

from esl_recorder.domain.recording import Recording, State

from .conftest import Bucket, S3ApiFactory, object_key
from .proxy import Relay

USERS = f"/v1/users/{ACME_BW[0]}"
BW_AUTH = {"Authorization": basic(ACME_BW[1], ACME_BW[2])}


def record_laml(api: Api, seconds: float = 1.0, prefix: str = LAML,
                auth: dict[str, str] = LAML_AUTH) -> tuple[Recording, str]:
    """A finished recording made through LaML (or TeXML): (recording, its sid as shown)."""
    uuid = api.call()
    r = api.request("POST", f"{prefix}/Calls/{uuid}/Recordings.json", headers=auth, data={})
    assert r.status_code in (200, 201), r.text
    [started] = api.daemon.service.for_call(uuid)
    finish(api, uuid, seconds)
    rec = wait_done(api, started.sid)
    assert rec.state is State.COMPLETED
    return rec, r.json()["sid"]


def wait_uploaded(api: Api, bucket: Bucket, rec: Recording, *, local_gone: bool = True,
                  timeout: float = 15.0) -> bytes:
    key = object_key(rec.account, rec.sid)
    found: dict[str, bytes] = {}

    def landed() -> bool:
        data = bucket.read(key)
        if data is None or (local_gone and os.path.exists(rec.path)):
            return False
        found["data"] = data
        return True

    api.daemon.wait_until(landed, timeout, what=f"upload of {rec.sid}")
    return found["data"]


def attempts(api: Api, result: str, metric: str = "upload_attempts") -> float:
    value = api.daemon.app.prometheus.get_sample_value(f"esl_recorder_{metric}_total",
                                                       {"result": result})
    return value or 0.0


def test_a_finished_recording_lands_in_the_bucket_verified_and_leaves_the_disk(
        s3_api: S3ApiFactory, bucket: Bucket) -> None:
    api = s3_api()
    rec, _ = record_laml(api)
    assert rec.file is not None
    data = wait_uploaded(api, bucket, rec)
    assert len(data) == rec.file.size and data[:4] == b"RIFF"
    assert bucket.sha256(object_key("acme", rec.sid)) == rec.file.sha256
    assert not os.path.exists(rec.path)
    api.daemon.wait_until(lambda: attempts(api, "delivered") == 1, what="metric")
    assert attempts(api, "retry") == attempts(api, "dead") == 0


def test_a_recording_stopped_on_a_live_call_keeps_its_file_until_the_hangup(
        s3_api: S3ApiFactory, bucket: Bucket) -> None:
    """A script on the call may still play the file (SWML `play` of ${record_call_url}):
    uploaded at once, removed from the disk only once the call has ended."""
    api = s3_api()
    uuid = api.call()
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH, data={})
    assert r.status_code in (200, 201), r.text
    [started] = api.daemon.service.for_call(uuid)
    api.daemon.wait_state(started.sid, State.IN_PROGRESS)
    api.switch.advance(1.0)
    api.daemon.service.stop(started.sid)
    rec = api.daemon.wait_state(started.sid, State.COMPLETED)
    assert rec.file is not None
    wait_uploaded(api, bucket, rec, local_gone=False)
    api.daemon.wait_until(lambda: attempts(api, "delivered") == 1, what="upload done")
    assert os.path.exists(rec.path)  # the call is up: a playback of it must still work
    api.switch.hangup(uuid)
    api.daemon.wait_until(lambda: not os.path.exists(rec.path), what="file removed")
    assert bucket.sha256(object_key("acme", rec.sid)) == rec.file.sha256


def test_keep_local_keeps_the_file_after_the_upload(s3_api: S3ApiFactory,
                                                    bucket: Bucket) -> None:
    api = s3_api(keep_local=True)
    rec, _ = record_laml(api)
    data = wait_uploaded(api, bucket, rec, local_gone=False)
    api.daemon.wait_until(lambda: attempts(api, "delivered") == 1, what="upload result")
    assert Path(rec.path).read_bytes() == data


def bandwidth_recording(api: Api) -> tuple[Recording, str]:
    """A finished recording of a Bandwidth call: (recording, its media URL path)."""
    r = api.request("POST", f"{USERS}/calls", headers=BW_AUTH,
                    json={"from": "+15551230001", "to": "tone_b", "recordingEnabled": True})
    assert r.status_code == 201, r.text
    call_id = r.headers["Location"].rsplit("/", 1)[1]
    api.daemon.wait_call(call_id)
    [started] = api.daemon.wait_until(lambda: api.daemon.service.for_call(call_id),
                                      what="recording")
    api.switch.wait_for_command(f"uuid_record {call_id} start {started.path}")
    api.daemon.wait_state(started.sid, State.IN_PROGRESS)
    finish(api, call_id, 1.0)
    rec = wait_done(api, started.sid)
    docs = api.request("GET", f"{USERS}/calls/{call_id}/recordings", headers=BW_AUTH).json()
    return rec, docs[0]["media"].removeprefix(api.url)


@pytest.mark.parametrize("serve", ["stream", "redirect"])
def test_media_routes_answer_from_the_bucket_once_the_file_is_gone(
        s3_api: S3ApiFactory, bucket: Bucket, serve: str) -> None:
    api = s3_api(serve=serve)
    laml, laml_sid = record_laml(api)
    texml, texml_sid = record_laml(api, prefix=TEXML, auth=TEXML_AUTH)
    bw, bw_path = bandwidth_recording(api)
    routes = [(laml, f"{LAML}/Recordings/{laml_sid}.wav", LAML_AUTH),
              (texml, f"{TEXML}/Recordings/{texml_sid}.wav", TEXML_AUTH),
              (bw, bw_path, BW_AUTH)]
    for rec, path, auth in routes:
        data = wait_uploaded(api, bucket, rec)
        plain = api.request("GET", path, headers=auth, allow_redirects=False)
        if serve == "stream":
            assert plain.status_code == 200, plain.text
            assert plain.headers["Content-Type"] == "audio/x-wav"
            assert plain.content == data
        else:
            assert plain.status_code == 302, plain.text
            location = plain.headers["Location"]
            assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location
            followed = api.request("GET", path, headers=auth)  # follows the redirect
            assert followed.status_code == 200 and followed.content == data
        refused = api.request("GET", path, allow_redirects=False)  # no credentials
        assert refused.status_code == 401 and "Location" not in refused.headers
        assert refused.content != data


def test_deleting_a_recording_removes_its_object(s3_api: S3ApiFactory,
                                                 bucket: Bucket) -> None:
    api = s3_api()
    rec, sid = record_laml(api)
    wait_uploaded(api, bucket, rec)
    r = api.request("DELETE", f"{LAML}/Recordings/{sid}.json", headers=LAML_AUTH)
    assert r.status_code == 204, r.text
    key = object_key("acme", rec.sid)
    api.daemon.wait_until(lambda: bucket.read(key) is None, 10, what="object removed")
    api.daemon.wait_until(lambda: attempts(api, "delivered", "media_removals") == 1,
                          what="removal counted")
    r = api.request("GET", f"{LAML}/Recordings/{sid}.wav", headers=LAML_AUTH)
    assert r.status_code == 404


def test_an_upload_is_retried_while_s3_is_down_and_lands_when_it_is_back(
        s3_api: S3ApiFactory, bucket: Bucket, relay: Relay) -> None:
    api = s3_api(endpoint=relay.url)  # nothing listens there yet
    rec, sid = record_laml(api)
    api.daemon.wait_until(lambda: attempts(api, "retry") >= 2, 10, what="failed attempts")
    assert os.path.exists(rec.path)  # kept until the upload is verified
    r = api.request("GET", f"{LAML}/Recordings/{sid}.wav", headers=LAML_AUTH)
    assert r.status_code == 200 and r.content == Path(rec.path).read_bytes()
    relay.start()
    data = wait_uploaded(api, bucket, rec)
    assert rec.file is not None and bucket.sha256(object_key("acme", rec.sid)) == rec.file.sha256
    assert len(data) == rec.file.size
    # the media now comes from the bucket; S3 down again: the answer says so (503)
    relay.stop()
    r = api.request("GET", f"{LAML}/Recordings/{sid}.wav", headers=LAML_AUTH)
    assert r.status_code == 503, r.text


def test_a_file_changed_after_finalize_is_not_uploaded(
        s3_api: S3ApiFactory, bucket: Bucket, relay: Relay) -> None:
    api = s3_api(endpoint=relay.url)  # S3 down: the upload is retried (and reads the file)
    rec, _ = record_laml(api)
    api.daemon.wait_until(lambda: attempts(api, "retry") >= 1, 10, what="a failed attempt")
    raw = bytearray(Path(rec.path).read_bytes())
    raw[-1] ^= 0xFF  # same size, other bytes
    Path(rec.path).write_bytes(raw)
    # the next attempt reads the changed bytes: refused before anything is sent
    # the attempt's metric moves at once, its result is stored with the loop's next batch
    dead = api.daemon.wait_until(lambda: api.daemon.app.outbox.dead(), 10,
                                 what="the upload given up")
    assert attempts(api, "dead") == 1
    assert len(dead) == 1 and dead[0].key == f"media:{rec.sid}"
    assert dead[0].last_error is not None and "changed since finalize" in dead[0].last_error
    assert bucket.read(object_key("acme", rec.sid)) is None
    assert os.path.exists(rec.path)


def test_a_recording_deleted_before_its_upload_is_not_uploaded(
        s3_api: S3ApiFactory, bucket: Bucket, relay: Relay) -> None:
    api = s3_api(endpoint=relay.url)
    rec, sid = record_laml(api)
    api.daemon.wait_until(lambda: attempts(api, "retry") >= 1, 10, what="a failed attempt")
    r = api.request("DELETE", f"{LAML}/Recordings/{sid}.json", headers=LAML_AUTH)
    assert r.status_code == 204
    relay.start()
    api.daemon.wait_until(lambda: attempts(api, "delivered", "media_removals") == 1, 10,
                          what="the removal")
    assert attempts(api, "delivered") == 1  # the upload item is done
    assert bucket.read(object_key("acme", rec.sid)) is None
    # No object either way: an attempt that had found the recording still there just before
    # the DELETE may have gone on to upload it (a whole-suite run saw a PUT), and then the
    # removal, queued behind it on the same key, took the object away.


PART = 5 * 1024 * 1024  # media.part_size's least value: a longer file goes in parts


def test_a_recording_longer_than_a_part_goes_in_parts_and_a_change_aborts_them(
        s3_api: S3ApiFactory, bucket: Bucket, relay: Relay) -> None:
    api = s3_api(endpoint=relay.url, keep_local=True)
    long, _ = record_laml(api, seconds=400.0)  # 8 kHz 16-bit mono: 6.4 MB, two parts
    changed, _ = record_laml(api, seconds=400.0)
    assert long.file is not None and changed.file is not None and long.file.size > PART
    api.daemon.wait_until(lambda: attempts(api, "retry") >= 2, 10, what="failed attempts")
    raw = bytearray(Path(changed.path).read_bytes())
    raw[-1] ^= 0xFF  # in the last part: read after the first part was sent
    Path(changed.path).write_bytes(raw)
    relay.start()
    api.daemon.wait_until(lambda: attempts(api, "dead") == 1 and attempts(api, "delivered") == 1,
                          20, what="one upload delivered, one given up")
    assert bucket.sha256(object_key("acme", long.sid)) == long.file.sha256
    assert bucket.read(object_key("acme", changed.sid)) is None
    [dead] = api.daemon.wait_until(lambda: api.daemon.app.outbox.dead(), 10,
                                   what="the given-up upload stored")
    assert dead.key == f"media:{changed.sid}" and "changed since finalize" in str(dead.last_error)
    assert b"POST /recordings-test/" in relay.received  # a multipart upload was begun
