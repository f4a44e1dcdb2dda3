"""Start-recording request latency: the daemon beside a bare gevent WSGI endpoint.

Run by hand:  python bench/latency.py [--short] [--rate R] [--seconds S] [--clients C]
From bench/api.py:  bench_latency(short) -> the p99 ratio.

Processes (2 cores: as few as the comparison needs):
  * the FreeSWITCH simulator (FakeSwitch, manual media clock: recordings cost no audio CPU),
    holding answered inbound calls of the bench account, one for every request the daemon
    may get (Plan.calls: 7,401; 1,901 with --short);
  * the daemon as `esl-recorder run` sets it up (build_app, start, startup objects frozen,
    its default INFO logging written to a file (BENCH_DAEMON_LOG=path keeps it; with
    BENCH_DAEMON_PROFILE=path it runs under cProfile, stats to that file), SQLite on
    disk in a temporary directory) attached to the simulator over ESL; the WAV files the
    simulator writes go to /dev/shm (see MEDIA_DIR);
  * a bare gevent.pywsgi endpoint that reads the request and answers a JSON body of the size
    the daemon answers;
  * a canary: an otherwise idle process that sleeps 2 ms at a time and notes how late it
    wakes up. This VM stops now and then for 20-250 ms, idle or not (a 1 ms sleep loop on
    the idle machine sees such stalls every ten seconds or so; the steal counter in
    /proc/stat moves with them). A stall inside a round sets that round's p99 on its own;
  * this process: the load generator.

The requests are real LaML create-recording POSTs (form body, HTTP Basic), each the first
recording on its call as in real use (so each writes its call's row with the recording); every
one starts a real `uuid_record` on the simulator before it is answered. Both endpoints get
requests of the same size and the identical schedule: an open-loop, paced load of --rate
requests/s from --clients keep-alive connections (request j is due at j / rate and goes to
connection j mod clients). A request's latency is measured
from when it was due, not from when it was sent, so a connection held up by a slow answer
charges the wait to the requests queued behind it (no coordinated omission). The rate is
fixed and chosen below both endpoints' capacity on 2 shared cores: this compares latency
under the same load, not throughput. The two targets take turns in rounds on connections
opened once (noisy neighbours hit both alike); the first round of each is a warm-up and is
not counted. A round during which the canary was held up for STALL (10 ms) or more is
disturbed: it is shown, not counted, and that target runs another round (at most
EXTRA_ROUNDS x as many again; if still short, the least disturbed rounds are counted and
marked so). Each target's line gives p50, p99, max and the CPU its server (and the
simulator) spent per request over the counted rounds, then the p99 of every round run.

The line before the last gives the ratio over every round run, disturbed ones included; the
last line is `p99 ratio: <N>x` (daemon p99 / bare p99 over the counted rounds).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import base64  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from gevent import subprocess  # noqa: E402
from targets import API_P99_RATIO, verdict  # noqa: E402

ACCOUNT = {"id": "bench", "laml_project_id": "5f0c6f0e-3b1c-4a53-9f3e-2c1d0b9a8e71",
           "laml_token": "PTbench-laml-token"}
PASSWORD = "ClueCon"
# Where the simulator writes the WAV files (the daemon's recording root): memory when there
# is a tmpfs. The simulator creates each file inside its ESL command handler, on its one
# event loop, so a disk journal stall there (tens of ms) would hold every reply to the
# daemon; FreeSWITCH opens files in the recording session's own thread. The daemon's SQLite
# store stays on disk: its commits are part of what is measured.
MEDIA_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None
RATE = 200.0  # requests/s: what the daemon, the simulator and this generator sustain on 2
# shared cores with room to spare
# A round during which the canary (an otherwise idle process waking every millisecond) was
# held up this long is disturbed: the whole machine stopped (this VM stalls for 20-250 ms
# every few seconds, idle or not), which says nothing about the code under test. Well
# above what scheduling on 2 busy cores costs a woken process (a few ms at most).
STALL = 0.010
NAP = 0.002  # the canary's sleep: short against STALL, long enough to cost next to no CPU
EXTRA_ROUNDS = 2  # a target runs at most (1 + EXTRA_ROUNDS) x rounds to find clean ones
CREATE_FORM = urlencode([
    ("RecordingStatusCallback", "http://127.0.0.1:9/recording-status"),
    ("RecordingStatusCallbackEvent", "completed"),
    ("RecordingStatusCallbackMethod", "POST"),
    ("RecordingChannels", "dual"),
    ("RecordingTrack", "both"),
])


@dataclass(frozen=True)
class Plan:
    rate: float  # requests per second offered
    clients: int  # keep-alive connections
    seconds: float  # measured seconds per round and target
    rounds: int  # measured rounds per target (after one warm-up round)
    warmup: float  # seconds of the warm-up round

    @classmethod
    def for_run(cls, short: bool, rate: float | None = None, seconds: float | None = None,
                clients: int = 200) -> Plan:
        if short:
            return cls(rate or RATE, clients, seconds or 1.0, 3, 0.5)
        return cls(rate or RATE, clients, seconds or 1.5, 8, 1.0)

    @property
    def calls(self) -> int:
        """Calls enough for every request the daemon may get to be the first recording on
        its call, as in real use (its call row is written with it): the probe, the warm-up
        and every round it may run, disturbed ones included."""
        rounds = self.rounds * (1 + EXTRA_ROUNDS)
        return 1 + int(self.rate * self.warmup) + rounds * int(self.rate * self.seconds)

    def describe(self) -> str:
        return (f"offered load: {self.rate:g} requests/s, open loop (paced schedule), from "
                f"{self.clients} keep-alive clients; {self.rounds} x {self.seconds:g} s "
                f"measured per target in alternating rounds after a {self.warmup:g} s "
                f"warm-up (connections kept across rounds); every request on a call of its own "
                f"({self.calls} calls)")


# ------------------------------------------------------------------ child processes


class Child:
    """A child process of this script speaking a line protocol on stdin/stdout."""

    def __init__(self, role: str, *args: str) -> None:
        self.role = role
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--role", role, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, line: str | None = None, timeout: float = 60.0) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if line is not None:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        with gevent.Timeout(timeout, RuntimeError(f"{self.role}: no answer in {timeout}s")):
            answer = self.proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"{self.role} process ended (exit {self.proc.wait()})")
        return answer.strip()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _lines() -> Iterable[str]:
    """stdin lines, read off the gevent hub; ends when the parent closes the pipe."""
    pool = gevent.get_hub().threadpool
    while line := pool.spawn(sys.stdin.readline).get():
        yield line.strip()


def _say(text: str) -> None:
    print(text, flush=True)


def role_switch() -> None:
    """`calls <n> <variable> <account>` makes n answered inbound calls and prints their
    uuids; `cpu` prints the CPU seconds used."""
    from esl_recorder.testing.fakeswitch import FakeSwitch

    with tempfile.TemporaryDirectory(prefix="bench-fs-") as tmp:
        switch = FakeSwitch(password=PASSWORD, clock="manual", recordings_root=tmp).start()
        _say(str(switch.address[1]))
        for line in _lines():
            if line == "cpu":
                _say(str(time.process_time()))
                continue
            _, n, variable, account = line.split()
            reserve_descriptors(int(n))
            uuids = [switch.inbound_call("tone_a", {variable: account}, answered=True)
                     for _ in range(int(n))]
            # FreeSWITCH has no collector pauses: keep the stand-in's out of the daemon's
            # latency too
            gc.freeze()
            gc.disable()
            _say(" ".join(uuids))
        switch.stop()


def reserve_descriptors(files: int) -> None:
    """Grow this process's descriptor table now for `files` more open files (the WAV file
    of every recording stays open). Grown later, one doubling at a time while the rounds
    run, each growth waits for an RCU grace period (synchronize_rcu in expand_files)
    inside the simulator's one event loop, holding every ESL reply; FreeSWITCH opens
    recording files in the session's own thread."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    top = 1024 + files
    if limit != resource.RLIM_INFINITY:
        top = min(top, limit - 1)
    os.close(os.dup2(0, top))  # the table keeps its size once grown


def daemon_settings(tmp: str, media: str, switch_port: int) -> Any:
    from esl_recorder.settings import settings_from_mapping

    return settings_from_mapping({
        "nodes": [{"name": "fs1", "host": "127.0.0.1", "port": switch_port,
                   "password": PASSWORD}],
        "recording": {"root": media},
        "store": {"path": f"{tmp}/state.db"},
        "http": {"port": 0, "max_connections_per_client": 1000},  # every client is on 127.0.0.1
        # the create form's callback is on loopback, refused at request time unless allowed
        "delivery": {"allowed_networks": ["127.0.0.1/32"]},
        "accounts": [ACCOUNT],
    }, source="<bench/latency>", env={})


def role_daemon(switch_port: int) -> None:
    """The daemon as `esl-recorder run` builds and starts it; `wait <uuid>...` waits until
    it tracks those calls as answered, then prints `ok`; `cpu` prints the CPU seconds used."""
    from esl_recorder.app import build_app, freeze_startup_objects
    from esl_recorder.logsetup import configure_logging, register_secret

    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as tmp, \
            tempfile.TemporaryDirectory(prefix="bench-media-", dir=MEDIA_DIR) as media, \
            open(os.environ.get("BENCH_DAEMON_LOG") or f"{tmp}/daemon.log", "w") as log_file:
        settings = daemon_settings(tmp, media, switch_port)
        for node in settings.nodes:
            register_secret(node.password)
        configure_logging(settings.log, stream=log_file)
        app = build_app(settings)
        changed = gevent.event.Event()
        app.tracker.subscribe(lambda name, call: changed.set())
        app.start()
        freeze_startup_objects()
        profiler = _profiler()
        if not app.clients["fs1"].wait_connected(10):
            raise SystemExit("daemon: no ESL connection to the simulator")
        assert app.http is not None
        _say(str(app.http.server_port))
        for line in _lines():
            if line == "cpu":
                _say(str(time.process_time()))
                continue
            uuids = line.split()[1:]
            while not all((c := app.tracker.get(u)) is not None and c.answered for u in uuids):
                changed.clear()
                changed.wait(1.0)
            _say("ok")
        if profiler is not None:
            profiler.dump_stats(os.environ["BENCH_DAEMON_PROFILE"])
        app.stop()


def _profiler() -> Any:
    """BENCH_DAEMON_PROFILE=path: the daemon runs under cProfile (slower: only to see where
    its time goes), its stats written to that file at the end."""
    if not os.environ.get("BENCH_DAEMON_PROFILE"):
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def role_canary() -> None:
    """Sleeps NAP at a time and notes every wake-up late by 2 ms or more; `stall <from>
    <to>` (time.monotonic seconds) prints the longest lateness overlapping that window (ms)."""
    stalls: list[tuple[float, float]] = []  # (asleep at, late by), seconds

    def watch() -> None:
        while True:
            asleep = time.monotonic()
            gevent.sleep(NAP)
            late = time.monotonic() - asleep - NAP
            if late >= 0.002:
                stalls.append((asleep, late))

    gevent.spawn(watch)
    _say("ready")
    for line in _lines():
        _, start, end = line.split()
        since, until = float(start), float(end)
        worst = max((late for at, late in stalls if at < until and at + late > since),
                    default=0.0)
        _say(f"{worst * 1000:.1f}")


def role_bare(body_size: int) -> None:
    """gevent.pywsgi with a WSGI app that reads the request and answers fixed JSON, on
    sockets set up as the daemon's are (TCP_NODELAY, a socket timeout)."""
    from gevent.pywsgi import WSGIHandler, WSGIServer

    class Handler(WSGIHandler):
        def handle(self) -> None:
            self.socket.settimeout(30.0)
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle()

    body = json.dumps({"pad": "x" * max(body_size - 11, 0)}).encode()
    headers = [("Content-Type", "application/json; charset=utf-8"),
               ("Content-Length", str(len(body)))]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["wsgi.input"].read()
        start_response("200 OK", headers)
        return [body]

    server = WSGIServer(("127.0.0.1", 0), app, log=None, handler_class=Handler)
    server.start()
    _say(str(server.server_port))
    for _ in _lines():  # `cpu`
        _say(str(time.process_time()))
    server.stop(timeout=1)


# ------------------------------------------------------------------ the load generator


def create_request(call_uuid: str, port: int) -> bytes:
    path = (f"/api/laml/2010-04-01/Accounts/{ACCOUNT['laml_project_id']}/Calls/{call_uuid}"
            "/Recordings.json")
    auth = base64.b64encode(f"{ACCOUNT['laml_project_id']}:{ACCOUNT['laml_token']}".encode())
    body = CREATE_FORM.encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"User-Agent: bench-latency\r\nAccept: application/json\r\n"
            f"Authorization: Basic {auth.decode()}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection: send a request, read a Content-Length answer."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4:]
        status = int(head.split(" ", 2)[1])
        length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")[1:]
                       if line.lower().startswith("content-length:")), None)
        if length is None:
            raise RuntimeError(f"answer without Content-Length: {head!r}")
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, body

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("connection closed by the server")
        self.buf += data

    def close(self) -> None:
        self.sock.close()


@dataclass
class Round:
    """One measured round of one target."""

    latencies: list[float] = field(default_factory=list)  # seconds, from the due time
    errors: list[str] = field(default_factory=list)
    sent: int = 0
    seconds: float = 0.0  # how long it lasted
    cpu: float = 0.0  # CPU seconds the server process used in it
    sim_cpu: float = 0.0  # CPU seconds the simulator used in it
    stall: float = 0.0  # the longest machine stall the canary saw during it (seconds)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)


@dataclass
class Samples:
    """A target's rounds: the first `wanted` undisturbed ones are counted; when too many
    were disturbed, the least disturbed fill the remaining places (and the report says so)."""

    wanted: int
    rounds: list[Round] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return sum(1 for r in self.rounds if not disturbed(r)) >= self.wanted

    def counted(self) -> list[Round]:
        clean = [r for r in self.rounds if not disturbed(r)][:self.wanted]
        rest = sorted((r for r in self.rounds if disturbed(r)), key=lambda r: r.stall)
        return clean + rest[:self.wanted - len(clean)]

    def latencies(self, rounds: list[Round] | None = None) -> list[float]:
        return [x for r in (self.counted() if rounds is None else rounds) for x in r.latencies]

    def percentile(self, q: float, rounds: list[Round] | None = None) -> float:
        return percentile(self.latencies(rounds), q)


def disturbed(r: Round) -> bool:
    return r.stall >= STALL


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


class Feed:
    """A target's requests in order, each used once (then from the start again, which the
    plan's call count avoids)."""

    def __init__(self, requests: list[bytes]) -> None:
        self.requests = requests
        self.used = 0

    def take(self, n: int) -> list[bytes]:
        batch = [self.requests[(self.used + j) % len(self.requests)] for j in range(n)]
        self.used += n
        return batch


def run_round(conns: list[Connection], feed: Feed, plan: Plan, seconds: float) -> Round:
    """One round of the paced schedule on a target's open connections."""
    total = int(plan.rate * seconds)
    requests = feed.take(total)
    out = Round()
    start = time.perf_counter() + 0.05

    def client(i: int) -> None:
        conn = conns[i]
        for j in range(i, total, plan.clients):
            due = start + j / plan.rate
            if (wait := due - time.perf_counter()) > 0:
                gevent.sleep(wait)
            status, body = conn.exchange(requests[j])
            done = time.perf_counter()
            out.sent += 1
            if status >= 300:
                out.errors.append(f"{status} {body[:200]!r}")
            else:
                out.latencies.append(done - due)

    gevent.joinall([gevent.spawn(client, i) for i in range(plan.clients)], raise_error=True)
    out.seconds = time.perf_counter() - start
    return out


# ------------------------------------------------------------------ the run


class Setup:
    """The three server processes, started and fed with calls."""

    def __init__(self, plan: Plan) -> None:
        from esl_recorder.settings import IdentitySettings

        self.switch = Child("switch")
        self.children = [self.switch]
        try:
            switch_port = int(self.switch.ask())
            self.daemon = Child("daemon", str(switch_port))
            self.children.append(self.daemon)
            self.daemon_port = int(self.daemon.ask())
            variable = IdentitySettings().account_variable
            uuids = self.switch.ask(f"calls {plan.calls} {variable} {ACCOUNT['id']}").split()
            self.daemon.ask("wait " + " ".join(uuids))
            self.requests = [create_request(u, self.daemon_port) for u in uuids]
            size = self._probe()
            self.bare = Child("bare", str(size))
            self.children.append(self.bare)
            self.bare_port = int(self.bare.ask())
        except BaseException:
            self.close()
            raise

    def _probe(self) -> int:
        """One real create: it must succeed; its body size is what the bare one answers."""
        conn = Connection(self.daemon_port)
        try:
            status, body = conn.exchange(self.requests[-1])  # the rounds' feeds leave it
        finally:
            conn.close()
        if status != 200 or json.loads(body).get("status") not in ("queued", "in-progress"):
            raise RuntimeError(f"the daemon refused the create request: {status} {body!r}")
        return len(body)

    def close(self) -> None:
        for child in reversed(self.children):
            child.close()


def measure(plan: Plan) -> tuple[Samples, Samples]:
    """The clients connect once per target and keep their connections for every round (no
    accept or close storm inside a measured round). The targets take turns; a target whose
    round was disturbed by a machine stall runs another, until each has `plan.rounds`
    undisturbed rounds or has run (1 + EXTRA_ROUNDS) times that many."""
    setup = Setup(plan)
    canary = Child("canary")
    bare, daemon = Samples(plan.rounds), Samples(plan.rounds)
    conns: list[Connection] = []
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()  # this process is the instrument: no collector pause (100+ ms) in a round
    try:
        canary.ask()
        targets = []
        for child, port, samples in ((setup.bare, setup.bare_port, bare),
                                     (setup.daemon, setup.daemon_port, daemon)):
            clients = [Connection(port) for _ in range(plan.clients)]
            conns += clients
            targets.append((child, clients, samples))
        feeds = {id(clients): Feed(setup.requests[:-1]) for _, clients, _ in targets}
        for _, clients, _ in targets:
            run_round(clients, feeds[id(clients)], plan, plan.warmup)
        limit = plan.rounds * (1 + EXTRA_ROUNDS)
        while busy := [t for t in targets if not t[2].complete and len(t[2].rounds) < limit]:
            for child, clients, samples in busy:
                samples.rounds.append(
                    timed_round(setup, canary, child, clients, feeds[id(clients)], plan))
    finally:
        if collecting:
            gc.enable()
        for conn in conns:
            conn.close()
        canary.close()
        setup.close()
    return bare, daemon


def timed_round(setup: Setup, canary: Child, server: Child, clients: list[Connection],
                feed: Feed, plan: Plan) -> Round:
    """A measured round with the CPU both server processes spent in it and the longest
    machine stall the canary saw meanwhile."""
    cpu, sim = float(server.ask("cpu")), float(setup.switch.ask("cpu"))
    since = time.monotonic()
    r = run_round(clients, feed, plan, plan.seconds)
    until = time.monotonic()
    r.cpu = float(server.ask("cpu")) - cpu
    r.sim_cpu = float(setup.switch.ask("cpu")) - sim
    r.stall = float(canary.ask(f"stall {since} {until}")) / 1000
    return r


def report(name: str, s: Samples) -> None:
    rounds = s.counted()
    sent = sum(r.sent for r in rounds)
    lat = s.latencies()
    per_request = 1000 / max(sent, 1)
    rate = sent / max(sum(r.seconds for r in rounds), 1e-9)
    print(f"{name}: p50 {s.percentile(50) * 1000:.2f} ms  p99 {s.percentile(99) * 1000:.2f} ms"
          f"  max {max(lat, default=0) * 1000:.1f} ms  ({len(lat)} answered, "
          f"{sum(len(r.errors) for r in rounds)} errors, {rate:.0f} requests/s done; "
          f"CPU per request: server {sum(r.cpu for r in rounds) * per_request:.2f} ms, "
          f"simulator {sum(r.sim_cpu for r in rounds) * per_request:.2f} ms)")
    counted = {id(r) for r in rounds}
    print("  p99 of each round, ms (a machine stall the canary saw in it): " + "  ".join(
        round_note(r, id(r) in counted) for r in s.rounds))


def round_note(r: Round, counted: bool) -> str:
    if not disturbed(r):
        return f"{r.p99 * 1000:.1f}"
    verdict = "counted" if counted else "run again"
    return f"{r.p99 * 1000:.1f} ({r.stall * 1000:.0f} ms stall: {verdict})"


def errors(s: Samples) -> list[str]:
    return [e for r in s.rounds for e in r.errors]


def bench_latency(short: bool, *, rate: float | None = None, seconds: float | None = None,
                  clients: int = 200) -> float:
    """Run the comparison, print it, return the p99 ratio (daemon / bare)."""
    plan = Plan.for_run(short, rate, seconds, clients)
    print("latency: LaML create-recording POST (form, HTTP Basic) -> uuid_record on the "
          "simulator, vs a bare gevent.pywsgi JSON endpoint")
    print(plan.describe())
    print(f"daemon store on disk ({tempfile.gettempdir()}); simulator's WAV files in "
          f"{MEDIA_DIR or tempfile.gettempdir()}")
    bare, daemon = measure(plan)
    report("bare gevent.pywsgi", bare)
    report("esl_recorder daemon", daemon)
    for name, s in (("bare", bare), ("daemon", daemon)):
        if errs := errors(s):
            raise SystemExit(f"{name}: {len(errs)} failed requests, first: {errs[0]}")
    every = daemon.percentile(99, daemon.rounds) / bare.percentile(99, bare.rounds)
    print(f"every round run, disturbed ones too: daemon p99 / bare p99 = {every:.2f}")
    ratio = daemon.percentile(99) / bare.percentile(99)
    verdict(f"p99 within {API_P99_RATIO:g}x of the bare endpoint's", ratio <= API_P99_RATIO,
            short)
    print(f"p99 ratio: {ratio:.2f}x")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--short", action="store_true", help="a few seconds (CI)")
    parser.add_argument("--rate", type=float, help=f"offered requests/s (default {RATE:g})")
    parser.add_argument("--seconds", type=float, help="measured seconds per round")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--role", choices=("switch", "daemon", "bare", "canary"),
                        help=argparse.SUPPRESS)
    parser.add_argument("arg", nargs="?", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "switch":
        role_switch()
    elif args.role == "daemon":
        role_daemon(args.arg)
    elif args.role == "bare":
        role_bare(args.arg)
    elif args.role == "canary":
        role_canary()
    else:
        bench_latency(args.short, rate=args.rate, seconds=args.seconds, clients=args.clients)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
