"""Several daemons on one PostgreSQL: callbacks/s for one daemon and for three, and how long
a node whose owner was killed (kill -9) waits for another daemon.

Run by hand:  python bench/scale.py [--callbacks N] [--short]

A throwaway PostgreSQL (tests/postgres_server.py: initdb + pg_ctl on 127.0.0.1, fsync off)
and a receiver process (bench/callbacks.py's: answers 200) are started. Callbacks phase, for
1 and then 3 worker processes on a fresh database each: N callbacks (N/2 keys, two per key)
are put in the outbox as a backlog, then every worker starts the daemon's Outbox (default
delivery settings, PostgresStore, claims) at once; timed until no item is pending.
Takeover phase: two processes run the daemon's node ownership (cluster.NodeOwnership over
store/node_locks.py, store.takeover_time as set, default 5 s) for one node; the owner is
killed with SIGKILL and the time until the other one owns the node is printed.
The last lines are `callbacks/s 1 daemon: <N>`, `callbacks/s 3 daemons: <N>` and
`takeover_s: <S>`.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from callbacks import BODY, ReceiverProcess  # noqa: E402
from postgres_server import ThrowawayPostgres, find_bindir  # noqa: E402


def worker(url: str) -> None:
    """Worker mode: one daemon's Outbox on the store at `url`, started on a line on stdin,
    until stdin closes."""
    from prometheus_client import CollectorRegistry

    from esl_recorder.delivery.outbox import Outbox
    from esl_recorder.delivery.targets import TargetPolicy
    from esl_recorder.metrics import make_metrics
    from esl_recorder.settings import DeliverySettings
    from esl_recorder.store.postgres import PostgresStore

    store = PostgresStore(url, pool_size=10)
    outbox = Outbox(store, DeliverySettings(), make_metrics(CollectorRegistry()),
                    targets=TargetPolicy.build(["127.0.0.0/8"]))
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


def fill(url: str, n: int, target: str) -> None:
    """N pending callbacks on N/2 keys, in one statement."""
    import psycopg

    from esl_recorder.delivery.request import OutboundRequest
    from esl_recorder.store.postgres import PostgresStore

    PostgresStore(url).close()  # create the schema
    payload = OutboundRequest("POST", target, {
        "Content-Type": "application/x-www-form-urlencoded"}, BODY.format(key=0)).to_payload()
    origin = target.split("/status")[0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO outbox(kind,key,target,payload,created_at,next_attempt_at) "
            "SELECT 'recording-status', 'RE' || (i / 2), %s, %s, %s, %s "
            "FROM generate_series(0, %s - 1) AS i",
            (origin, json.dumps(payload), time.time(), time.time(), n))


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


def callbacks_per_second(server: ThrowawayPostgres, receiver: ReceiverProcess, n: int,
                         daemons: int) -> float:
    url = server.new_database()
    fill(url, n, receiver.url)
    workers = [spawn("--worker", url)[0] for _ in range(daemons)]
    try:
        started = time.monotonic()
        for proc in workers:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        while pending(url):
            time.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        for proc in workers:
            close(proc)
    rate = n / elapsed
    print(f"{daemons} daemon(s): {n} callbacks in {elapsed:.2f} s: {rate:.0f}/s", flush=True)
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
    parser.add_argument("--takeover-time", type=float, default=5.0)
    parser.add_argument("--short", action="store_true", help="2000 callbacks (CI)")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--owner", nargs=2, metavar=("URL", "T"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    if args.owner:
        owner(args.owner[0], float(args.owner[1]))
        return 0
    bindir = find_bindir()
    if bindir is None:
        print("PostgreSQL is not installed (initdb, pg_ctl): apt-get install postgresql",
              file=sys.stderr)
        return 1
    n = 2_000 if args.short else args.callbacks
    server = ThrowawayPostgres(bindir)
    receiver = ReceiverProcess()
    try:
        server.start()
        one = callbacks_per_second(server, receiver, n, 1)
        three = callbacks_per_second(server, receiver, n, 3)
        took = takeover_seconds(server, args.takeover_time)
    finally:
        receiver.close()
        server.remove()
    print(f"callbacks/s 1 daemon: {one:.0f}")
    print(f"callbacks/s 3 daemons: {three:.0f} ({three / one:.2f}x)")
    print(f"takeover_s: {took:.2f}")
    return 0 if took <= args.takeover_time else 1


if __name__ == "__main__":
    sys.exit(main())
