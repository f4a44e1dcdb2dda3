"""Policy-recording benchmark: N calls recorded by a Kazoo account policy, no request at all.

Run by hand:  python bench/policies.py [--calls 500] [--concurrency 50] [--seconds 1] [--short]

The daemon runs in its own process (`python -m esl_recorder run`, a policy file that records
every call of account `acme`) against the FreeSWITCH simulator in this process (realtime
clock). Calls go in waves of --concurrency: each is an answered inbound leg with the account
variable set, lasts --seconds of media, then hangs up; the run ends when the daemon has
finished every recording (its /metrics: esl_recorder_recordings_finished_total).

Prints calls/s (wall clock, first call to last recording finished), the daemon's CPU time per
call (its utime+stime from /proc over the run, idle included), the ESL event lag p99 from its
esl_recorder_esl_event_lag_seconds histogram (the bucket bound it falls in), and the
simulator's own CPU per call beside it (this process: the stand-in for FreeSWITCH's). The
last line is `daemon_cpu_ms_per_call: <N>`. --short: 40 calls (CI checks that it runs).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import requests  # noqa: E402
import yaml  # noqa: E402

from esl_recorder.testing.fakeswitch import FakeSwitch  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
LAG = re.compile(r'^esl_recorder_esl_event_lag_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} '
                 r'(\S+)$', re.M)
FINISHED = re.compile(r"^esl_recorder_recordings_finished_total\{[^}]*\} (\S+)$", re.M)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def metrics(port: int) -> str:
    return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def finished(port: int) -> float:
    return sum(float(v) for v in FINISHED.findall(metrics(port)))


def lag_p99(text: str) -> str:
    buckets = [(float("inf") if le == "+Inf" else float(le), float(n))
               for le, n in LAG.findall(text)]
    if not buckets or buckets[-1][1] == 0:
        return "n/a"
    total = max(n for _, n in buckets)
    bound = next(le for le, n in sorted(buckets) if n >= 0.99 * total)
    return f"<= {bound * 1000:g} ms"


def start_daemon(tmp: str, switch: FakeSwitch, port: int) -> subprocess.Popen[bytes]:
    policies = os.path.join(tmp, "policies.yaml")
    with open(policies, "w") as f:
        yaml.safe_dump({"accounts": {"acme": {"record_call": {"format": "wav"}}}}, f)
    config = os.path.join(tmp, "esl_recorder.yaml")
    with open(config, "w") as f:
        yaml.safe_dump({
            "nodes": [{"name": "fs1", "host": switch.address[0], "port": switch.address[1],
                       "password": "ClueCon"}],
            "recording": {"root": os.path.join(tmp, "recordings")},
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


def run(calls: int, concurrency: int, seconds: float) -> None:
    switch = FakeSwitch(recordings_root=tempfile.mkdtemp(prefix="bench-fs-")).start()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-policies-") as tmp:
        proc = start_daemon(tmp, switch, port)
        try:
            measure(switch, proc.pid, port, calls, concurrency, seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            switch.stop()


def measure(switch: FakeSwitch, pid: int, port: int, calls: int, concurrency: int,
            seconds: float) -> None:
    daemon_cpu0 = cpu_seconds(pid)
    own0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    placed = 0
    while placed < calls:
        wave = [switch.inbound_call("tone_a", {"esl_recorder_account_id": "acme"},
                                    answered=True)
                for _ in range(min(concurrency, calls - placed))]
        placed += len(wave)
        gevent.sleep(seconds)  # the calls' media time (realtime clock)
        for uuid in wave:
            switch.hangup(uuid)
    while finished(port) < calls:
        if time.monotonic() - started > 120 + calls * seconds:
            sys.exit(f"bench: only {finished(port):.0f} of {calls} recordings finished")
        gevent.sleep(0.2)
    wall = time.monotonic() - started
    daemon_cpu = cpu_seconds(pid) - daemon_cpu0
    own1 = resource.getrusage(resource.RUSAGE_SELF)
    own_cpu = (own1.ru_utime + own1.ru_stime) - (own0.ru_utime + own0.ru_stime)
    print(f"{calls} calls, {concurrency} at a time, {seconds:g} s each: {wall:.1f} s")
    print(f"calls/s: {calls / wall:.1f}")
    print(f"event lag p99: {lag_p99(metrics(port))}")
    print(f"simulator (the switch) cpu_ms_per_call: {own_cpu * 1000 / calls:.2f}")
    print(f"daemon_cpu_ms_per_call: {daemon_cpu * 1000 / calls:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--short", action="store_true", help="40 calls of 0.2 s (CI)")
    args = parser.parse_args(argv)
    if args.short:
        args.calls, args.concurrency, args.seconds = 40, 20, 0.2
    run(args.calls, args.concurrency, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
