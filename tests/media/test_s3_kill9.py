"""kill -9 of the daemon while it uploads a recording, then a restart: the upload lands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import gevent
from daemon.conftest import DaemonFactory, killed_after, process_config
from store_backends import s3_media_settings

from esl_recorder.domain.recording import State
from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import FAST_RETRIES, Bucket, object_key
from .proxy import Relay

DRIVER = Path(__file__).parent.parent / "daemon" / "driver.py"  # the kill -9 tests' daemon


def test_an_upload_cut_by_kill_9_is_made_after_the_restart(
        switch: FakeSwitch, tmp_path: Path, relay: Relay, bucket: Bucket,
        daemon_factory: DaemonFactory, store_section: dict[str, Any]) -> None:
    media = s3_media_settings(relay.url)
    config = process_config(tmp_path, switch, store=store_section, delivery=FAST_RETRIES,
                            media=media)
    uuid = switch.inbound_call("tone_a", {"esl_recorder_account_id": "acme"}, answered=True)
    relay.hold()  # the upload's request reaches the relay and goes no further
    relay.start()
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(config), uuid],
                            stdout=subprocess.PIPE, text=True)
    with killed_after(proc):
        assert proc.stdout is not None
        with gevent.Timeout(20, AssertionError("driver did not start a recording")):
            started = json.loads(proc.stdout.readline())
        switch.advance(2.0)
        switch.hangup(uuid)
        key = object_key("acme", started["sid"])
        relay.wait_for(f"PUT /recordings-test/{key}".encode(), timeout=20)
    assert proc.returncode == -signal.SIGKILL
    assert bucket.read(key) is None and os.path.exists(started["path"])

    relay.release()
    daemon = daemon_factory(delivery=FAST_RETRIES, media=media)
    rec = daemon.wait_state(started["sid"], State.COMPLETED)
    assert rec.file is not None
    daemon.wait_until(lambda: not os.path.exists(rec.path), 15, what="the upload")
    assert bucket.sha256(key) == rec.file.sha256
    assert daemon.app.prometheus.get_sample_value(
        "esl_recorder_upload_attempts_total", {"result": "delivered"}) == 1
