"""kill -9 of the daemon mid-recording, then a restart: the recording is not lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest

from esl_recorder.domain.recording import State, StopReason
from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import DaemonFactory, killed_after, process_config
from .tones import analyse

DRIVER = Path(__file__).with_name("driver.py")


@pytest.fixture
def killed_daemon(switch: FakeSwitch, tmp_path: Path,
                  store_section: dict[str, Any]) -> Iterator[Any]:
    """Run the driver in its own process, start a recording, kill -9 it."""
    config = process_config(tmp_path, switch, store=store_section)
    procs: list[subprocess.Popen[str]] = []

    def run(call_uuid: str) -> dict[str, str]:
        proc = subprocess.Popen([sys.executable, str(DRIVER), str(config), call_uuid],
                                stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        with gevent.Timeout(20, AssertionError("driver did not start a recording")):
            line = proc.stdout.readline()
        started: dict[str, str] = json.loads(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        return started

    yield run
    for proc in procs:
        if proc.poll() is None:
            proc.kill()


def test_recording_finished_while_the_daemon_was_dead(
        switch: FakeSwitch, killed_daemon: Any, daemon_factory: DaemonFactory) -> None:
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    switch.advance(0.5)
    started = killed_daemon(uuid)
    switch.advance(2.0)
    switch.hangup(uuid)  # RECORD_STOP with nobody listening
    daemon = daemon_factory()
    rec = daemon.wait_state(started["sid"], State.COMPLETED, timeout=10)
    assert rec.path == started["path"]
    assert rec.stop_reason is StopReason.LOST
    assert rec.file is not None and abs(rec.file.duration_ms - 2000) <= 50
    assert abs(analyse(daemon.media_file(rec)).duration - 2.0) <= 0.05
    stored = daemon.app.store.load_call(uuid)  # its row says the call is over
    assert stored is not None and stored.hungup and stored.hangup_cause == "", stored


def test_recording_still_running_after_restart_is_adopted(
        switch: FakeSwitch, killed_daemon: Any, daemon_factory: DaemonFactory) -> None:
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    switch.advance(0.5)
    started = killed_daemon(uuid)
    switch.advance(1.0)
    daemon = daemon_factory()
    assert daemon.app.clients["fs1"].wait_connected(5)
    rec = daemon.wait_state(started["sid"], State.IN_PROGRESS)
    switch.advance(1.0)
    daemon.service.stop(rec.sid)
    rec = daemon.wait_state(rec.sid, State.COMPLETED)
    assert rec.stop_reason is StopReason.REQUESTED
    assert abs(analyse(daemon.media_file(rec)).duration - 2.0) <= 0.05


def test_a_recording_freeswitch_began_as_the_daemon_died_is_finished_from_disk(
        switch: FakeSwitch, tmp_path: Path, store_section: dict[str, Any],
        daemon_factory: DaemonFactory) -> None:
    """kill -9 once the recording was written queued and its `uuid_record start` sent,
    before FreeSWITCH answered: FreeSWITCH records the call all the same. At the restart
    the call is gone and the recording still queued in the store; its file is there, so it
    is finished from the file, not settled absent with the file left unreported (seen on
    the live policy bench with the daemon killed mid-run: 2 of 500 calls)."""
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    switch.advance(0.5)
    held = switch.hold_commands(f"uuid_record {uuid} start")
    config = process_config(tmp_path, switch, store=store_section)
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(config), uuid],
                            stdout=subprocess.DEVNULL)
    with killed_after(proc):
        switch.wait_for_command(f"uuid_record {uuid} start", timeout=20)
    held.release()  # FreeSWITCH runs it: the call is recorded, its answer goes nowhere
    switch.advance(2.0)
    switch.hangup(uuid)  # RECORD_STOP with nobody listening
    daemon = daemon_factory()
    (queued,) = daemon.app.store.list_recordings(call_uuid=uuid)
    rec = daemon.wait_state(queued.sid, State.COMPLETED, State.ABSENT, timeout=10)
    assert rec.state is State.COMPLETED, rec
    assert rec.stop_reason is StopReason.LOST and rec.started_at is not None
    assert rec.file is not None and abs(rec.file.duration_ms - 2000) <= 50
    assert abs(analyse(daemon.media_file(rec)).duration - 2.0) <= 0.05
