"""Issue 14's acceptance against the live FreeSWITCH: `esl-recorder run` (a process started by
its CLI) serves /metrics, /healthz, /readyz and /openapi.json, and /readyz turns unready within
2 s of its FreeSWITCH connection dropping and ready again after the reconnect. (The same
against the simulator: tests/lifecycle/test_readyz.py and test_sigterm.py.)"""

from __future__ import annotations

import time
from pathlib import Path

from integration.conftest import FreeSwitchAddress, freeswitch  # noqa: F401 (fixture)
from integration.live import DaemonProcess, Relay, eventually
from store_backends import Backends


def test_the_daemon_process_serves_the_ops_paths_against_freeswitch(
        freeswitch: FreeSwitchAddress, tmp_path: Path, backends: Backends) -> None:  # noqa: F811
    daemon = DaemonProcess(freeswitch, tmp_path, backends.sections(tmp_path)).start()
    try:
        assert daemon.json("GET", "/healthz") == {"status": "ok"}
        assert daemon.json("GET", "/readyz") == {
            "ready": True, "store": {"writable": True}, "nodes": {"fs1": {"connected": True}}}
        metrics = daemon.request("GET", "/metrics")
        assert metrics.status_code == 200
        assert 'esl_recorder_esl_connected{node="fs1"} 1.0' in metrics.text
        doc = daemon.json("GET", "/openapi.json")
        assert doc["openapi"].startswith("3.1")
        assert any(path.startswith("/api/laml/") for path in doc["paths"])
    finally:
        daemon.stop()
    assert daemon.proc is not None and daemon.proc.returncode == 0


def test_readyz_is_unready_within_2_s_of_the_connection_dropping(
        freeswitch: FreeSwitchAddress, tmp_path: Path, backends: Backends) -> None:  # noqa: F811
    relay = Relay((freeswitch.host, freeswitch.port))
    daemon = DaemonProcess(freeswitch, tmp_path, backends.sections(tmp_path),
                           esl_port=relay.port).start()
    try:
        relay.holding = True  # no way back in until the test says so
        cut_at = time.monotonic()
        relay.cut()
        eventually(lambda: daemon.request("GET", "/readyz").status_code == 503, 2,
                   "/readyz to answer 503")
        unready_after = time.monotonic() - cut_at
        doc = daemon.request("GET", "/readyz").json()
        assert doc["nodes"] == {"fs1": {"connected": False}} and doc["ready"] is False
        relay.holding = False
        eventually(lambda: daemon.request("GET", "/readyz").status_code == 200, 15,
                   "/readyz to be ready again after the reconnect")
        assert unready_after <= 2.0
    finally:
        daemon.stop()
        relay.stop()
