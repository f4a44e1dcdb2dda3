"""The SignalWire Python SDK (`signalwire` 2.x), unchanged but for its base URL, drives
LaML recordings over its own paths (`/2010-04-01/Accounts/...`, without `/api/laml`)
against the simulator; status callbacks reach a real local receiver."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api.compat_helpers import expected_start, recording, start_commands, wait_done
from api.conftest import ACME_LAML, Api
from api.receiver import Receiver

from esl_recorder.domain.recording import State

from .conftest import SdkDriver, SdkError


@pytest.fixture
def sdk(api: Api, start_driver: Callable[..., SdkDriver], ca_bundle: str) -> SdkDriver:
    return start_driver("signalwire", "signalwire_driver.py", api.url, *ACME_LAML, ca_bundle)


def test_the_signalwire_sdk_creates_pauses_resumes_stops_lists_fetches_and_deletes(
        api: Api, sdk: SdkDriver, receiver: Receiver) -> None:
    uuid = api.call()
    created = sdk.step({"op": "create", "call": uuid, "args": {
        "recording_channels": "dual", "recording_status_callback": receiver.url("/sw"),
        "recording_status_callback_event": ["in-progress", "completed"]}})
    rec = recording(api, created["sid"])
    assert start_commands(api.switch, uuid) == [expected_start(rec, stereo="true")]
    assert (created["status"], created["channels"], created["call_sid"]) == (
        "in-progress", 2, uuid)
    assert created["account_sid"] == ACME_LAML[0]
    sid = created["sid"]

    api.switch.advance(1.0)
    paused = sdk.step({"op": "update", "call": uuid, "sid": sid,
                       "args": {"status": "paused", "pause_behavior": "skip"}})
    assert paused["status"] == "paused"
    assert api.switch.commands[-1] == f"uuid_record {uuid} pause {rec.path}"
    api.switch.advance(1.0)
    assert sdk.step({"op": "update", "call": uuid, "sid": sid,
                     "args": {"status": "in-progress"}})["status"] == "in-progress"
    assert api.switch.commands[-1] == f"uuid_record {uuid} resume {rec.path}"
    api.switch.advance(1.0)
    assert sdk.step({"op": "update", "call": uuid, "sid": sid,
                     "args": {"status": "stopped"}})["status"] == "stopped"
    assert api.switch.commands[-1] == f"uuid_record {uuid} stop {rec.path}"
    assert wait_done(api, sid).state is State.COMPLETED

    fetched = sdk.step({"op": "fetch", "sid": sid})
    assert (fetched["status"], fetched["duration"], fetched["channels"]) == (
        "completed", 2, 2)
    assert sdk.step({"op": "fetch_on_call", "call": uuid, "sid": sid})["call_sid"] == uuid
    assert [r["sid"] for r in sdk.step({"op": "list"})] == [sid]
    assert [r["sid"] for r in sdk.step({"op": "list_on_call", "call": uuid})] == [sid]

    first, second = receiver.wait(2)
    assert [first.form["RecordingStatus"], second.form["RecordingStatus"]] == [
        "in-progress", "completed"]

    assert sdk.step({"op": "delete", "sid": sid}) is True
    with pytest.raises(SdkError) as err:
        sdk.step({"op": "fetch", "sid": sid})
    assert err.value.status == 404


def test_the_signalwire_sdk_pages_and_sees_errors(api: Api, sdk: SdkDriver) -> None:
    uuid = api.call()
    sids = [sdk.step({"op": "create", "call": uuid})["sid"] for _ in range(3)]
    assert [r["sid"] for r in sdk.step({"op": "list", "args": {"page_size": 2}})] == (
        sids[::-1])  # the SDK follows next_page_uri
    with pytest.raises(SdkError) as err:
        sdk.step({"op": "create", "call": uuid, "args": {"recording_channels": "quad"}})
    assert err.value.status == 400
