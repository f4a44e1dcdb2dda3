"""freeswitch/fsctl.py, which starts the FreeSWITCH of the live tests and of `.ci/run`: a start
that cannot get its event-socket port fails with the reason in one line and leaves no server
running behind it (the EXIT trap of `.ci/run` only stops a server whose start succeeded)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import FreeSwitchAddress, unavailable
from .live import eventually


def running_in(run_dir: Path) -> list[int]:
    """Pids of the processes whose command line names `run_dir` (a FreeSWITCH started there)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if proc.name.isdigit() and str(run_dir).encode() in cmdline:
            pids.append(int(proc.name))
    return pids


def test_a_start_on_a_port_another_event_socket_holds_fails_and_leaves_no_server(
        freeswitch: FreeSwitchAddress, tmp_path: Path) -> None:
    if not (freeswitch.ctl and freeswitch.run_dir):
        unavailable("ESL_RECORDER_FS_CTL/ESL_RECORDER_FS_DIR not set: no FreeSWITCH build to "
                    "start (.ci/run sets them)")
    prefix = json.loads(Path(freeswitch.run_dir, "fsctl.json").read_text())["prefix"]
    other = FakeSwitch(password="not-the-password-fsctl-sets")  # holds 127.0.0.1:<port>
    other.start()
    run_dir = tmp_path / "fs"
    try:
        result = subprocess.run(
            [sys.executable, freeswitch.ctl, "start", "--prefix", prefix, "--dir", str(run_dir),
             "--port", str(other.address[1]), "--timeout", "30"],
            capture_output=True, text=True, timeout=90, check=False)
    finally:
        other.stop()
    assert result.returncode == 1, result
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("fsctl: start failed: ") and "another server" in line, line
    assert eventually(lambda: not running_in(run_dir), 10, "no FreeSWITCH left in the run "
                      f"directory (left: {running_in(run_dir)})")
