"""Several daemons on one PostgreSQL: callbacks/s and uploads/s for one daemon and for three,
where the CPU goes meanwhile, and how long a node whose owner was killed (kill -9) waits for
another daemon.

Run by hand:  python bench/scale.py [--callbacks N] [--uploads N] [--short]

A throwaway PostgreSQL (tests/postgres_server.py: initdb + pg_ctl on 127.0.0.1, fsync off),
a receiver process (bench/callbacks.py's: answers 200) and a throwaway SeaweedFS
(esl_recorder/testing/seaweed.py) are started. Callbacks phase, for 1 and then 3 worker
processes on a fresh database each: N callbacks (N/2 keys, two per key) are put in the
outbox as a backlog, then every worker starts the daemon's Outbox (default delivery
settings, PostgresStore) at once; timed until no item is pending. Uploads phase, the same
with N upload items (media.backend s3: delivery/media.py's handler, each a 10 s mono 8 kHz
WAV of 160 kB, its sha256 checked as it is read, keep_local so the next run has the files).
For each run the CPU of each process group during it is printed (read from /proc: the
workers, PostgreSQL's server processes, the receiver, SeaweedFS), per item and as a share of
a core, with the whole machine's busy time (other work included): what each item costs,
and whether the run was short of CPU or waiting.
Takeover phase: two processes run the daemon's node ownership (cluster.NodeOwnership over
store/node_locks.py, store.takeover_time as set, default 5 s) for one node; the owner is
killed with SIGKILL and the time until the other one owns the node is printed.
The last lines are `callbacks/s 1 daemon: <N>`, `callbacks/s 3 daemons: <N>`, the same for
`uploads/s` (left out when SeaweedFS is not installed) and `takeover_s: <S>`.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import wave  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from callbacks import BODY, ReceiverProcess  # noqa: E402
from postgres_server import ThrowawayPostgres, find_bindir  # noqa: E402

from esl_recorder.testing.seaweed import (  # noqa: E402
    ACCESS_KEY,
    BUCKET,
    SECRET_KEY,
    Seaweed,
    weed_binary,
)

TICK = os.sysconf("SC_CLK_TCK")
UPLOAD_SECONDS = 10  # each uploaded file: 10 s of 8 kHz 16-bit mono


def worker(url: str, endpoint: str) -> None:
    """Worker mode: one daemon's Outbox on the store at `url` (with the S3 upload handler
    when `endpoint` is set), started on a line on stdin, until stdin closes."""
    from prometheus_client import CollectorRegistry

    from esl_recorder.delivery.media import S3Media
    from esl_recorder.delivery.outbox import Outbox
    from esl_recorder.delivery.targets import TargetPolicy
    from esl_recorder.metrics import make_metrics
    from esl_recorder.settings import DeliverySettings, MediaSettings
    from esl_recorder.store.postgres import PostgresStore

    store = PostgresStore(url, pool_size=10)
    metrics = make_metrics(CollectorRegistry())
    settings = DeliverySettings()
    outbox = Outbox(store, settings, metrics, targets=TargetPolicy.build(["127.0.0.0/8"]))
    if endpoint:
        S3Media(MediaSettings(backend="s3", s3_endpoint=endpoint, s3_bucket=BUCKET,
                              s3_access_key=ACCESS_KEY, s3_secret_key=SECRET_KEY,
                              keep_local=True),
                outbox, metrics, exists=lambda sid: True, per_host=settings.per_host)
    print("ready", flush=True)
    reader = gevent.get_hub().threadpool
    reader.spawn(sys.stdin.readline).get()
    outbox.start()
    reader.spawn(sys.stdin.read).get()
    outbox.stop()
    store.close()


def owner(url: str, takeover: float) -> None:
    """Ownership mode: own node `n1` when possible; print the time when it is taken."""
    from esl_recorder.cluster import NodeOwnership
    from esl_recorder.store.node_locks import PostgresNodeLocks

    def took(node: str) -> None:
        print(json.dumps({"took": time.time()}), flush=True)

    ownership = NodeOwnership(PostgresNodeLocks(url, f"bench-{os.getpid()}", 5.0), ["n1"],
                              takeover, on_take=took, on_give_up=lambda node: None)
    ownership.start()  # its first turn: the node taken now, or tried again later
    print("ready", flush=True)
    gevent.get_hub().threadpool.spawn(sys.stdin.read).get()


def fill_callbacks(url: str, n: int, target: str) -> None:
    """N pending callbacks on N/2 keys, in one statement."""
    from esl_recorder.delivery.request import OutboundRequest

    payload = OutboundRequest("POST", target, {
        "Content-Type": "application/x-www-form-urlencoded"}, BODY.format(key=0)).to_payload()
    insert(url, "'recording-status', 'RE' || (i / 2), %s, %s", n,
           target.split("/status")[0], json.dumps(payload))


def fill_uploads(url: str, n: int, endpoint: str, files: list[tuple[str, str]],
                 run: str) -> None:
    """N pending uploads of `files` (path, sha256) in turn, each to an object of its own."""
    payloads = [{"sid": f"RE{i:032x}", "path": files[i % len(files)][0],
                 "size": os.path.getsize(files[i % len(files)][0]),
                 "sha256": files[i % len(files)][1], "key": f"bench/{run}/{i}.wav",
                 "content_type": "audio/wav"} for i in range(n)]
    insert(url, "'media', 'media:' || i, %s, (%s::jsonb -> i)::text", n, endpoint,
           json.dumps(payloads))


def insert(url: str, columns: str, n: int, *args: str) -> None:
    """N outbox rows (i = 0..N-1) whose kind, key, target, payload are `columns`."""
    import psycopg

    from esl_recorder.store.postgres import PostgresStore

    PostgresStore(url).close()  # create the schema
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO outbox(kind,key,target,payload,created_at,next_attempt_at) "
            f"SELECT {columns}, %s, %s FROM generate_series(0, %s - 1) AS i",
            (*args, time.time(), time.time(), n))


def upload_files(directory: str, count: int = 8) -> list[tuple[str, str]]:
    """`count` different WAV files (path, sha256)."""
    files = []
    for i in range(count):
        path = os.path.join(directory, f"up{i}.wav")
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(bytes([i]) * (2 * 8000 * UPLOAD_SECONDS))
        files.append((path, hashlib.sha256(Path(path).read_bytes()).hexdigest()))
    return files


def drop(server: ThrowawayPostgres, url: str) -> None:
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {url.rsplit('/', 1)[1]}".encode())


def pending(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT COUNT(*) FROM outbox WHERE state='pending'").fetchone()
    return int(row[0]) if row else 0


def spawn(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    """A process of this script in another mode, once it printed `ready`; with the lines it
    printed before."""
    proc = subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    before: list[str] = []
    for line in proc.stdout:
        if line.strip() == "ready":
            return proc, before
        before.append(line)
    raise RuntimeError(f"{args[0]} process did not start")


def close(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# CPU accounting from /proc -------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def with_children(pid: int) -> list[int]:
    """`pid` and its child processes (PostgreSQL's backends, SeaweedFS's)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return [pid, *children]


def machine_busy() -> float:
    """CPU seconds every core spent busy since boot (all processes)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICK  # less idle and iowait


@dataclass
class Groups:
    """The processes of each part of the run, read again at each sample (backends come and
    go with connections)."""

    parts: dict[str, Callable[[], list[int]]]

    def sample(self) -> dict[str, float]:
        seen = {name: sum(cpu_seconds(p) for p in pids()) for name, pids in self.parts.items()}
        seen["machine"] = machine_busy()
        return seen


def postmaster_pid(server: ThrowawayPostgres) -> int:
    return int(Path(server.data, "postmaster.pid").read_text().split()[0])


# the phases ----------------------------------------------------------------------------------
@dataclass
class Phase:
    name: str  # callbacks | uploads
    fill: Callable[[str, int], None]  # (store url, n)
    endpoint: str = ""  # the workers' S3 endpoint (uploads)


def per_second(server: ThrowawayPostgres, phase: Phase, n: int, daemons: int,
               others: dict[str, Callable[[], list[int]]]) -> float:
    url = server.new_database()
    phase.fill(url, n)
    workers = [spawn("--worker", url, phase.endpoint)[0] for _ in range(daemons)]
    postmaster = postmaster_pid(server)
    groups = Groups({"daemons": lambda: [w.pid for w in workers],
                     "postgres": lambda: with_children(postmaster), **others})
    try:
        before = groups.sample()
        started = time.monotonic()
        for proc in workers:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        while pending(url):
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        after = groups.sample()
    finally:
        for proc in workers:
            close(proc)
        drop(server, url)  # its autovacuum would be counted in the next run
    rate = n / elapsed
    print(f"{daemons} daemon(s): {n} {phase.name} in {elapsed:.2f} s: {rate:.0f}/s", flush=True)
    used = {name: after[name] - before[name] for name in after}
    machine = used.pop("machine")
    print(f"  cpu ms per {phase.name[:-1]}: " + ", ".join(
        f"{name} {1000 * cpu / n:.2f}" for name, cpu in used.items()), flush=True)
    print("  cpu during the run, % of one core: " + ", ".join(
        f"{name} {100 * cpu / elapsed:.0f}" for name, cpu in used.items())
        + f"; whole machine {100 * machine / elapsed:.0f} of {100 * (os.cpu_count() or 1)}"
        f" (other work included)", flush=True)
    return rate


def takeover_seconds(server: ThrowawayPostgres, takeover: float) -> float:
    url = server.new_database()
    first, took_first = spawn("--owner", url, str(takeover))
    assert took_first, "the first process did not take the node"
    second, took_second = spawn("--owner", url, str(takeover))
    assert not took_second, "the node had two owners"
    try:
        killed = time.time()
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        assert second.stdout is not None
        took = float(json.loads(second.stdout.readline())["took"]) - killed
    finally:
        close(second)
    print(f"takeover after kill -9: {took:.2f} s (store.takeover_time {takeover:g} s)",
          flush=True)
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--callbacks", type=int, default=20_000)
    parser.add_argument("--uploads", type=int, default=1_000)
    parser.add_argument("--takeover-time", type=float, default=5.0)
    parser.add_argument("--short", action="store_true", help="2000 callbacks, 100 uploads (CI)")
    parser.add_argument("--worker", nargs=2, metavar=("URL", "S3"), help=argparse.SUPPRESS)
    parser.add_argument("--owner", nargs=2, metavar=("URL", "T"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    if args.owner:
        owner(args.owner[0], float(args.owner[1]))
        return 0
    bindir = find_bindir()
    if bindir is None:
        print("PostgreSQL is not installed (initdb, pg_ctl): apt-get install postgresql",
              file=sys.stderr)
        return 1
    calls, uploads = (2_000, 100) if args.short else (args.callbacks, args.uploads)
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    server = ThrowawayPostgres(bindir)
    receiver = ReceiverProcess()
    binary = weed_binary()
    work = tempfile.TemporaryDirectory(prefix="bench-scale.")
    seaweed = Seaweed(binary, Path(work.name, "seaweed")) if binary and uploads else None
    rates: dict[str, list[float]] = {}
    try:
        server.start()
        on_receiver = {"receiver": lambda: [receiver.proc.pid]}
        phases = [(Phase("callbacks", lambda url, n: fill_callbacks(url, n, receiver.url)),
                   calls, on_receiver)]
        if seaweed is not None and uploads:
            seaweed.start()
            make_bucket(seaweed.endpoint)
            files = upload_files(work.name)
            runs = iter(range(1, 100))
            phases.append((Phase("uploads", lambda url, n: fill_uploads(
                url, n, seaweed.endpoint, files, str(next(runs))), seaweed.endpoint),
                uploads, {"seaweedfs": lambda: with_children(seaweed_pid(seaweed))}))
        for phase, n, others in phases:
            rates[phase.name] = [per_second(server, phase, n, d, others) for d in (1, 3)]
        took = takeover_seconds(server, args.takeover_time)
    finally:
        receiver.close()
        server.remove()
        if seaweed is not None:
            seaweed.stop()
        work.cleanup()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    for name, (one, three) in rates.items():
        print(f"{name}/s 1 daemon: {one:.0f}")
        print(f"{name}/s 3 daemons: {three:.0f} ({three / one:.2f}x)")
    print(f"takeover_s: {took:.2f}")
    return 0 if took <= args.takeover_time else 1


def seaweed_pid(seaweed: Seaweed) -> int:
    assert seaweed.process is not None
    return seaweed.process.pid


def make_bucket(endpoint: str) -> None:
    from minio import Minio

    Minio(endpoint.removeprefix("http://"), access_key=ACCESS_KEY, secret_key=SECRET_KEY,
          secure=False, region="us-east-1").make_bucket(BUCKET)


if __name__ == "__main__":
    sys.exit(main())
