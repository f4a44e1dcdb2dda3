"""`esl-recorder demo`: the daemon and the FreeSWITCH simulator in one process, a demo call
recorded through the daemon's own HTTP API, and what to try next.

Everything listens on free loopback ports; state and recordings go to a temporary directory
removed on exit. Stops on SIGINT (Ctrl-C) or SIGTERM with exit 0. `esl-recorder run` never
does any of this: it only attaches to the FreeSWITCH nodes it is configured with.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import gevent
import gevent.event
import requests

from .app import App, build_app
from .dialects.bandwidth_render import recording_id
from .domain.recording import Recording, State
from .settings import Settings, settings_from_mapping
from .testing.fakeswitch import FakeSwitch

USER = "demo"
PROJECT = "0b7c2cb2-7d5f-4c8e-9a51-5d6f1a3c8e01"
CALL_SECONDS = 2.0
TIMEOUT = 20.0


@dataclass(frozen=True)
class Credentials:
    laml_token: str
    bandwidth_token: str
    bandwidth_secret: str


def demo_settings(state: Path, switch: FakeSwitch, creds: Credentials, port: int) -> Settings:
    """A daemon attached to the simulator, with one demo account, state under `state`."""
    host, esl_port = switch.address
    return settings_from_mapping({
        "nodes": [{"name": "demo", "host": host, "port": esl_port,
                   "password": switch.password}],
        "recording": {"root": str(state / "recordings")},
        "store": {"path": str(state / "state.db")},
        "http": {"host": "127.0.0.1", "port": port},
        "bandwidth": {"dial_string": "loopback/{to}/rectest", "application": "&park()"},
        "accounts": [{"id": USER, "laml_project_id": PROJECT, "laml_token": creds.laml_token,
                      "bandwidth_user_id": USER, "bandwidth_token": creds.bandwidth_token,
                      "bandwidth_secret": creds.bandwidth_secret}],
    }, "<demo>", env={})


def record_demo_call(app: App, base: str, creds: Credentials, out: TextIO) -> dict[str, Any]:
    """Bandwidth POST /calls to the simulator's tone_b with recordingEnabled, hang up after
    CALL_SECONDS, and return the finished recording's resource."""
    auth = (creds.bandwidth_token, creds.bandwidth_secret)
    done = gevent.event.AsyncResult()

    def on_recording(rec: Recording, previous: State) -> None:
        if rec.state is State.COMPLETED or rec.state in (State.ABSENT, State.FAILED):
            done.set(rec)

    app.recordings.subscribe(on_recording)
    created = requests.post(f"{base}/v1/users/{USER}/calls", auth=auth, timeout=10, json={
        "from": "+15551230000", "to": "tone_b", "recordingEnabled": True})
    created.raise_for_status()
    call_url = created.headers["Location"]
    print(f"placed a demo call: POST /v1/users/{USER}/calls -> {created.status_code} "
          f"{call_url}", file=out, flush=True)
    gevent.sleep(CALL_SECONDS)  # the demo call's length: the recording is this long
    requests.post(call_url, auth=auth, json={"state": "completed"},
                  timeout=10).raise_for_status()
    rec: Recording = done.get(timeout=TIMEOUT)
    found = requests.get(f"{call_url}/recordings", auth=auth, timeout=10)
    found.raise_for_status()
    doc: dict[str, Any] = next(r for r in found.json() if r["id"] == recording_id(rec.sid))
    doc["status"] = rec.state.value
    return doc


def next_steps(base: str, creds: Credentials, recording: dict[str, Any]) -> str:
    bw = f"{creds.bandwidth_token}:{creds.bandwidth_secret}"
    laml = f"{base}/api/laml/2010-04-01/Accounts/{PROJECT}"
    return f"""
Try next (this process serves until Ctrl-C):
  curl -s -u {bw} {base}/v1/users/{USER}/recordings
  curl -s -u {bw} -o demo.wav {recording['media']}
  curl -s -u {bw} -H 'Content-Type: application/json' \\
    -d '{{"from": "+15551230000", "to": "tone_b", "recordingEnabled": true}}' \\
    {base}/v1/users/{USER}/calls
  curl -s -u {PROJECT}:{creds.laml_token} {laml}/Recordings.json
  curl -s {base}/readyz
  curl -s {base}/metrics | grep esl_recorder_recordings

The twilio SDK, pointed at this daemon:
  from twilio.rest import Client
  client = Client("{PROJECT}", "{creds.laml_token}")
  client.api.base_url = "{base}"
  client.api.v2010.version = "api/laml/2010-04-01"
  print([r.sid for r in client.recordings.list()])

Recording: {recording['media']}
Metrics:   {base}/metrics
OpenAPI:   {base}/openapi.json
"""


def run_demo(port: int = 0, out: TextIO = sys.stdout) -> int:
    """Run the demo until SIGINT/SIGTERM; returns the exit status."""
    state = Path(tempfile.mkdtemp(prefix="esl_recorder-demo-"))
    creds = Credentials(secrets.token_hex(8), "demo-" + secrets.token_hex(4),
                        secrets.token_hex(8))
    switch = FakeSwitch(port=0, recordings_root=str(state / "recordings")).start()
    app: App | None = None
    stopping = gevent.event.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, stopping.set)
    try:
        app = build_app(demo_settings(state, switch, creds, port))
        app.start()
        assert app.http is not None
        base = f"http://127.0.0.1:{app.http.server_port}"
        print(f"esl-recorder demo: API on {base}, FreeSWITCH simulator on "
              f"{switch.address[0]}:{switch.address[1]}, state in {state}", file=out,
              flush=True)
        if not app.clients["demo"].wait_connected(TIMEOUT):
            print("error: the daemon did not connect to the simulator", file=sys.stderr)
            return 1
        recording = record_demo_call(app, base, creds, out)
        print(f"recording {recording['id']} {recording['status']}: {recording['media']}",
              file=out, flush=True)
        print(next_steps(base, creds, recording), file=out, flush=True)
        stopping.wait()
        return 0
    finally:
        if app is not None:
            app.stop(timeout=5)
        switch.stop()
        shutil.rmtree(state, ignore_errors=True)
