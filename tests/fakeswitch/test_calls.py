"""Calls on the simulator: originate, channel variables, show/dump, DTMF, transfers, crash."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from esl_recorder.testing.fakeswitch import FakeSwitch

from .wireclient import WireClient, event_headers, goertzel, read_wav

CALL_EVENTS = (
    "event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE "
    "CHANNEL_DESTROY RECORD_START RECORD_STOP DTMF BACKGROUND_JOB CHANNEL_BRIDGE "
    "CHANNEL_EXECUTE_COMPLETE"
)


def headers_of(client: WireClient) -> list[dict[str, str]]:
    return [dict(event_headers(m)) for m in client.pending()]


def test_bgapi_originate_event_sequence(switch: FakeSwitch, client: WireClient) -> None:
    client.command(CALL_EVENTS)
    client.command("bgapi originate loopback/tone_b/rectest tone_a XML rectest")
    events = headers_of(client)
    names = [(e["Event-Name"], e.get("Channel-Name", ""), e.get("Application", "")) for e in events]
    assert names == [
        ("CHANNEL_CREATE", "loopback/tone_b-a", ""),
        ("CHANNEL_CREATE", "loopback/tone_b-b", ""),
        ("CHANNEL_EXECUTE_COMPLETE", "loopback/tone_b-b", "set"),
        ("CHANNEL_ANSWER", "loopback/tone_b-a", ""),
        ("CHANNEL_ANSWER", "loopback/tone_b-b", ""),
        ("CHANNEL_EXECUTE_COMPLETE", "loopback/tone_b-b", "answer"),
        ("BACKGROUND_JOB", "", ""),
        ("CHANNEL_EXECUTE_COMPLETE", "loopback/tone_b-a", "set"),
        ("CHANNEL_EXECUTE_COMPLETE", "loopback/tone_b-a", "answer"),
    ]
    a, b = events[0], events[1]
    assert a["Call-Direction"] == "outbound" and b["Call-Direction"] == "inbound"
    assert a["variable_other_loopback_leg_uuid"] == b["Unique-ID"]
    assert events[6]["Job-Command-Arg"] == "loopback/tone_b/rectest%20tone_a%20XML%20rectest"
    assert client.api(f"uuid_getvar {a['Unique-ID']} other_loopback_leg_uuid") == b["Unique-ID"]


def test_no_route(switch: FakeSwitch, client: WireClient) -> None:
    assert client.api("originate loopback/nowhere/rectest &park") == "-ERR NO_ROUTE_DESTINATION\n"
    assert switch.channels() == []


def test_variables(switch: FakeSwitch, client: WireClient) -> None:
    uuid = switch.originate(variables={"origination_tag": "x"})
    assert client.api(f"uuid_getvar {uuid} read_codec") == "L16"
    assert client.api(f"uuid_getvar {uuid} no_such_variable") == "_undef_"
    assert client.api(f"uuid_getvar {uuid} origination_tag") == "x"
    assert client.api(f"uuid_setvar {uuid} my_var hello world") == "+OK\n"
    assert client.api(f"uuid_getvar {uuid} my_var") == "hello world"
    assert client.api(f"uuid_setvar {uuid} my_var") == "+OK\n"
    assert client.api(f"uuid_getvar {uuid} my_var") == "_undef_"
    unknown = "00000000-0000-0000-0000-000000000000"
    for line in (f"uuid_kill {unknown}", f"uuid_setvar {unknown} a b", f"uuid_getvar {unknown} a"):
        assert client.api(line) == "-ERR No such channel!\n"
    assert client.api(f"uuid_exists {uuid}") == "true"
    assert client.api(f"uuid_exists {unknown}") == "false"


def test_dial_string_variables(switch: FakeSwitch, client: WireClient) -> None:
    reply = client.api("originate {tag=abc,other=1}loopback/tone_b/rectest tone_a XML rectest")
    uuid = reply.removeprefix("+OK ").strip()
    assert client.api(f"uuid_getvar {uuid} tag") == "abc"


def test_show_channels(switch: FakeSwitch, client: WireClient) -> None:
    assert client.api("show channels as json") == '{"row_count": 0}\n'
    assert client.api("show channels").endswith("\n\n0 total.\n")
    uuid = switch.originate()
    data = json.loads(client.api("show channels as json"))
    assert data["row_count"] == 2
    assert [r["name"] for r in data["rows"]] == ["loopback/tone_b-a", "loopback/tone_b-b"]
    assert data["rows"][0]["uuid"] == uuid and data["rows"][0]["application"] == "playback"
    csv = client.api("show channels")
    assert csv.startswith("uuid,direction,created,created_epoch,name,state,")
    assert csv.endswith("\n\n2 total.\n")
    calls = json.loads(client.api("show calls as json"))
    assert "b_uuid" in calls["rows"][0]
    assert client.api("show channels count") == "\n2 total.\n"


def test_status(switch: FakeSwitch, client: WireClient) -> None:
    status = client.api("status")
    assert status.startswith("UP 0 years, 0 days")
    ready = "FreeSWITCH (Version 1.11.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit) is ready"
    assert ready in status


def test_uuid_dump(switch: FakeSwitch, client: WireClient) -> None:
    uuid = switch.originate()
    client.api(f"uuid_setvar {uuid} my_var hello world")
    plain = client.api(f"uuid_dump {uuid}")
    assert plain.startswith("Event-Name: CHANNEL_DATA\n") and plain.endswith("\n\n")
    assert f"Unique-ID: {uuid}\n" in plain and "variable_my_var: hello%20world\n" in plain
    data = json.loads(client.api(f"uuid_dump {uuid} json"))
    assert data["Event-Name"] == "CHANNEL_DATA" and data["variable_my_var"] == "hello world"
    assert data["Answer-State"] == "answered"


def test_dtmf(switch: FakeSwitch, client: WireClient) -> None:
    client.command("event plain DTMF")
    a = switch.originate()
    b = client.api(f"uuid_getvar {a} other_loopback_leg_uuid")
    assert client.api(f"uuid_send_dtmf {a} 12") == f"+OK {a} sent DTMF 12.\n"
    sent = headers_of(client)
    assert [(e["Unique-ID"], e["DTMF-Digit"], e["DTMF-Source"]) for e in sent] == [
        (b, "1", "UNKNOWN"),
        (b, "2", "UNKNOWN"),
    ]
    assert "variable_uuid" not in sent[0]
    assert client.api(f"uuid_recv_dtmf {a} 9@400") == f"+OK {a} received DTMF 9@400.\n"
    (received,) = headers_of(client)
    assert (received["Unique-ID"], received["DTMF-Source"]) == (a, "APP")
    assert received["DTMF-Duration"] == "3200"
    assert client.api(f"uuid_send_dtmf {a}") == "-USAGE: <uuid> <dtmf_data>\n"
    assert client.api("uuid_send_dtmf 00000000-0000-0000-0000-000000000000 1") == (
        "-ERR Cannot locate session!\n"
    )
    switch.send_dtmf(a, "#")
    (python_side,) = headers_of(client)
    assert python_side["DTMF-Digit"] == "%23" and python_side["DTMF-Source"] == "APP"


def test_kill_ends_both_legs(switch: FakeSwitch, client: WireClient) -> None:
    client.command(CALL_EVENTS)
    a = switch.originate()
    b = client.api(f"uuid_getvar {a} other_loopback_leg_uuid")
    client.pending()
    assert client.api(f"uuid_kill {a}") == "+OK\n"
    assert client.api(f"uuid_exists {a}") == "false"
    assert client.api(f"uuid_exists {b}") == "true"
    switch.advance(0.02)
    assert client.api(f"uuid_exists {b}") == "false"
    names = [(e["Event-Name"], e["Unique-ID"]) for e in headers_of(client)]
    assert names[0] == ("CHANNEL_HANGUP", a)
    assert names[-2:] == [("CHANNEL_DESTROY", b), ("CHANNEL_DESTROY", a)]
    assert switch.channels() == []


def test_inbound_call_rings_until_answered(switch: FakeSwitch, client: WireClient) -> None:
    client.command("event plain CHANNEL_CREATE CHANNEL_ANSWER")
    uuid = switch.inbound_call("tone_a", variables={"caller": "x"})
    (created,) = headers_of(client)
    assert created["Unique-ID"] == uuid and created["Call-Direction"] == "inbound"
    assert switch.channel(uuid).answer_state == "ringing"
    switch.answer(uuid)
    (answered,) = headers_of(client)
    assert answered["Event-Name"] == "CHANNEL_ANSWER" and answered["Unique-ID"] == uuid


def test_broadcast_is_heard_in_the_write_direction(
    switch: FakeSwitch, client: WireClient, tmp_path: Path
) -> None:
    uuid = switch.originate("loopback/silence/rectest", "&park")
    path = tmp_path / "beep.wav"
    client.api(f"uuid_record {uuid} start {path} 0 {{RECORD_STEREO=true}}")
    client.api(f"uuid_broadcast {uuid} tone_stream://%(500,0,1000) aleg")
    switch.advance(1.0)
    client.api(f"uuid_record {uuid} stop {path}")
    heard, sent = read_wav(str(path)).samples
    # the playback starts 0.16 s after the reply (broadcast_beep.txt); the file of a channel
    # that sent nothing yet starts with it
    assert len(sent) == 8000 - 1280
    assert goertzel(sent[:4000], 8000, 1000) > 9000
    assert goertzel(heard[:4000], 8000, 1000) < 100
    assert max(abs(x) for x in sent[4000:]) == 0


def test_transfer_changes_what_the_leg_plays(
    switch: FakeSwitch, client: WireClient, tmp_path: Path
) -> None:
    uuid = switch.originate()
    assert client.api(f"uuid_transfer {uuid} tone_b XML rectest") == "+OK\n"
    path = tmp_path / "t.wav"
    client.api(f"uuid_record {uuid} start {path} 0 {{RECORD_WRITE_ONLY=true}}")
    switch.advance(0.5)
    client.api(f"uuid_record {uuid} stop {path}")
    samples = read_wav(str(path)).samples[0]
    assert goertzel(samples, 8000, 880) > 9000 and goertzel(samples, 8000, 440) < 100


def test_uuid_bridge(switch: FakeSwitch, client: WireClient) -> None:
    client.command("event plain CHANNEL_BRIDGE")
    first = switch.inbound_call("silence", answered=True)
    second = switch.inbound_call("tone_b", answered=True)
    assert client.api(f"uuid_bridge {first} {second}") == f"+OK {second}\n"
    (bridge,) = headers_of(client)
    assert bridge["Unique-ID"] == first


def test_crash_forgets_everything_and_comes_back(switch: FakeSwitch, client: WireClient) -> None:
    uuid = switch.originate()
    core_before = switch.core.core_uuid
    switch.crash()
    assert client.wait_closed()
    assert switch.channels() == [] and switch.core.core_uuid != core_before
    again = WireClient(switch.address).login()
    assert again.api(f"uuid_exists {uuid}") == "false"
    again.close()


def test_realtime_clock_produces_media(tmp_path: Path) -> None:
    with FakeSwitch(recordings_root=str(tmp_path)) as sim:
        client = WireClient(sim.address, flush=sim.flush).login()
        client.command("event plain RECORD_STOP")
        uuid = sim.originate("loopback/silence/rectest", "&park")
        path = tmp_path / "rt.wav"
        client.api(f"uuid_record {uuid} start {path} 0 {{RECORD_INITIAL_TIMEOUT_MS=1000}}")
        stop = dict(event_headers(client.read(timeout=5.0)))
        assert stop["Record-Completion-Cause"] == "no-input-timeout"
        assert read_wav(str(path)).frames >= 3200  # FreeSWITCH: 0.52 s (recordings_facts)
        client.close()


def test_module_entry_point_serves_until_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "esl_recorder.testing.fakeswitch",
            "--port",
            "0",
            "--password",
            "pw",
            "--recordings-root",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("fakeswitch listening on 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        client = WireClient(("127.0.0.1", port)).login("pw")
        assert client.api("version").startswith("FreeSWITCH Version")
        client.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_echo_sends_back_what_it_hears(
    switch: FakeSwitch, client: WireClient, tmp_path: Path
) -> None:
    uuid = switch.originate("loopback/echo/rectest", "tone_a")
    path = tmp_path / "echo.wav"
    client.api(f"uuid_record {uuid} start {path} 0 {{RECORD_READ_ONLY=true}}")
    switch.advance(0.5)
    client.api(f"uuid_record {uuid} stop {path}")
    heard = read_wav(str(path)).samples[0]
    assert goertzel(heard, 8000, 440) > 9000 and goertzel(heard, 8000, 880) < 100


def test_api_errors_in_the_simulator_do_not_drop_the_connection(
    switch: FakeSwitch, client: WireClient, monkeypatch: object
) -> None:
    from esl_recorder.testing.fakeswitch import commands

    def broken(api: object, args: str) -> str:
        raise RuntimeError("boom")

    monkeypatch.setitem(commands.HANDLERS, "version", broken)  # type: ignore[attr-defined]
    assert client.api("version") == "-ERR version failed in the simulator\n"
    assert client.api("uuid_exists x") == "false"


def test_module_entry_point_outbound_address_and_heartbeats(tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    host, port = listener.getsockname()
    proc = subprocess.Popen(
        [sys.executable, "-m", "esl_recorder.testing.fakeswitch", "--recordings-root",
         str(tmp_path), "--outbound", f"{host}:{port}", "--heartbeat-interval", "0.2"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        sim_port = int(proc.stdout.readline().rsplit(":", 1)[1])
        client = WireClient(("127.0.0.1", sim_port)).login()
        client.command("event plain HEARTBEAT")
        assert event_headers(client.read(timeout=5.0))[0] == ("Event-Name", "HEARTBEAT")
        client.api("originate loopback/outbound_esl/rectest tone_a XML rectest")
        accepted, _ = listener.accept()  # the `socket` application connected out
        outbound = WireClient.accepted(accepted)
        assert outbound.command("connect").header("Socket-Mode") == "async"
        outbound.close()
        client.close()
    finally:
        listener.close()
        proc.terminate()
        assert proc.wait(timeout=10) == 0
