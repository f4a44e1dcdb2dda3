"""CallControl over a real socket against the FreeSWITCH simulator: what FreeSWITCH answers
becomes a typed result or a typed error (esl.control is the only reader of reply texts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from esl_support import ClientFactory, Recorder

from esl_recorder.domain.ports import (
    CallGone,
    CommandRefused,
    ControlTimeout,
    ControlUnavailable,
    OriginateRequest,
    RecordingAction,
)
from esl_recorder.errors import InvalidArgument
from esl_recorder.esl.control import EslCallControl, cause_of, channel_rows, refused
from esl_recorder.testing.fakeswitch import FakeSwitch

GONE = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def fs(tmp_path: Any) -> Iterator[FakeSwitch]:
    with FakeSwitch(clock="manual", recordings_root=str(tmp_path)) as switch:
        yield switch


@pytest.fixture
def control(make_client: ClientFactory, fs: FakeSwitch, recorder: Recorder) -> EslCallControl:
    client = make_client(fs.address)
    client.start()
    assert client.wait_connected(5)
    return EslCallControl(client)


def test_a_recording_is_started_paused_masked_and_stopped_by_path(
        control: EslCallControl, fs: FakeSwitch, tmp_path: Any) -> None:
    uuid = fs.originate()
    path = f"{tmp_path}/r1.wav"
    control.start_recording(uuid, path, 60, {"RECORD_STEREO": True})
    assert [r.path for r in fs.recordings] == [path]
    assert control.is_recording(uuid, path) and not control.is_recording(uuid, path + ".wav")
    for action in (RecordingAction.PAUSE, RecordingAction.RESUME, RecordingAction.MASK,
                   RecordingAction.UNMASK):
        control.control_recording(uuid, action, path)
    control.control_recording(uuid, RecordingAction.STOP, path)
    assert fs.recordings == [] and not control.is_recording(uuid, path)
    with pytest.raises(CommandRefused) as refused_stop:  # nothing left to stop
        control.control_recording(uuid, RecordingAction.STOP, path)
    assert refused_stop.value.reason  # FreeSWITCH's words, kept to show


def test_a_gone_call_is_callgone_for_every_command(control: EslCallControl,
                                                   tmp_path: Any) -> None:
    path = f"{tmp_path}/gone.wav"
    attempts = [
        lambda: control.start_recording(GONE, path, 0, {}),
        lambda: control.play(GONE, "tone_stream://%(250,0,1000)"),
        lambda: control.hangup(GONE),
        lambda: control.transfer(GONE, "tone_a", "XML", "rectest"),
        lambda: control.variables(GONE, ["account_id"]),
    ]
    for attempt in attempts:
        with pytest.raises(CallGone):
            attempt()
    assert not control.call_exists(GONE) and not control.is_recording(GONE, path)


def test_queries_read_variables_and_the_channel_list(control: EslCallControl,
                                                    fs: FakeSwitch) -> None:
    uuid = fs.inbound_call("tone_a", {"account_id": "acme"}, answered=True)
    assert control.call_exists(uuid)
    assert control.variables(uuid, ["account_id", "no_such_var"]) == {
        "account_id": "acme", "no_such_var": ""}
    rows = {row.uuid: row for row in control.live_calls()}
    assert uuid in rows and rows[uuid].answered and rows[uuid].direction == "inbound"


def test_hangup_and_transfer_act_on_the_call(control: EslCallControl, fs: FakeSwitch) -> None:
    uuid = fs.inbound_call("tone_a", answered=True)
    control.transfer(uuid, "tone_b", "XML", "rectest")
    assert fs.channel(uuid).ext == "tone_b"
    control.play(uuid, "tone_stream://%(250,0,1000)", "aleg")
    assert fs.channel(uuid).playback is not None
    control.hangup(uuid, "USER_BUSY")
    fs.advance(0.1)
    assert not control.call_exists(uuid)


def test_originate_reports_answer_or_the_hangup_cause(control: EslCallControl) -> None:
    ok = control.originate(OriginateRequest(
        "11111111-2222-3333-4444-555555555555", "loopback/tone_b/rectest", "tone_a",
        {"account_id": "acme"}, 30), timeout_s=5)
    assert ok.answered and ok.call_uuid == "11111111-2222-3333-4444-555555555555"
    assert control.variables(ok.call_uuid, ["account_id"]) == {"account_id": "acme"}
    failed = control.originate(OriginateRequest(
        "11111111-2222-3333-4444-666666666666", "loopback/no_such_extension/rectest",
        "&park()", {}, 30), timeout_s=5)
    assert not failed.answered and failed.cause == "NO_ROUTE_DESTINATION"


def test_unsafe_values_never_reach_freeswitch(control: EslCallControl, fs: FakeSwitch) -> None:
    sent = len(fs.commands)
    for attempt in (lambda: control.start_recording("x y", "/tmp/a.wav", 0, {}),
                    lambda: control.hangup(GONE, "busy\nexit"),
                    lambda: control.transfer(GONE, "1000 XML evil")):
        with pytest.raises(InvalidArgument):
            attempt()
    assert len(fs.commands) == sent


def test_a_node_that_is_down_or_silent_is_unavailable_or_timed_out(
        make_client: ClientFactory, fs: FakeSwitch) -> None:
    client = make_client(fs.address, command_timeout=0.3)
    control = EslCallControl(client)
    assert not control.connected
    with pytest.raises(ControlUnavailable):
        control.call_exists(GONE)  # never started
    client.start()
    assert client.wait_connected(5) and control.connected
    with fs.core.lock, pytest.raises(ControlTimeout):  # the simulator is stuck: no reply
        gevent.spawn(control.call_exists, GONE).get(timeout=5)


def test_reply_texts_map_to_typed_errors() -> None:
    refused("+OK Success\n", "uuid_record start", "u1")  # no error
    with pytest.raises(CallGone):
        refused("-ERR Cannot locate session!\n", "uuid_record start", "u1")
    with pytest.raises(CallGone):
        refused("-ERR No such channel!\n", "uuid_kill", "u1")
    with pytest.raises(CommandRefused) as usage:
        refused("-USAGE: <uuid> [start|stop] <path>\n", "uuid_record", "u1")
    assert usage.value.reason.startswith("-USAGE")
    assert cause_of("-ERR NO_ANSWER\n") == "NO_ANSWER"
    assert cause_of("-ERR weird text!") == "DESTINATION_OUT_OF_ORDER"
    assert channel_rows('{"row_count":0}') == []
    with pytest.raises(CommandRefused):
        channel_rows("-ERR no reply")
