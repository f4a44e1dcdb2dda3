"""The Catapult v1 SDK (`bandwidth-sdk` 3.x), unchanged but for its api_endpoint, drives
calls and recordings over a real port against the simulator; callbacks reach a real
local receiver."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from api.conftest import ACME_BW, Api
from api.receiver import Receiver
from api.test_bandwidth import bw  # noqa: F401 (fixture)

from esl_recorder.domain.recording import State

from .conftest import SdkDriver, SdkError


@pytest.fixture
def sdk(bw: Api, start_driver: Callable[..., SdkDriver],  # noqa: F811
        ca_bundle: str) -> SdkDriver:
    return start_driver("bandwidth", "bandwidth_driver.py", bw.url, *ACME_BW, ca_bundle)


def test_the_bandwidth_sdk_records_lists_downloads_deletes_and_hangs_up(
        bw: Api, sdk: SdkDriver, receiver: Receiver) -> None:  # noqa: F811
    call_id = sdk.step({"op": "create_call", "args": {
        "from_": "+15551230001", "to": "tone_b", "recording_enabled": True,
        "callback_url": receiver.url("/bw")}})
    bw.daemon.wait_call(call_id)
    assert f"origination_uuid={call_id}," in bw.switch.wait_for_command("originate")
    rec = bw.daemon.wait_until(lambda: bw.daemon.service.list("acme", call_uuid=call_id),
                               what="recording")[0]
    bw.switch.wait_for_command(f"uuid_record {call_id} start {rec.path}")
    call = sdk.step({"op": "get_call", "call_id": call_id})
    assert (call["state"], call["recording_enabled"]) == ("active", True)
    assert call["start_time"] <= call["active_time"]

    bw.switch.advance(1.0)
    sdk.step({"op": "disable_recording", "call_id": call_id})
    assert bw.switch.wait_for_command(f"uuid_record {call_id} stop") == (
        f"uuid_record {call_id} stop {rec.path}")
    bw.switch.advance(0.1)
    rec = bw.daemon.wait_state(rec.sid, State.COMPLETED)
    sdk.step({"op": "enable_recording", "call_id": call_id})
    second = bw.daemon.wait_until(
        lambda: len(recs := bw.daemon.service.list("acme", call_uuid=call_id)) == 2
        and recs[0], what="second recording")
    bw.switch.wait_for_command(f"uuid_record {call_id} start {second.path}")

    rec_id = "rec-" + rec.sid[2:]
    listed = sdk.step({"op": "call_recordings", "call_id": call_id})
    assert {r["id"] for r in listed} == {rec_id, "rec-" + second.sid[2:]}
    assert [r["id"] for r in sdk.step({"op": "list_recordings", "args": {"size": 1}})] == [
        "rec-" + second.sid[2:], rec_id]  # the SDK follows the Link header's next page
    fetched = sdk.step({"op": "get_recording", "recording_id": rec_id})
    assert (fetched["state"], fetched["media_name"]) == ("complete", f"{rec_id}.wav")
    served = bw.daemon.media(rec)  # (with media in S3: once uploaded, from the bucket)
    media = sdk.step({"op": "download_media", "name": f"{rec_id}.wav"})
    assert media == {"bytes": len(served), "type": "audio/x-wav"}
    sdk.step({"op": "delete_media", "name": f"{rec_id}.wav"})
    with pytest.raises(SdkError) as err:
        sdk.step({"op": "get_recording", "recording_id": rec_id})
    assert err.value.status == 404

    calls = sdk.step({"op": "list_calls", "args": {"to": "tone_b", "size": 10}})
    assert [c["id"] for c in calls] == [call_id]
    bw.switch.advance(1.0)
    sdk.step({"op": "hangup", "call_id": call_id})
    assert bw.switch.wait_for_command(f"uuid_kill {call_id}")
    bw.switch.advance(0.1)
    bw.daemon.wait_state(second.sid, State.COMPLETED)
    assert sdk.step({"op": "get_call", "call_id": call_id})["state"] == "completed"
    kinds = [json.loads(r.body)["eventType"] for r in receiver.wait(4)]
    assert kinds[0] == "answer" and "hangup" in kinds and kinds.count("recording") == 2


def test_the_bandwidth_sdk_transfers_a_call(bw: Api, sdk: SdkDriver,  # noqa: F811
                                            receiver: Receiver) -> None:
    call_id = sdk.step({"op": "create_call", "args": {
        "from_": "+15551230001", "to": "tone_b", "callback_url": receiver.url("/bw")}})
    bw.daemon.wait_call(call_id)
    receiver.wait(1)  # answer
    sdk.step({"op": "transfer", "call_id": call_id, "to": "tone_a",
              "caller_id": "+15559990000"})
    assert bw.switch.wait_for_command(f"uuid_transfer {call_id}") == (
        f"uuid_transfer {call_id} tone_a XML default")
    assert f"uuid_setvar {call_id} effective_caller_id_number +15559990000" in (
        bw.switch.commands)
    transfer = json.loads(receiver.wait(2)[1].body)
    assert (transfer["eventType"], transfer["transferTo"]) == ("transfer", "tone_a")
