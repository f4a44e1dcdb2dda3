"""SignalWire's current Python SDK (`signalwire-sdk` 3.x), unchanged, drives two recordings
on one call through the Calling API (`client.calling.record`, `record_pause`,
`record_resume`, `record_stop`) against the daemon on the simulator; the
`calling.call.record` events reach a real local receiver, and the SDK's own RELAY event
parser and webhook validators read them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api.compat_helpers import LAML, expected_start, start_commands, wait_done
from api.conftest import ACME_LAML, Api
from api.receiver import Received, Receiver

from esl_recorder.domain.recording import Recording, State

from .conftest import SdkDriver, SdkError


@pytest.fixture
def sdk(api: Api, start_driver: Callable[..., SdkDriver], ca_bundle: str) -> SdkDriver:
    return start_driver("signalwire3", "signalwire3_driver.py", api.url, *ACME_LAML,
                        ca_bundle)


def by_control(api: Api, call_id: str, control_id: str) -> Recording:
    (rec,) = [r for r in api.daemon.service.for_call(call_id) if r.control_id == control_id]
    return rec


def read(sdk: SdkDriver, got: Received) -> Any:
    return sdk.step({"op": "event", "body": got.body.decode(), "url": got.url,
                     "headers": got.headers})


def test_the_signalwire_sdk_3_records_pauses_resumes_and_stops_two_recordings_on_one_call(
        api: Api, sdk: SdkDriver, receiver: Receiver) -> None:
    uuid = api.call()
    first = sdk.step({"op": "record", "call": uuid, "args": {
        "control_id": "caller", "audio": {"format": "wav", "direction": "both"},
        "status_url": receiver.url("/caller")}})
    assert (first["id"], first["status"], first["control_id"]) == (uuid, "answered", "caller")
    second = sdk.step({"op": "record", "call": uuid, "args": {
        "control_id": "agent", "audio": {"stereo": True, "beep": True},
        "status_url": receiver.url("/agent")}})
    assert (second["id"], second["control_id"]) == (uuid, "agent")
    caller, agent = by_control(api, uuid, "caller"), by_control(api, uuid, "agent")
    assert start_commands(api.switch, uuid) == [expected_start(caller),
                                                expected_start(agent, stereo="true")]

    api.switch.advance(1.0)
    sdk.step({"op": "pause", "call": uuid, "args": {"control_id": "caller"}})
    assert api.switch.commands[-1] == f"uuid_record {uuid} mask {caller.path}"
    sdk.step({"op": "pause", "call": uuid,
              "args": {"control_id": "agent", "extras": {"behavior": "skip"}}})
    assert api.switch.commands[-1] == f"uuid_record {uuid} pause {agent.path}"
    api.switch.advance(1.0)
    sdk.step({"op": "resume", "call": uuid, "args": {"control_id": "caller"}})
    assert api.switch.commands[-1] == f"uuid_record {uuid} unmask {caller.path}"
    sdk.step({"op": "resume", "call": uuid, "args": {"control_id": "agent"}})
    assert api.switch.commands[-1] == f"uuid_record {uuid} resume {agent.path}"
    api.switch.advance(1.0)
    sdk.step({"op": "stop", "call": uuid, "args": {"control_id": "agent"}})
    assert api.switch.commands[-1] == f"uuid_record {uuid} stop {agent.path}"
    sdk.step({"op": "stop", "call": uuid, "args": {"control_id": "caller"}})
    assert api.switch.commands[-1] == f"uuid_record {uuid} stop {caller.path}"
    done = {"caller": wait_done(api, caller.sid), "agent": wait_done(api, agent.sid)}
    assert done["caller"].state is done["agent"].state is State.COMPLETED

    received = receiver.wait(8)
    for path, control_id, seconds in (("/caller", "caller", 3.0), ("/agent", "agent", 2.0)):
        events = [read(sdk, got) for got in received if got.path == path]
        assert [e["state"] for e in events] == ["recording", "paused", "recording",
                                                "finished"], path
        for e in events:
            assert (e["event_type"], e["call_id"], e["control_id"]) == (
                "calling.call.record", uuid, control_id)
            assert e["signed"] and e["signed_sha256"]
        rec = done[control_id]
        assert rec.file is not None
        media = f"{api.url}{LAML}/Recordings/{rec.sid}.wav"
        assert (events[-1]["url"], events[-1]["duration"], events[-1]["size"]) == (
            media, seconds, rec.file.size)  # mask keeps the paused second, skip drops it
        assert events[-1]["record"]["format"] == "wav"


def test_the_signalwire_sdk_3_sees_the_errors(api: Api, sdk: SdkDriver) -> None:
    uuid = api.call()
    with pytest.raises(SdkError) as err:
        sdk.step({"op": "record", "call": uuid, "args": {"audio": {"format": "mp4"}}})
    assert err.value.status == 422 and "params.audio.format" in str(err.value)
    with pytest.raises(SdkError) as err:
        sdk.step({"op": "pause", "call": uuid, "args": {"control_id": "none-such"}})
    assert err.value.status == 404
    with pytest.raises(SdkError) as err:
        sdk.step({"op": "record", "call": "ffffffff-0000-4000-8000-000000000000"})
    assert err.value.status == 404
    assert start_commands(api.switch, uuid) == []
