"""API benchmarks: start-recording request latency and callback delivery throughput.

Run by hand:  python bench/api.py [--short] [--only latency|callbacks]

  latency    bench/latency.py bench_latency(): the daemon's p99 for LaML create-recording
             requests against a bare gevent.pywsgi endpoint; prints `p99 ratio: <N>x`.
  callbacks  bench/callbacks.py bench_callbacks(): the Outbox delivering to a receiver in
             another process (a backlog, then live enqueues); prints `callbacks/s: <N>`.

--short runs each in a few seconds (CI runs it); the numbers then are only indicative.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import sys  # noqa: E402

from callbacks import bench_callbacks  # noqa: E402
from latency import bench_latency  # noqa: E402

SHORT_CALLBACKS = 2_000
CALLBACKS = 20_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--short", action="store_true", help="a few seconds each (CI)")
    parser.add_argument("--only", choices=("latency", "callbacks"), help="run one part")
    args = parser.parse_args(argv)
    if args.only in (None, "latency"):
        bench_latency(args.short)
    if args.only in (None, "callbacks"):
        bench_callbacks(SHORT_CALLBACKS if args.short else CALLBACKS, short=args.short)
    return 0


if __name__ == "__main__":
    sys.exit(main())
