"""Callback delivery throughput: the daemon's Outbox against a receiver in another process.

Run by hand:  python bench/callbacks.py [--callbacks N] [--short] [--history ROWS]
From bench/api.py:  bench_callbacks(n) -> callbacks/s

Processes: the receiver is a bare gevent.pywsgi app answering `200` with an empty body,
in its own process (like a customer's webhook server), on 127.0.0.1; this process runs
the Outbox exactly as build_app() makes it (SQLite store in a temporary directory, the
default delivery settings: 64 in flight, 8 per receiver origin, keep-alive pools).

Two phases, each timed from the first enqueue until the last result is stored (the
count comes from Outbox.subscribe, called after the results' transaction commits):
  backlog: N callbacks already in the store when the deliverer starts (a receiver back
           after an outage, or a restart with pending callbacks);
  live:    N callbacks enqueued one by one while the deliverer runs, as dialects do.
Callbacks use N/2 keys (two per recording, like in-progress then completed), so per-key
ordering is exercised. The enqueue cost alone (one committed insert) is printed as well.
--history ROWS first writes that many delivered callbacks into the store (a daemon that
has run for a while): the outbox reads only its partial indexes of pending rows, so the
rates should not move.
The last line is `callbacks/s: <N>`, the lower of the two phases' rates.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402
from targets import CALLBACKS_PER_S, verdict  # noqa: E402

from esl_recorder.delivery.outbox import OutboundRequest, Outbox  # noqa: E402
from esl_recorder.delivery.targets import TargetPolicy  # noqa: E402
from esl_recorder.metrics import make_metrics  # noqa: E402
from esl_recorder.settings import DeliverySettings  # noqa: E402
from esl_recorder.store.sqlite import OutboxItem, Store  # noqa: E402

BODY = ("AccountSid=0b7c2cb2-7d5f-4c8e-9a51-5d6f1a3c8e01&CallSid=5c4b1f6e-0f0e-4c39-a6a1-"
        "1c2d3e4f5a6b&RecordingSid=RE{key:032x}&RecordingStatus=completed&RecordingDuration=42"
        "&RecordingChannels=2&RecordingSource=StartCallRecordingApi&RecordingTrack=both")


def serve_receiver() -> None:
    """The receiver process: prints its port, answers every request 200, until stdin
    closes."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    server = WSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
    server.start()
    print(server.server_port, flush=True)
    gevent.get_hub().threadpool.spawn(sys.stdin.read).get()  # until the parent goes
    server.stop(timeout=1)


class ReceiverProcess:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-receiver"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}/status?tenant=1"

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Counter:
    """Results stored so far; wakes the waiter when `target` delivered ones are in."""

    def __init__(self) -> None:
        self.delivered = 0
        self.other = 0
        self.target = 0
        self.done = gevent.event.Event()

    def __call__(self, item: OutboxItem, result: str) -> None:
        if result == "delivered":
            self.delivered += 1
        else:
            self.other += 1
        if self.delivered >= self.target:
            self.done.set()

    def expect(self, total: int) -> None:
        self.target = total
        self.done.clear()


def enqueue(outbox: Outbox, url: str, first: int, n: int) -> None:
    for i in range(first, first + n):
        key = i // 2
        request = OutboundRequest("POST", url, {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "bench"}, BODY.format(key=key))
        outbox.enqueue(request, key=f"RE{key:032x}", dialect="laml", kind="recording-status")


def bench_callbacks(n: int = 20_000, settings: DeliverySettings | None = None, *,
                    history: int = 0, short: bool = False) -> float:
    """Print the phases' rates and `callbacks/s: <N>`; returns that N. `history`
    delivered rows are put in the store first (a daemon that has run for a while)."""
    settings = settings or DeliverySettings()
    receiver = ReceiverProcess()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "state.db")
        if history:
            fill_history(path, history, receiver.url)
        store = Store(path)
        outbox = Outbox(store, settings, make_metrics(CollectorRegistry()),
                        targets=TargetPolicy.build(["127.0.0.0/8"]))  # the local receiver
        counter = Counter()
        outbox.subscribe(counter)
        try:
            started = time.perf_counter()
            enqueue(outbox, receiver.url, 0, n)
            enqueue_rate = n / (time.perf_counter() - started)
            counter.expect(n)
            started = time.perf_counter()
            outbox.start()
            backlog = _finish(counter, n, started, "backlog")
            counter.expect(2 * n)
            started = time.perf_counter()
            gevent.spawn(enqueue, outbox, receiver.url, n, n)
            live = _finish(counter, n, started, "live")
        finally:
            outbox.stop()
            store.close()
            receiver.close()
    print(f"enqueue: {n} callbacks stored at {enqueue_rate:,.0f}/s (one committed insert "
          "each)")
    rate = min(backlog, live)
    verdict(f"at least {CALLBACKS_PER_S:,.0f} callbacks/s", rate >= CALLBACKS_PER_S, short)
    print(f"callbacks/s: {rate:.0f}")
    return rate


def fill_history(path: str, rows: int, url: str) -> None:
    """`rows` delivered callbacks of other recordings, written in one transaction."""
    Store(path).close()  # the schema
    started = time.perf_counter()
    payload = json.dumps(OutboundRequest("POST", url, {}, BODY.format(key=0)).to_payload())
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO outbox(kind,key,target,payload,state,attempts,created_at,"
            "next_attempt_at,finished_at) VALUES('recording-status',?,?,?,'delivered',1,?,?,?)",
            ((f"REh{i:030x}", url.split("/status")[0], payload, i, i, i + 1)
             for i in range(rows)))
    db.close()
    print(f"history: {rows:,} delivered callbacks already in the store "
          f"({time.perf_counter() - started:.1f}s to write)")


def _finish(counter: Counter, n: int, started: float, phase: str) -> float:
    cpu = _cpu_seconds()
    if not counter.done.wait(timeout=max(60.0, n / 100)):
        raise SystemExit(f"{phase}: only {counter.delivered} delivered")
    elapsed = time.perf_counter() - started
    per_callback = (_cpu_seconds() - cpu) / n * 1e6
    rate = n / elapsed
    failed = f", {counter.other} failed attempts" if counter.other else ""
    print(f"{phase}: {n} callbacks delivered in {elapsed:.2f}s = {rate:,.0f}/s "
          f"(daemon CPU {per_callback:.0f} us per callback{failed})")
    return rate


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--callbacks", type=int, default=20_000, help="per phase")
    parser.add_argument("--short", action="store_true", help="small run for CI (seconds)")
    parser.add_argument("--concurrency", type=int, default=DeliverySettings.concurrency)
    parser.add_argument("--per-host", type=int, default=DeliverySettings.per_host)
    parser.add_argument("--history", type=int, default=0, metavar="ROWS",
                        help="delivered rows put in the store first")
    parser.add_argument("--serve-receiver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_receiver:
        serve_receiver()
        return 0
    settings = DeliverySettings(concurrency=args.concurrency, per_host=args.per_host)
    bench_callbacks(2_000 if args.short else args.callbacks, settings, history=args.history,
                    short=args.short)
    return 0


if __name__ == "__main__":
    sys.exit(main())
