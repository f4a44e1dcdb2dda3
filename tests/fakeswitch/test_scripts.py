"""Call scripts on the simulator: a parked call driven by `sendmsg` execute, and its audio."""

from __future__ import annotations

import uuid as uuid_module
from pathlib import Path

import gevent

from esl_recorder.esl.codec import fs_url_decode
from esl_recorder.testing.fakeswitch import FakeSwitch

from .wireclient import WireClient, event_headers, goertzel, read_wav, rms

SCRIPT_EVENTS = (
    "event plain CHANNEL_PARK CHANNEL_UNPARK CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE "
    "PLAYBACK_START PLAYBACK_STOP RECORD_START RECORD_STOP DTMF CHANNEL_ANSWER CHANNEL_HANGUP "
    "CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB"
)


def execute(client: WireClient, uuid: str, app: str, arg: str = "", lock: bool = True) -> str:
    """Send one sendmsg execute; return its Event-UUID (the reply must be +OK)."""
    event_uuid = str(uuid_module.uuid4())
    lines = [f"sendmsg {uuid}", "call-command: execute", f"execute-app-name: {app}"]
    if arg:
        lines.append(f"execute-app-arg: {arg}")
    if lock:
        lines.append("event-lock: true")
    lines.append(f"Event-UUID: {event_uuid}")
    reply = client.command("\n".join(lines))
    assert reply.header("Reply-Text") == "+OK", reply.raw
    return event_uuid


def events(client: WireClient) -> list[dict[str, str]]:
    return [
        {k: fs_url_decode(v) for k, v in event_headers(m)}
        for m in client.pending()
        if m.content_type == "text/event-plain"
    ]


def trace(evs: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    return [(e["Event-Name"], e.get("Channel-Name", ""), e.get("Application", "")) for e in evs]


def completed(evs: list[dict[str, str]], event_uuid: str) -> dict[str, str]:
    done = [e for e in evs if e["Event-Name"] == "CHANNEL_EXECUTE_COMPLETE"
            and e.get("Application-UUID") == event_uuid]
    assert len(done) == 1, trace(evs)
    return done[0]


def parked_call(switch: FakeSwitch, client: WireClient, caller: str = "tone_a") -> str:
    client.command(SCRIPT_EVENTS)
    client.command(f"bgapi originate {{tag=t1}}loopback/script_park/rectest {caller}")
    switch.advance(0.02)
    evs = events(client)
    park = [e for e in evs if e["Event-Name"] == "CHANNEL_PARK"]
    assert len(park) == 1 and park[0]["variable_esl_recorder_script"] == "demo"
    assert park[0]["Answer-State"] == "ringing" and park[0]["variable_tag"] == "t1"
    assert "BACKGROUND_JOB" not in [e["Event-Name"] for e in evs]  # waits for the answer
    return park[0]["Unique-ID"]


def test_parked_call_is_answered_by_the_script(switch: FakeSwitch, client: WireClient) -> None:
    b = parked_call(switch, client)
    answer = execute(client, b, "answer")
    switch.advance(0.04)
    evs = events(client)
    assert trace(evs) == [
        ("CHANNEL_EXECUTE", "loopback/script_park-b", "answer"),
        ("CHANNEL_ANSWER", "loopback/script_park-a", ""),
        ("CHANNEL_ANSWER", "loopback/script_park-b", ""),
        ("CHANNEL_EXECUTE_COMPLETE", "loopback/script_park-b", "answer"),
        ("BACKGROUND_JOB", "", ""),
        ("CHANNEL_EXECUTE", "loopback/script_park-a", "answer"),
        ("CHANNEL_EXECUTE_COMPLETE", "loopback/script_park-a", "answer"),
        ("CHANNEL_EXECUTE", "loopback/script_park-a", "playback"),
        ("PLAYBACK_START", "loopback/script_park-a", ""),
    ]
    done = completed(evs, answer)
    assert done["Application-Response"] == "_none_"
    assert done["variable_current_loop"] == "1" and done["variable_total_loops"] == "1"
    assert list(done)[-3:] == ["Application", "Application-Response", "Application-UUID"]


def test_playback_sleep_and_record_session(
    switch: FakeSwitch, client: WireClient, tmp_path: Path
) -> None:
    b = parked_call(switch, client)
    execute(client, b, "answer")
    switch.advance(0.1)
    path = str(tmp_path / "script.wav")
    execute(client, b, "record_session", path)
    switch.advance(0.02)
    play = execute(client, b, "playback", "tone_stream://%(1000,0,660)")
    switch.advance(1.02)
    nap = execute(client, b, "sleep", "1000")
    switch.advance(1.02)
    execute(client, b, "stop_record_session", path)
    switch.advance(0.02)
    evs = events(client)
    assert completed(evs, play)["Application-Response"] == "FILE PLAYED"
    stop = next(e for e in evs if e["Event-Name"] == "PLAYBACK_STOP")
    assert stop["Playback-Status"] == "done" and stop["variable_playback_ms"] == "1000"
    assert completed(evs, nap)["Application-Response"] == "_none_"
    assert [e["Record-File-Path"] for e in evs if e["Event-Name"] == "RECORD_STOP"] == [path]
    wav = read_wav(path)
    first, last = wav.samples[0][800:7200], wav.samples[0][-7200:-800]
    assert goertzel(first, 8000, 660) > 3000 and goertzel(last, 8000, 660) < 300
    assert goertzel(first, 8000, 440) > 3000 and goertzel(last, 8000, 440) > 3000
    assert 2.0 <= wav.duration <= 2.1


def test_missing_file_and_unknown_uuid(switch: FakeSwitch, client: WireClient) -> None:
    b = parked_call(switch, client)
    missing = execute(client, b, "playback", "/no/such/file.wav")
    switch.advance(0.02)
    evs = events(client)
    assert completed(evs, missing)["Application-Response"] == "FILE NOT FOUND"
    assert "PLAYBACK_START" not in [e["Event-Name"] for e in evs]
    nobody = "00000000-0000-0000-0000-000000000000"
    reply = client.command(f"sendmsg {nobody}\ncall-command: execute\nexecute-app-name: answer")
    assert reply.header("Reply-Text") == f"-ERR invalid session id [{nobody}]"
    assert client.command("sendmsg\ncall-command: execute\nexecute-app-name: answer").header(
        "Reply-Text") == "-ERR invalid session id []"


def test_without_event_lock_the_second_playback_runs_inside_the_first(
    switch: FakeSwitch, client: WireClient
) -> None:
    b = parked_call(switch, client)
    execute(client, b, "answer")
    switch.advance(0.1)
    events(client)
    first = execute(client, b, "playback", "tone_stream://%(1000,0,660)", lock=False)
    second = execute(client, b, "playback", "tone_stream://%(1000,0,770)", lock=False)
    switch.advance(1.02)
    evs = events(client)
    assert [(e["Event-Name"], e.get("Application-UUID", "")) for e in evs] == [
        ("CHANNEL_EXECUTE", first), ("PLAYBACK_START", ""),
        ("CHANNEL_EXECUTE", second), ("PLAYBACK_START", ""),
        ("PLAYBACK_STOP", ""), ("CHANNEL_EXECUTE_COMPLETE", second),
    ]
    switch.advance(1.0)
    assert [e["Event-Name"] for e in events(client)] == [
        "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE"
    ]


def test_event_lock_runs_them_one_after_the_other(switch: FakeSwitch, client: WireClient) -> None:
    b = parked_call(switch, client)
    execute(client, b, "answer")
    switch.advance(0.1)
    events(client)
    first = execute(client, b, "playback", "tone_stream://%(1000,0,660)")
    second = execute(client, b, "playback", "tone_stream://%(1000,0,770)")
    switch.advance(1.02)
    evs = events(client)
    assert [e.get("Application-UUID", "") for e in evs if "Application" in e] == [
        first, first, second
    ]


def test_hangup_completes_the_park_with_the_last_response(
    switch: FakeSwitch, client: WireClient
) -> None:
    b = parked_call(switch, client)
    execute(client, b, "answer")
    switch.advance(0.1)
    execute(client, b, "playback", "silence_stream://100")
    switch.advance(0.2)
    events(client)
    execute(client, b, "no_such_app", "x")
    switch.advance(0.06)
    evs = events(client)
    assert trace(evs)[:3] == [
        ("CHANNEL_HANGUP", "loopback/script_park-b", ""),
        ("CHANNEL_UNPARK", "loopback/script_park-b", ""),
        ("CHANNEL_EXECUTE_COMPLETE", "loopback/script_park-b", "park"),
    ]
    assert evs[0]["Hangup-Cause"] == "DESTINATION_OUT_OF_ORDER"
    assert evs[2]["Application-Response"] == "FILE PLAYED"
    a_playback = [e for e in evs if e.get("Application") == "playback"]
    assert a_playback[-1]["Application-Response"] == "PLAYBACK ERROR"
    assert switch.channels() == []


def test_playback_terminators(switch: FakeSwitch, client: WireClient) -> None:
    b = parked_call(switch, client)
    execute(client, b, "answer")
    execute(client, b, "set", "playback_terminators=#")
    switch.advance(0.1)
    a = client.api(f"uuid_getvar {b} other_loopback_leg_uuid")
    play = execute(client, b, "playback", "tone_stream://%(10000,0,660)")
    switch.advance(1.0)
    events(client)
    assert client.api(f"uuid_send_dtmf {a} 5") == f"+OK {a} sent DTMF 5.\n"
    assert [e["Event-Name"] for e in events(client)] == ["DTMF"]
    client.api(f"uuid_send_dtmf {a} #")
    evs = events(client)
    assert [e["Event-Name"] for e in evs] == ["DTMF", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE"]
    assert evs[1]["Playback-Status"] == "break"
    assert evs[1]["variable_playback_terminator_used"] == "#"
    assert completed(evs, play)["Application-Response"] == "FILE PLAYED"


def test_speak(switch: FakeSwitch, client: WireClient, tmp_path: Path) -> None:
    b = parked_call(switch, client, caller="&park")
    execute(client, b, "answer")
    path = str(tmp_path / "tts.wav")
    execute(client, b, "record_session", path)
    switch.advance(0.1)
    kal = execute(client, b, "speak", "flite|kal|Hello world")
    switch.advance(1.0)
    assert not [e for e in events(client) if e.get("Application-UUID") == kal
                and e["Event-Name"] == "CHANNEL_EXECUTE_COMPLETE"]
    switch.advance(0.2)
    assert completed(events(client), kal)["Application-Response"] == "_none_"
    nobody = execute(client, b, "speak", "flite|no_such_voice|Hello")
    switch.advance(0.02)
    completed(events(client), nobody)
    execute(client, b, "stop_record_session", path)
    switch.advance(0.02)
    wav = read_wav(path)
    windows = [rms(wav.samples[0][i:i + 800]) for i in range(0, wav.frames - 799, 800)]
    speech = [i for i, level in enumerate(windows) if level > 500]
    assert 5 <= len(speech) <= 9, windows  # about 0.75 s of voice (script_tts), no more
    execute(client, b, "speak", "Hello")  # no tts_engine / tts_voice: hung up
    switch.advance(0.02)
    hangup = [e for e in events(client) if e["Event-Name"] == "CHANNEL_HANGUP"]
    assert hangup[0]["Hangup-Cause"] == "DESTINATION_OUT_OF_ORDER"


def test_script_call_from_the_test(switch: FakeSwitch, client: WireClient) -> None:
    b = switch.park_for_script(variables={"swml": "x"})
    assert switch.channel(b).parked and not switch.channel(b).answered
    assert client.api(f"uuid_getvar {b} esl_recorder_script") == "demo"
    execute(client, b, "answer")
    switch.advance(0.04)
    assert switch.channel(b).answered
    execute(client, b, "hangup", "NORMAL_CLEARING")
    switch.advance(0.04)
    assert switch.channels() == []


def test_the_originate_fails_when_the_script_hangs_up_unanswered(
    switch: FakeSwitch, client: WireClient
) -> None:
    b = parked_call(switch, client)
    assert client.api(f"uuid_kill {b} USER_BUSY") == "+OK\n"
    switch.advance(0.04)
    jobs = [e for e in client.pending() if event_headers(e)[0][1] == "BACKGROUND_JOB"]
    assert [m.body.partition(b"\n\n")[2] for m in jobs] == [b"-ERR USER_BUSY\n"]
    assert switch.channels() == []


def test_stereo_record_session_keeps_each_direction_apart(
    switch: FakeSwitch, client: WireClient, tmp_path: Path
) -> None:
    b = parked_call(switch, client)
    execute(client, b, "answer")
    path = str(tmp_path / "stereo.wav")
    execute(client, b, "record_session", f"{path} +30 {{RECORD_STEREO=true}}")
    execute(client, b, "playback", "tone_stream://%(1000,0,660)")
    switch.advance(1.1)
    execute(client, b, "stop_record_session", path)
    switch.advance(0.02)
    heard, sent = read_wav(path).samples  # ch0: what B hears (A's 440), ch1: what it plays
    assert goertzel(heard[800:7200], 8000, 440) > 9000 > goertzel(heard[800:7200], 8000, 660)
    assert goertzel(sent[800:7200], 8000, 660) > 9000 > goertzel(sent[800:7200], 8000, 440)


def test_api_originate_returns_once_the_script_answers(tmp_path: Path) -> None:
    with FakeSwitch(recordings_root=str(tmp_path)) as sim:  # real time: the call runs alone
        script = WireClient(sim.address, flush=sim.flush).login()
        script.command("event plain CHANNEL_PARK")
        caller = WireClient(sim.address, flush=sim.flush).login()
        waiting = gevent.spawn(caller.api, "originate loopback/script_park/rectest tone_a")
        park = dict(event_headers(script.read(timeout=5.0)))
        assert not waiting.ready()
        execute(script, park["Unique-ID"], "answer")
        reply = waiting.get(timeout=5.0)
        assert reply == f"+OK {park['variable_other_loopback_leg_uuid']}\n"
        script.close()
        caller.close()


def test_a_stereo_16khz_recording_plays_back(
    switch: FakeSwitch, client: WireClient, tmp_path: Path
) -> None:
    """SWML's record-and-play-back plays the file just recorded: any wav FreeSWITCH wrote."""
    b = parked_call(switch, client)
    execute(client, b, "answer")
    first = str(tmp_path / "first.wav")
    execute(client, b, "record_session", f"{first} {{RECORD_STEREO=true,record_sample_rate=16000}}")
    execute(client, b, "playback", "tone_stream://%(1000,0,660)")
    switch.advance(1.1)
    execute(client, b, "stop_record_session", first)
    switch.advance(0.1)
    assert (read_wav(first).channels, read_wav(first).rate) == (2, 16000)
    events(client)
    play = execute(client, b, "playback", first)
    switch.advance(1.2)
    evs = events(client)
    assert completed(evs, play)["Application-Response"] == "FILE PLAYED"
    stop = next(e for e in evs if e["Event-Name"] == "PLAYBACK_STOP")
    assert abs(int(stop["variable_playback_ms"]) - round(read_wav(first).duration * 1000)) <= 20
