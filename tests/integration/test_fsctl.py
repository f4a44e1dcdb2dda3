"""The FreeSWITCH of the live tests and of `.ci/run` (freeswitch/build.sh, fsctl.py): no SIP,
one listener, its event socket on 127.0.0.1. And fsctl.py's start: a start that cannot get its
event-socket port fails with the reason in one line and leaves no server running behind it
(the EXIT trap of `.ci/run` only stops a server whose start succeeded)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import FreeSwitchAddress, unavailable
from .live import Esl, eventually


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


def _sockets(table: str) -> dict[int, tuple[str, int, str]]:
    """inode -> (local address, port, state) of /proc/net/<table> (IPv4 and IPv6 tables)."""
    out = {}
    for line in Path("/proc/net", table).read_text().splitlines()[1:]:
        fields = line.split()
        address, port = fields[1].rsplit(":", 1)
        raw = bytes.fromhex(address)
        if len(raw) == 4:
            host = ".".join(str(b) for b in reversed(raw))
        else:  # four little-endian 32-bit words
            host = ":".join(raw[i:i + 4][::-1].hex() for i in range(0, 16, 4))
        out[int(fields[9])] = (host, int(port, 16), fields[3])
    return out


def listening(pid: int) -> set[tuple[str, str, int]]:
    """The TCP listeners and bound UDP sockets of process `pid`: (protocol, address, port)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = str(fd.readlink()) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    found = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for inode, (host, port, state) in _sockets(table).items():
            tcp_listen = table.startswith("tcp") and state == "0A"
            if inode in inodes and (tcp_listen or (table.startswith("udp") and port)):
                found.add((table.rstrip("6"), host, port))
    return found


def test_the_ci_freeswitch_runs_no_sip_and_listens_only_on_its_loopback_event_socket(
        freeswitch: FreeSwitchAddress, esl: Esl) -> None:
    if not freeswitch.run_dir:
        unavailable("ESL_RECORDER_FS_DIR not set: not a FreeSWITCH started by fsctl.py")
    assert esl.api("module_exists mod_sofia").strip() == "false"
    pid = json.loads(Path(freeswitch.run_dir, "fsctl.json").read_text())["pid"]
    assert listening(pid) == {("tcp", "127.0.0.1", freeswitch.port)}
