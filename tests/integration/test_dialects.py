"""What users do, end to end against the live FreeSWITCH: each REST dialect's main flow, and
every recording option the dialects reach (stereo, tracks, mp3, beep, trim, both pause
behaviours, the length limit). The daemon is a process started with its CLI; calls are placed
over our own ESL connection; recordings are checked as files (served by the API).

Tones: the A leg of `originate loopback/tone_b/rectest tone_a XML rectest` sends 440 Hz and
hears 880 Hz: in a two-channel recording channel 0 (the party) holds 880 Hz, channel 1 (what it
hears) 440 Hz; the inbound track is 880 Hz, the outbound one 440 Hz.
"""

from __future__ import annotations

import json
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from api.receiver import Receiver
from daemon.tones import analyse, goertzel
from differential.compare import mp3_facts
from store_backends import Backends

from .conftest import FreeSwitchAddress
from .live import (
    BW,
    BW_AUTH,
    LAML,
    LAML_AUTH,
    TEXML,
    TEXML_AUTH,
    DaemonProcess,
    Esl,
    eventually,
    running_its_extension,
)


@pytest.fixture(scope="module")
def daemon(freeswitch: FreeSwitchAddress, tmp_path_factory: pytest.TempPathFactory,
           backends: Backends) -> Iterator[DaemonProcess]:
    workdir = tmp_path_factory.mktemp("dialects")
    d = DaemonProcess(freeswitch, workdir, backends.sections(workdir)).start()
    yield d
    d.stop()


def media_file(daemon: DaemonProcess, url: str, headers: dict[str, str], path: Path) -> Path:
    r = daemon.request("GET", url, headers=headers)
    assert r.status_code == 200, (url, r.status_code, r.text[:200])
    path.write_bytes(r.content)
    return path


def wait_status(daemon: DaemonProcess, url: str, headers: dict[str, str],
                *states: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        doc: dict[str, Any] = daemon.json("GET", url, headers=headers)
        return doc if doc["status"] in states else None
    return eventually(done, 15, f"{url} to be {states}")


# --- LaML ------------------------------------------------------------------------------------

def test_laml_create_pause_skip_resume_stop_list_fetch_media_delete(
        daemon: DaemonProcess, esl: Esl, receiver: Receiver, tmp_path: Path) -> None:
    uuid = esl.call()
    doc = daemon.create_when_tracked(f"{LAML}/Calls/{uuid}/Recordings.json", LAML_AUTH,
                                     RecordingChannels="dual",
                                     RecordingStatusCallback=receiver.url("/laml"))
    sid, item = doc["sid"], f"{LAML}/Calls/{uuid}/Recordings/{doc['sid']}.json"
    assert (doc["status"], doc["channels"]) == ("in-progress", "2")
    gevent.sleep(1.0)  # audio
    update = {"Status": "paused", "PauseBehavior": "skip"}
    assert daemon.json("POST", item, headers=LAML_AUTH, data=update)["status"] == "paused"
    gevent.sleep(1.0)  # left out of the file
    resumed = daemon.json("POST", item, headers=LAML_AUTH, data={"Status": "in-progress"})
    assert resumed["status"] == "in-progress"
    gevent.sleep(1.0)
    daemon.json("POST", item, headers=LAML_AUTH, data={"Status": "stopped"})
    done = wait_status(daemon, f"{LAML}/Recordings/{sid}.json", LAML_AUTH, "completed")
    assert done["duration"] == 2 and done["channels"] == "2"

    (callback,) = receiver.wait(1, timeout=10)
    assert callback.form["RecordingStatus"] == "completed"
    assert callback.form["RecordingSid"] == sid and callback.form["CallSid"] == uuid
    listed = daemon.json("GET", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH)
    assert [r["sid"] for r in listed["recordings"]] == [sid]
    everything = daemon.json("GET", f"{LAML}/Recordings.json", headers=LAML_AUTH)
    assert sid in [r["sid"] for r in everything["recordings"]]

    info = analyse(str(media_file(daemon, f"{LAML}/Recordings/{sid}.wav", LAML_AUTH,
                                  tmp_path / "laml.wav")))
    assert (info.channels, info.rate, info.tones) == (2, 8000, [{880}, {440}])
    assert abs(info.duration - 2.0) <= 0.15  # the paused second is skipped

    r = daemon.request("DELETE", f"{LAML}/Recordings/{sid}.json", headers=LAML_AUTH)
    assert r.status_code == 204
    assert daemon.request("GET", f"{LAML}/Recordings/{sid}.json",
                          headers=LAML_AUTH).status_code == 404
    assert daemon.request("GET", f"{LAML}/Recordings/{sid}.wav",
                          headers=LAML_AUTH).status_code == 404
    esl.hangup(uuid)


@pytest.mark.parametrize("track,tones", [("inbound", [{880}]), ("outbound", [{440}]),
                                         ("both", [{440, 880}])])
def test_laml_tracks_of_a_mono_recording(daemon: DaemonProcess, esl: Esl, track: str,
                                         tones: list[set[int]], tmp_path: Path) -> None:
    uuid = esl.call()
    sid = daemon.create_when_tracked(f"{LAML}/Calls/{uuid}/Recordings.json", LAML_AUTH,
                                     RecordingTrack=track)["sid"]
    gevent.sleep(1.5)  # audio
    esl.hangup(uuid)  # a hangup ends the recording too
    done = wait_status(daemon, f"{LAML}/Recordings/{sid}.json", LAML_AUTH, "completed")
    assert done["channels"] == "1"
    info = analyse(str(media_file(daemon, f"{LAML}/Recordings/{sid}.wav", LAML_AUTH,
                                  tmp_path / "track.wav")))
    assert (info.channels, info.tones) == (1, tones)
    assert 1.1 <= info.duration <= 1.7  # 1.5 s; outbound (write-only) files start ~0.2 s late


def test_laml_trim_cuts_leading_and_trailing_silence(daemon: DaemonProcess, esl: Esl,
                                                     tmp_path: Path) -> None:
    uuid = esl.call(ext="silence", leg="silence")  # nobody says anything
    sid = daemon.create_when_tracked(f"{LAML}/Calls/{uuid}/Recordings.json", LAML_AUTH,
                                     Trim="trim-silence")["sid"]
    gevent.sleep(1.0)  # silence
    assert esl.api(f"uuid_broadcast {uuid} tone_stream://%(1000,0,440) aleg").startswith("+OK")
    gevent.sleep(2.0)  # one second of tone, then silence again
    item = f"{LAML}/Calls/{uuid}/Recordings/{sid}.json"
    daemon.json("POST", item, headers=LAML_AUTH, data={"Status": "stopped"})
    done = wait_status(daemon, f"{LAML}/Recordings/{sid}.json", LAML_AUTH, "completed")
    info = analyse(str(media_file(daemon, f"{LAML}/Recordings/{sid}.wav", LAML_AUTH,
                                  tmp_path / "trim.wav")))
    # the tone's second plus the 100 ms of margin the trim keeps on each side
    assert info.tones == [{440}] and abs(info.duration - 1.2) <= 0.1, info.duration
    assert info.rms_windows[0] < 100 < 1000 < info.rms_windows[2]
    assert done["duration"] == 1
    esl.hangup(uuid)


# --- TeXML -----------------------------------------------------------------------------------

def test_texml_beep_pause_silence_resume_stop_list_fetch_media_delete(
        daemon: DaemonProcess, esl: Esl, tmp_path: Path) -> None:
    uuid = esl.call()
    doc = daemon.create_when_tracked(f"{TEXML}/Calls/{uuid}/Recordings.json", TEXML_AUTH)
    sid = doc["sid"]
    assert (doc["channels"], doc["track"]) == (2, "both")
    item = f"{TEXML}/Calls/{uuid}/Recordings/{sid}.json"
    gevent.sleep(1.0)
    assert daemon.json("POST", item, headers=TEXML_AUTH,
                       data={"Status": "paused"})["status"] == "paused"
    gevent.sleep(1.0)  # silence in the file, the timeline kept
    assert daemon.json("POST", item, headers=TEXML_AUTH,
                       data={"Status": "in-progress"})["status"] == "in-progress"
    gevent.sleep(1.0)
    daemon.json("POST", item, headers=TEXML_AUTH, data={"Status": "stopped"})
    done = wait_status(daemon, f"{TEXML}/Recordings/{sid}.json", TEXML_AUTH, "completed")
    assert done["duration"] == "3" and done["media_url"].endswith(f"/Recordings/{sid}.wav")

    listed = daemon.json("GET", f"{TEXML}/Calls/{uuid}/Recordings.json", headers=TEXML_AUTH)
    assert [r["sid"] for r in listed["recordings"]] == [sid]
    path = media_file(daemon, done["media_url"], TEXML_AUTH, tmp_path / "texml.wav")
    info = analyse(str(path))
    assert info.channels == 2 and abs(info.duration - 3.0) <= 0.15
    with wave.open(str(path)) as w:
        samples = memoryview(w.readframes(w.getnframes())).cast("h").tolist()
    rate, party, heard = info.rate, samples[0::2], samples[1::2]
    beep_heard = goertzel(heard[:rate // 5], rate, 1000)  # the beep, in the first 200 ms,
    beep_party = goertzel(party[:rate // 5], rate, 1000)  # played to the party's side only
    assert beep_heard > 1000 and beep_party < beep_heard / 10, (beep_heard, beep_party)
    for channel, tone in ((party, 880), (heard, 440)):
        masked = channel[int(1.3 * rate):int(1.7 * rate)]
        assert max(abs(x) for x in masked) < 50  # the paused second is silence
        assert goertzel(channel[int(2.3 * rate):int(2.8 * rate)], rate, tone) > 1000

    r = daemon.request("DELETE", f"{TEXML}/Recordings/{sid}.json", headers=TEXML_AUTH)
    assert r.status_code == 204
    listed = daemon.json("GET", f"{TEXML}/Calls/{uuid}/Recordings.json", headers=TEXML_AUTH)
    assert listed["recordings"] == []
    esl.hangup(uuid)


# --- Bandwidth -------------------------------------------------------------------------------

def bw_create(daemon: DaemonProcess, receiver: Receiver, **body: Any) -> str:
    doc = {"from": "+15551230001", "to": "tone_b", "callbackUrl": receiver.url("/bw"), **body}
    r = daemon.request("POST", f"{BW}/calls", json=doc, headers=BW_AUTH)
    assert r.status_code == 201, r.text
    return str(r.headers["Location"].rsplit("/", 1)[1])


def bw_recordings(daemon: DaemonProcess, call_id: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = daemon.json("GET", f"{BW}/calls/{call_id}/recordings",
                                             headers=BW_AUTH)
    return docs


def test_bandwidth_call_with_mp3_recording_toggle_list_fetch_media_delete(
        daemon: DaemonProcess, esl: Esl, receiver: Receiver, tmp_path: Path) -> None:
    call_id = bw_create(daemon, receiver, recordingEnabled=True, recordingFileFormat="mp3")
    eventually(lambda: bw_recordings(daemon, call_id), 10, "the first recording")
    gevent.sleep(1.0)
    r = daemon.request("POST", f"{BW}/calls/{call_id}", json={"recordingEnabled": False},
                       headers=BW_AUTH)
    assert r.status_code == 200, r.text
    eventually(lambda: bw_recordings(daemon, call_id)[0]["state"] == "complete", 15,
               "the first recording to complete")
    r = daemon.request("POST", f"{BW}/calls/{call_id}", json={"recordingEnabled": True},
                       headers=BW_AUTH)
    assert r.status_code == 200, r.text
    eventually(lambda: len(bw_recordings(daemon, call_id)) == 2, 10, "the second recording")
    gevent.sleep(1.0)
    esl.hangup(call_id)
    recs = eventually(lambda: (rs := bw_recordings(daemon, call_id))
                      and all(x["state"] == "complete" for x in rs) and rs, 15,
                      "both recordings to complete")
    assert len(recs) == 2
    call = daemon.json("GET", f"{BW}/calls/{call_id}", headers=BW_AUTH)
    assert (call["state"], call["recordingFileFormat"]) == ("completed", "mp3")
    for n, rec in enumerate(recs):
        assert daemon.json("GET", f"{BW}/recordings/{rec['id']}", headers=BW_AUTH) == rec
        assert rec["media"].endswith(".mp3")
        facts = mp3_facts(media_file(daemon, rec["media"], BW_AUTH,
                                     tmp_path / f"bw{n}.mp3").read_bytes())
        assert (facts["rate"], facts["channels"]) == (8000, 1)
        assert 0.9 <= float(str(facts["duration"])) <= 1.7  # about 1 s, plus encoder padding
    events = [e["name"] for e in daemon.json("GET", f"{BW}/calls/{call_id}/events",
                                             headers=BW_AUTH)]
    assert events[:2] == ["create", "answer"] and "hangup" in events

    gone, kept = recs  # deleting the media deletes the recording
    r = daemon.request("DELETE", gone["media"], headers=BW_AUTH)
    assert r.status_code == 200, r.text
    assert daemon.request("GET", gone["media"], headers=BW_AUTH).status_code == 404
    assert daemon.request("GET", f"{BW}/recordings/{gone['id']}",
                          headers=BW_AUTH).status_code == 404
    assert [x["id"] for x in bw_recordings(daemon, call_id)] == [kept["id"]]


def test_bandwidth_recording_max_duration_stops_the_recording(
        daemon: DaemonProcess, esl: Esl, receiver: Receiver, tmp_path: Path) -> None:
    call_id = bw_create(daemon, receiver, recordingEnabled=True, recordingMaxDuration=2)
    (rec,) = eventually(lambda: (rs := bw_recordings(daemon, call_id))
                        and rs[0]["state"] == "complete" and rs, 15,
                        "the limit to end the recording")
    assert esl.exists(call_id)  # the limit ended the recording, not the call
    info = analyse(str(media_file(daemon, rec["media"], BW_AUTH, tmp_path / "limit.wav")))
    # FreeSWITCH counts the limit in whole wall-clock seconds: it ends between 1 and 2 s in
    assert info.channels == 1 and 1.0 <= info.duration <= 2.1, info.duration
    esl.hangup(call_id)


def bw_events(daemon: DaemonProcess, call_id: str) -> list[str]:
    return [e["name"] for e in daemon.json("GET", f"{BW}/calls/{call_id}/events",
                                           headers=BW_AUTH)]


def callback(receiver: Receiver, event_type: str) -> dict[str, Any]:
    """The first callback of that type the receiver got (waiting for it)."""
    def found() -> dict[str, Any] | None:
        docs = [json.loads(r.body) for r in receiver.received]
        return next((d for d in docs if d["eventType"] == event_type), None)
    return eventually(found, 15, f"a {event_type} callback")


def test_bandwidth_state_completed_hangs_the_call_up(
        daemon: DaemonProcess, esl: Esl, receiver: Receiver) -> None:
    call_id = bw_create(daemon, receiver, recordingEnabled=True)
    eventually(lambda: bw_recordings(daemon, call_id), 10, "the recording")
    # Listed as soon as it is queued, before the answer: hung up then, it would never start
    eventually(lambda: "<function>session_record</function>" in
               esl.api(f"uuid_buglist {call_id}"), 10, "FreeSWITCH to record the call")
    r = daemon.request("POST", f"{BW}/calls/{call_id}", json={"state": "completed"},
                       headers=BW_AUTH)
    assert r.status_code == 200, r.text
    eventually(lambda: not esl.exists(call_id), 10, "FreeSWITCH to hang the call up")
    eventually(lambda: daemon.json("GET", f"{BW}/calls/{call_id}",
                                   headers=BW_AUTH)["state"] == "completed", 10,
               "the call to show completed")
    assert callback(receiver, "hangup")["cause"] == "NORMAL_CLEARING"
    assert eventually(lambda: bw_recordings(daemon, call_id)[0]["state"] == "complete", 15,
                      "the recording to complete")
    # FreeSWITCH's own times, in the order the call went (the API's clock never shows)
    call = daemon.json("GET", f"{BW}/calls/{call_id}", headers=BW_AUTH)
    assert call["startTime"] <= call["activeTime"] <= call["endTime"], call
    events = daemon.json("GET", f"{BW}/calls/{call_id}/events", headers=BW_AUTH)
    assert [e["name"] for e in events] == ["create", "answer", "hangup"]
    assert [e["time"] for e in events] == [call["startTime"], call["activeTime"],
                                           call["endTime"]]


def test_bandwidth_state_transferring_moves_the_call_in_the_dialplan(
        daemon: DaemonProcess, esl: Esl, receiver: Receiver) -> None:
    call_id = bw_create(daemon, receiver)
    eventually(lambda: daemon.json("GET", f"{BW}/calls/{call_id}",
                                   headers=BW_AUTH)["state"] == "active", 10, "the answer")
    r = daemon.request("POST", f"{BW}/calls/{call_id}",
                       json={"state": "transferring", "transferTo": "tone_a",
                             "transferCallerId": "+15559990000"}, headers=BW_AUTH)
    assert r.status_code == 200, r.text
    eventually(lambda: running_its_extension(esl.api, call_id, "tone_a"), 10,
               "the call to run tone_a's playback after the transfer")
    assert esl.exists(call_id)
    assert esl.api(f"uuid_getvar {call_id} effective_caller_id_number").strip() == (
        "+15559990000")
    assert callback(receiver, "transfer")["transferTo"] == "tone_a"
    assert bw_events(daemon, call_id)[-1] == "transfer"
    esl.hangup(call_id)
