"""Policy-recording benchmark: N calls recorded by a Kazoo account policy, no request at all.

Run by hand:  python bench/policies.py [--calls 500] [--concurrency 50] [--seconds 1] [--short]

The daemon runs in its own process (`python -m esl_recorder run`, a policy file that records
the calls of account `acme`). By default it attaches to the FreeSWITCH simulator in this
process (realtime clock); each call is an answered inbound leg with the account variable set.
With ESL_RECORDER_FS=host:port:password set (freeswitch/fsctl.py prints it) it attaches to
that real FreeSWITCH instead, and each call is `originate {esl_recorder_account_id=acme,...}
loopback/tone_b/rectest tone_a XML rectest` (tests/integration/live.py's calls); mod_loopback
copies the variable to the B leg, so the live policy records the account's outbound legs
only: one recording per call, as with the simulator. Calls go in waves of --concurrency, last
--seconds of media, then are hung up; the run ends when the daemon has finished every
recording (its /metrics: esl_recorder_recordings_finished_total).

Prints calls/s (wall clock, first call to last recording finished), the daemon's CPU time per
call (its utime+stime from /proc over the run, idle included), the ESL event lag p99 from its
esl_recorder_esl_event_lag_seconds histogram (the bucket bound it falls in), and the switch's
CPU per call beside it: the simulator's (this process), or FreeSWITCH's own (its
/proc/<pid>/stat; the pid from fsctl.json in ESL_RECORDER_FS_DIR). The last line is
`daemon_cpu_ms_per_call: <N>`. --short: 40 calls (CI checks that it runs).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid as uuid_module  # noqa: E402

import gevent  # noqa: E402
import requests  # noqa: E402
import yaml  # noqa: E402
from targets import POLICY_CPU_MS, verdict  # noqa: E402

from esl_recorder.testing.fakeswitch import FakeSwitch  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
LAG = re.compile(r'^esl_recorder_esl_event_lag_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} '
                 r'(\S+)$', re.M)
FINISHED = re.compile(r'^esl_recorder_recordings_finished_total\{[^}]*state="([^"]*)"[^}]*\} '
                      r"(\S+)$", re.M)
STARTED = re.compile(r"^esl_recorder_recordings_started_total\{[^}]*\} (\S+)$", re.M)
TRACKED = re.compile(r"^esl_recorder_calls_tracked (\S+)$", re.M)
EVENTS = re.compile(r'^esl_recorder_esl_events_total\{[^}]*event="([^"]*)"[^}]*\} (\S+)$', re.M)
ACCOUNT_VARIABLE = "esl_recorder_account_id"
SIM_POLICY = {"record_call": {"format": "wav"}}
LIVE_POLICY = {"call_recording": {"account": {"outbound": {"any": {"enabled": True,
                                                                   "format": "wav"}}}}}


class SimSwitch:
    label = "simulator (the switch, this process)"
    policy = SIM_POLICY

    def __init__(self) -> None:
        self.recordings = tempfile.mkdtemp(prefix="bench-fs-")
        self._switch = FakeSwitch(recordings_root=self.recordings).start()
        host, port = self._switch.address
        self.node: dict[str, object] = {"name": "fs1", "host": host, "port": port,
                                        "password": "ClueCon"}

    def place(self, count: int) -> list[str]:
        return [self._switch.inbound_call("tone_a", {ACCOUNT_VARIABLE: "acme"}, answered=True)
                for _ in range(count)]

    def hangup(self, uuid: str) -> None:
        self._switch.hangup(uuid)

    def cpu(self) -> float | None:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return own.ru_utime + own.ru_stime

    def close(self) -> None:
        self._switch.stop()
        shutil.rmtree(self.recordings, ignore_errors=True)


class LiveSwitch:
    """A real FreeSWITCH named by ESL_RECORDER_FS, driven over one inbound ESL connection."""

    label = "FreeSWITCH (its own process)"
    policy = LIVE_POLICY

    def __init__(self, address: str) -> None:
        host, port, password = [*address.split(":", 2), "ClueCon"][:3]
        self.node: dict[str, object] = {"name": "fs1", "host": host, "port": int(port),
                                        "password": password}
        root = os.environ.get("ESL_RECORDER_FS_RECORDINGS", "/tmp/esl_recorder_it")
        os.makedirs(root, exist_ok=True)
        self.recordings = tempfile.mkdtemp(prefix="bench-policies-", dir=root)
        self.pid = fs_pid(os.environ.get("ESL_RECORDER_FS_DIR", ""))
        self._sock = socket.create_connection((host, int(port)), timeout=30)
        self._buf = b""
        self._read()  # auth/request
        self._send(f"auth {password}")
        if "+OK" not in self._read()[0].get("Reply-Text", ""):
            sys.exit("bench: FreeSWITCH refused the ESL password")

    def place(self, count: int) -> list[str]:
        placed: list[str] = []
        for _ in range(count):
            uuid = str(uuid_module.uuid4())
            reply = self.api(f"originate {{origination_uuid={uuid},{ACCOUNT_VARIABLE}=acme}}"
                             "loopback/tone_b/rectest tone_a XML rectest")
            if not reply.startswith("+OK"):
                for up in placed:  # this wave's calls so far: not left up on the server
                    self.hangup(up)
                sys.exit(f"bench: originate failed: {reply.strip()}")
            placed.append(uuid)
        return placed

    def hangup(self, uuid: str) -> None:
        self.api(f"uuid_kill {uuid}")

    def cpu(self) -> float | None:
        return cpu_seconds(self.pid) if self.pid else None

    def api(self, command: str) -> str:
        self._send(f"api {command}")
        while True:
            headers, body = self._read()
            if headers.get("Content-Type") == "api/response":
                return body

    def close(self) -> None:
        self._sock.close()
        shutil.rmtree(self.recordings, ignore_errors=True)

    def _send(self, line: str) -> None:
        self._sock.sendall(f"{line}\n\n".encode())

    def _read(self) -> tuple[dict[str, str], str]:
        while b"\n\n" not in self._buf:
            self._buf += self._recv()
        head, _, self._buf = self._buf.partition(b"\n\n")
        headers = dict(line.partition(": ")[::2] for line in head.decode().split("\n"))
        length = int(headers.get("Content-Length", "0"))
        while len(self._buf) < length:
            self._buf += self._recv()
        body, self._buf = self._buf[:length], self._buf[length:]
        return headers, body.decode(errors="replace")

    def _recv(self) -> bytes:
        chunk = self._sock.recv(65536)
        if not chunk:
            sys.exit("bench: FreeSWITCH closed the event socket")
        return chunk


Switch = SimSwitch | LiveSwitch


def fs_pid(run_dir: str) -> int | None:
    """FreeSWITCH's pid from fsctl.py's state file, when it started the server."""
    try:
        with open(os.path.join(run_dir, "fsctl.json")) as f:
            pid = int(json.load(f)["pid"])
    except (OSError, ValueError, KeyError):
        return None
    return pid if os.path.exists(f"/proc/{pid}/stat") else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of process `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS  # utime, stime


def metrics(port: int) -> str:
    return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def settled(port: int, calls: int) -> tuple[bool, float]:
    """(whether the daemon is done, recordings finished): every recording finished, or, when
    some could not start (a call gone before its uuid_record: a daemon far behind), every
    channel released and every started recording finished."""
    text = metrics(port)
    done = sum(float(v) for _, v in FINISHED.findall(text))
    started = sum(float(v) for v in STARTED.findall(text))
    tracked = TRACKED.search(text)
    idle = tracked is not None and float(tracked.group(1)) == 0
    return done >= calls or (idle and done >= started), done


def tracked_calls(port: int) -> float:
    found = TRACKED.search(metrics(port))
    return float(found.group(1)) if found else float("nan")


def still_tracked(port: int, before: float, patience: float = 5.0) -> str:
    """The daemon's calls_tracked once back to `before`, or after `patience` seconds: the
    last channels' CHANNEL_HANGUP_COMPLETE may come after their recordings finished."""
    deadline = time.monotonic() + patience
    while (now := tracked_calls(port)) > before and time.monotonic() < deadline:
        gevent.sleep(0.1)  # a benchmark's poll, not a test
    return f"{now:.0f}"


def final_states(text: str) -> str:
    """How the recordings ended, from the daemon's metrics: `completed 500` and so on."""
    states: dict[str, float] = {}
    for state, value in FINISHED.findall(text):
        states[state] = states.get(state, 0.0) + float(value)
    return ", ".join(f"{state} {n:.0f}" for state, n in sorted(states.items()))


def events_per_call(text: str, calls: int) -> str:
    """The events the daemon received per call, by name (its esl_events_total)."""
    counts = sorted(((name, float(n) / calls) for name, n in EVENTS.findall(text)),
                    key=lambda item: -item[1])
    return ", ".join(f"{name} {n:.1f}" for name, n in counts if n >= 0.05)


def lag_p99(text: str) -> str:
    buckets = [(float("inf") if le == "+Inf" else float(le), float(n))
               for le, n in LAG.findall(text)]
    if not buckets or buckets[-1][1] == 0:
        return "n/a"
    total = max(n for _, n in buckets)
    bound = next(le for le, n in sorted(buckets) if n >= 0.99 * total)
    return f"<= {bound * 1000:g} ms"


def start_daemon(tmp: str, switch: Switch, port: int
                 ) -> subprocess.Popen[bytes]:
    policies = os.path.join(tmp, "policies.yaml")
    with open(policies, "w") as f:
        yaml.safe_dump({"accounts": {"acme": switch.policy}}, f)
    config = os.path.join(tmp, "esl_recorder.yaml")
    with open(config, "w") as f:
        yaml.safe_dump({
            "nodes": [switch.node], "recording": {"root": switch.recordings},
            "store": {"path": os.path.join(tmp, "state.db")},
            "http": {"port": port}, "log": {"level": "WARNING"},
            "kazoo": {"policy_file": policies, "default_format": "wav"}}, f)
    proc = subprocess.Popen([sys.executable, "-m", "esl_recorder", "run", "-c", config])
    deadline = time.monotonic() + 30
    while True:  # a benchmark's start-up poll, not a test
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).ok:
                return proc
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            sys.exit("bench: the daemon did not become ready")
        gevent.sleep(0.1)


def run(calls: int, concurrency: int, seconds: float, short: bool = False) -> None:
    live = os.environ.get("ESL_RECORDER_FS")
    switch = LiveSwitch(live) if live else SimSwitch()
    port = free_port()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-policies-") as tmp:
            proc = start_daemon(tmp, switch, port)
            try:
                measure(switch, proc.pid, port, calls, concurrency, seconds, short)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    finally:
        switch.close()


def measure(switch: Switch, pid: int, port: int, calls: int,
            concurrency: int, seconds: float, short: bool = False) -> None:
    before = tracked_calls(port)
    daemon_cpu0, switch_cpu0 = cpu_times(pid), switch.cpu()
    started = time.monotonic()
    placed = 0
    while placed < calls:
        wave = switch.place(min(concurrency, calls - placed))
        placed += len(wave)
        gevent.sleep(seconds)  # the calls' media time (realtime clock)
        for uuid in wave:
            switch.hangup(uuid)
    while not (state := settled(port, calls))[0]:
        if time.monotonic() - started > 120 + calls * seconds:
            sys.exit(f"bench: only {state[1]:.0f} of {calls} recordings finished")
        gevent.sleep(0.2)
    wall = time.monotonic() - started
    user, system = (t1 - t0 for t0, t1 in zip(daemon_cpu0, cpu_times(pid), strict=True))
    switch_cpu1 = switch.cpu()
    print(f"{calls} calls, {concurrency} at a time, {seconds:g} s each: {wall:.1f} s")
    print(f"calls/s: {calls / wall:.1f}")
    text = metrics(port)
    print(f"recordings finished: {final_states(text)}")
    if state[1] < calls:
        print(f"calls not recorded: {calls - state[1]:.0f} (gone before their uuid_record)")
    print(f"calls still tracked: {still_tracked(port, before)} ({before:.0f} before the run: "
          "calls up on the switch when the daemon attached)")
    print(f"event lag p99: {lag_p99(text)}")
    print(f"events per call: {events_per_call(text, calls)}")
    if switch_cpu0 is None or switch_cpu1 is None:
        print(f"{switch.label} cpu_ms_per_call: n/a (no pid: set ESL_RECORDER_FS_DIR)")
    else:
        print(f"{switch.label} cpu_ms_per_call: "
              f"{(switch_cpu1 - switch_cpu0) * 1000 / calls:.2f}")
    print(f"daemon CPU per call: user {user * 1000 / calls:.2f} ms, system "
          f"{system * 1000 / calls:.2f} ms")
    per_call = (user + system) * 1000 / calls
    verdict(f"at most {POLICY_CPU_MS:g} ms of daemon CPU per call", per_call <= POLICY_CPU_MS,
            short)
    print(f"daemon_cpu_ms_per_call: {per_call:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--short", action="store_true", help="40 calls of 0.2 s (CI)")
    args = parser.parse_args(argv)
    if args.short:
        args.calls, args.concurrency, args.seconds = 40, 20, 0.2
    run(args.calls, args.concurrency, args.seconds, args.short)
    return 0


if __name__ == "__main__":
    sys.exit(main())
