"""The Telnyx Python SDK (`telnyx` 4.x, whose TeXML REST resources include call
recordings), unchanged but for its base URL, drives TeXML recordings against the
simulator; status callbacks reach a real local receiver."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api.compat_helpers import recording, start_commands, wait_done
from api.conftest import ACME_TEXML, Api
from api.receiver import Receiver

from esl_recorder.domain.recording import State

from .conftest import SdkDriver, SdkError


@pytest.fixture
def sdk(api: Api, start_driver: Callable[..., SdkDriver], ca_bundle: str) -> SdkDriver:
    return start_driver("telnyx", "telnyx_driver.py", api.url, *ACME_TEXML, ca_bundle)


def test_the_telnyx_sdk_creates_pauses_resumes_stops_lists_fetches_and_deletes(
        api: Api, sdk: SdkDriver, receiver: Receiver) -> None:
    uuid = api.call()
    created = sdk.step({"op": "create", "call": uuid, "args": {
        "play_beep": False, "recording_channels": "single",
        "recording_status_callback": receiver.url("/tx"),
        "recording_status_callback_event": "in-progress completed"}})
    sid = created["sid"]  # Telnyx shows our sid (RE + 32 hex) as a UUID
    rec = recording(api, "RE" + sid.replace("-", ""))
    assert len(start_commands(api.switch, uuid)) == 1 and rec.options.channels == 1
    assert (created["call_sid"], created["account_sid"]) == (uuid, ACME_TEXML[0])

    api.switch.advance(1.0)
    sdk.step({"op": "update", "call": uuid, "sid": sid, "status": "paused"})
    assert api.switch.commands[-1] == f"uuid_record {uuid} mask {rec.path}"
    api.switch.advance(1.0)
    sdk.step({"op": "update", "call": uuid, "sid": sid, "status": "in-progress"})
    assert api.switch.commands[-1] == f"uuid_record {uuid} unmask {rec.path}"
    api.switch.advance(1.0)
    sdk.step({"op": "update", "call": uuid, "sid": sid, "status": "stopped"})
    assert api.switch.commands[-1] == f"uuid_record {uuid} stop {rec.path}"
    assert wait_done(api, rec.sid).state is State.COMPLETED

    listed = sdk.step({"op": "list_on_call", "call": uuid})
    assert [r["sid"] for r in listed["recordings"]] == [sid]
    fetched = sdk.step({"op": "fetch", "sid": sid})
    assert (fetched["sid"], fetched["status"], fetched["duration"]) == (sid, "completed", "3")

    first, second = receiver.wait(2)
    assert [first.form["RecordingStatus"], second.form["RecordingStatus"]] == [
        "in-progress", "completed"]

    sdk.step({"op": "delete", "sid": sid})
    with pytest.raises(SdkError) as err:
        sdk.step({"op": "fetch", "sid": sid})
    assert err.value.status == 404
