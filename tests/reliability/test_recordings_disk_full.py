"""Finding 5 of issue 13: a recording whose file system filled is not a success. The
simulator's recordings disk fills the way record_disk_full.txt shows (the recording goes
on; RECORD_STOP says uri-failure and counts the whole time; the file holds what fitted)."""

from __future__ import annotations

import pytest
from api.compat_helpers import LAML, LAML_AUTH, finish, wait_done
from api.conftest import Api
from api.receiver import Receiver
from prometheus_client.parser import text_string_to_metric_families

FOUR_SECONDS = 44 + 4 * 16000  # a mono 8 kHz wav header and 4 s of audio


def test_a_recording_cut_short_by_a_full_disk_ends_failed(api: Api, receiver: Receiver,
                                                           caplog: pytest.LogCaptureFixture,
                                                           ) -> None:
    uuid = api.call()
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH,
                    data={"RecordingStatusCallback": receiver.url(),
                          "RecordingStatusCallbackEvent": "completed absent"})
    sid = r.json()["sid"]
    api.switch.recordings_disk.limit(FOUR_SECONDS)
    finish(api, uuid, 35.0)
    rec = wait_done(api, sid)
    assert rec.state.value == "failed"
    assert rec.error and "uri-failure" in rec.error
    assert rec.file is not None and 3500 <= rec.file.duration_ms <= 4100  # what was saved
    doc = api.request("GET", f"{LAML}/Recordings/{sid}.json", headers=LAML_AUTH).json()
    assert (doc["status"], doc["error_code"], doc["duration"]) == ("absent", None, 4)
    (got,) = receiver.wait(1)
    assert got.form["RecordingStatus"] == "absent" and got.form["ErrorCode"] == ""
    samples = [s for family in text_string_to_metric_families(
        api.request("GET", "/metrics").text) for s in family.samples
        if s.name == "esl_recorder_recordings_finished_total"]
    assert [(s.labels["state"], s.labels["cause"], s.value) for s in samples
            if s.value] == [("failed", "uri-failure", 1.0)]
    assert f"recording {sid} on call {uuid} failed (uri-failure)" in caplog.text
