"""SignalWire's Calling API against the live FreeSWITCH: two recordings on one call, told apart
by control_id, recorded, paused (skip and silence), resumed and stopped through
`POST /api/calling/calls`; their `calling.call.record` events reach a local receiver and the
finished files hold what was asked (channels, which tone, duration).

Tones (see test_dialects.py): the A leg sends 440 Hz and hears 880 Hz, so its inbound (speak)
track is 880 Hz and a stereo file holds 880 Hz left, 440 Hz right.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from api.receiver import Receiver
from daemon.tones import analyse
from store_backends import Backends

from .conftest import FreeSwitchAddress
from .live import LAML, LAML_AUTH, DaemonProcess, Esl, eventually

CALLS = "/api/calling/calls"


@pytest.fixture(scope="module")
def daemon(freeswitch: FreeSwitchAddress, tmp_path_factory: pytest.TempPathFactory,
           backends: Backends) -> Iterator[DaemonProcess]:
    workdir = tmp_path_factory.mktemp("calling")
    d = DaemonProcess(freeswitch, workdir, backends.sections(workdir)).start()
    yield d
    d.stop()


def command(daemon: DaemonProcess, name: str, call_id: str, **params: Any) -> dict[str, Any]:
    doc: dict[str, Any] = daemon.json("POST", CALLS, headers=LAML_AUTH,
                                      json={"command": name, "id": call_id, "params": params})
    return doc


def record_when_tracked(daemon: DaemonProcess, call_id: str, **params: Any) -> dict[str, Any]:
    """calling.record once the daemon knows the call (404 until its events arrive)."""
    def attempt() -> dict[str, Any] | None:
        r = daemon.request("POST", CALLS, headers=LAML_AUTH, json={
            "command": "calling.record", "id": call_id, "params": params})
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        doc: dict[str, Any] = r.json()
        return doc
    return eventually(attempt, 10, f"the daemon to track call {call_id}")


def test_two_recordings_recorded_paused_resumed_and_stopped_through_the_calling_api(
        daemon: DaemonProcess, esl: Esl, receiver: Receiver, tmp_path: Path) -> None:
    uuid = esl.call()
    record_when_tracked(daemon, uuid, control_id="both-sides", audio={"stereo": True},
                        status_url=receiver.url("/both"))
    began = time.monotonic()  # the commands' own time lengthens the files (the store's)
    command(daemon, "calling.record", uuid, control_id="speaker",
            audio={"direction": "speak"}, status_url=receiver.url("/speaker"))
    gevent.sleep(1.0)  # audio
    command(daemon, "calling.record.pause", uuid, control_id="both-sides", behavior="skip")
    command(daemon, "calling.record.pause", uuid, control_id="speaker")  # silence
    gevent.sleep(1.0)  # left out of one file, silence in the other
    command(daemon, "calling.record.resume", uuid, control_id="both-sides")
    command(daemon, "calling.record.resume", uuid, control_id="speaker")
    gevent.sleep(1.0)
    command(daemon, "calling.record.stop", uuid, control_id="both-sides")
    command(daemon, "calling.record.stop", uuid, control_id="speaker")
    extra = time.monotonic() - began - 3.0  # beyond the 3 s of sleeps

    received = receiver.wait(8, timeout=20)
    finished = {}
    for path in ("/both", "/speaker"):
        docs = [json.loads(g.body) for g in received if g.path == path]
        assert [d["params"]["state"] for d in docs] == ["recording", "paused", "recording",
                                                        "finished"], path
        assert {d["params"]["call_id"] for d in docs} == {uuid}
        finished[path] = docs[-1]["params"]["record"]
    assert finished["/both"]["url"].startswith(f"{daemon.url}{LAML}/Recordings/RE")

    files = {}
    for path, record in finished.items():
        r = daemon.request("GET", record["url"], headers=LAML_AUTH)
        assert r.status_code == 200 and len(r.content) == record["size"]
        files[path] = tmp_path / f"{path[1:]}.wav"
        files[path].write_bytes(r.content)
    both, speaker = analyse(str(files["/both"])), analyse(str(files["/speaker"]))
    assert (both.channels, both.tones) == (2, [{880}, {440}])
    assert -0.2 <= both.duration - 2.0 <= extra + 0.2  # the paused second is skipped
    assert (speaker.channels, speaker.tones) == (1, [{880}])
    assert -0.2 <= speaker.duration - 3.0 <= extra + 0.2  # the paused second is silence
    assert abs(finished["/both"]["duration"] - both.duration) <= 0.05
    esl.hangup(uuid)
