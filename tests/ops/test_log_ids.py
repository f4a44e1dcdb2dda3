"""Every log line about a call carries the call's UUID and every line about a recording its
SID (issue 14), checked on the JSON lines the daemon writes while recordings are made, paused,
resumed, stopped, reported (one receiver failing first) and deleted, and calls hang up."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from api.compat_helpers import LAML, LAML_AUTH, json_of, wait_done
from api.conftest import Api, api  # noqa: F401 (fixture)
from api.receiver import Receiver
from daemon.conftest import FAST_ESL, Daemon, DaemonFactory, daemon_factory, switch  # noqa: F401

from esl_recorder.domain.options import RecordOptions
from esl_recorder.logsetup import configure_logging
from esl_recorder.settings import LogSettings
from esl_recorder.testing.fakeswitch import FakeSwitch

SID = re.compile(r"\bRE[0-9a-f]{32}\b")
ABOUT_A_RECORDING = re.compile(r"\brecording\b", re.I)
ABOUT_A_CALL = re.compile(r"\bcall\b", re.I)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The daemon's JSON log lines at DEBUG, as `log.format: json` writes them."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    configure_logging(LogSettings(level="DEBUG", format="json"), stream)
    yield stream
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def recording(api: Api, uuid: str, callback: str) -> str:  # noqa: F811
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH,
                    data={"RecordingStatusCallback": callback,
                          "RecordingStatusCallbackEvent": "in-progress completed absent"})
    return str(json_of(r, 200)["sid"])


def update(api: Api, uuid: str, sid: str, status: str) -> None:  # noqa: F811
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings/{sid}.json", headers=LAML_AUTH,
                    data={"Status": status})
    json_of(r, 200)


def retries(api: Api) -> float:  # noqa: F811
    found = re.search(r'^esl_recorder_callback_attempts_total\{result="retry"\} (\S+)$',
                      api.request("GET", "/metrics").text, re.M)
    return float(found.group(1)) if found else 0.0


def test_each_line_about_a_call_or_a_recording_names_it(
        api: Api, receiver: Receiver, json_log: io.StringIO) -> None:  # noqa: F811
    receiver.status = 503  # refused at first: the retry lines are checked too
    first, second = api.call(), api.call()
    kept = recording(api, first, receiver.url("/cb"))
    update(api, first, kept, "paused")
    update(api, first, kept, "in-progress")
    api.switch.advance(1.0)
    update(api, first, kept, "stopped")
    other = recording(api, second, receiver.url("/cb"))
    api.switch.advance(1.0)
    api.switch.hangup(second)
    api.switch.hangup(first)
    for sid in (kept, other):
        wait_done(api, sid)
    api.daemon.wait_until(lambda: retries(api) >= 1, what="a refused callback")
    receiver.status = 200
    receiver.wait(4)
    assert api.request("DELETE", f"{LAML}/Recordings/{kept}.json",
                       headers=LAML_AUTH).status_code == 204
    calls, sids = {first, second}, {kept, other}
    lines = records(json_log)
    about_recordings = [r for r in lines if ABOUT_A_RECORDING.search(r["message"])]
    about_calls = [r for r in lines if ABOUT_A_CALL.search(r["message"])]
    assert len(about_recordings) >= 8 and about_calls, [r["message"] for r in lines]
    for r in about_recordings:
        assert set(SID.findall(r["message"])) & sids, r
    for r in about_calls:
        assert any(uuid in r["message"] for uuid in calls), r


def test_a_command_failing_in_the_background_is_logged_with_its_recording(
        switch: FakeSwitch, daemon_factory: DaemonFactory,  # noqa: F811
        json_log: io.StringIO) -> None:
    """A DTMF terminator stops the recording from a greenlet of its own; when that stop finds
    no answer (FreeSWITCH stuck: the simulator's core held), its log line names the
    recording and the call, which the timeout's own message does not."""
    daemon: Daemon = daemon_factory(esl={**FAST_ESL, "command_timeout": 0.5})
    assert daemon.app.clients["fs1"].wait_connected(5)
    uuid = switch.inbound_call("tone_a", {}, answered=True)
    daemon.wait_call(uuid)
    rec = daemon.service.start(uuid, RecordOptions(terminators="#"))
    switch.advance(0.5)
    switch.wait_for_command(lambda line: line.startswith(f"uuid_record {uuid} start"))
    failed = re.compile(r"\bstop failed\b")
    with switch.core.lock:  # commands wait for it: the stop gets no reply in time
        switch.send_dtmf(uuid, "#")
        daemon.wait_until(lambda: any(failed.search(r["message"]) for r in records(json_log)),
                          timeout=5, what="the stop's failure")
    (line,) = [r for r in records(json_log) if failed.search(r["message"])]
    assert rec.sid in line["message"] and uuid in line["message"], line
