"""What a request handed to another daemon costs: the latency of a LaML stop sent to the
daemon that owns the node (local) and to one that does not (forwarded through PostgreSQL).

Run by hand:  python bench/forwarding.py [--requests N] [--short]

A throwaway PostgreSQL (tests/postgres_server.py), a simulated FreeSWITCH node in this
process, and two daemon processes (`python -m esl_recorder run`, several_daemons): the first
owns the node. Each round answers a call, starts a recording on it through the owner, and
stops it through the owner or the other daemon, alternately; only the stop is timed (one
request at a time, keep-alive). The last lines are `local stop: p50 <ms> p99 <ms>` and
`forwarded stop: p50 <ms> p99 <ms>`.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]  # before bench/: its api.py is not tests/api

from api.conftest import ACME_LAML, basic  # noqa: E402
from integration.live import eventually  # noqa: E402
from postgres_server import ThrowawayPostgres, find_bindir  # noqa: E402
from scale.cluster import Daemon, make_cluster  # noqa: E402

from esl_recorder.settings import IdentitySettings  # noqa: E402
from esl_recorder.testing.fakeswitch import FakeSwitch  # noqa: E402

LAML = f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}"
AUTH = {"Authorization": basic(*ACME_LAML)}


def one_stop(sim: FakeSwitch, owner: Daemon, via: Daemon) -> float:
    """Seconds to stop a fresh recording through `via`."""
    call = sim.inbound_call("tone_a", {IdentitySettings().account_variable: "acme"},
                            answered=True)
    sid = eventually(lambda: (r := owner.request(
        "POST", f"{LAML}/Calls/{call}/Recordings.json", headers=AUTH)).status_code in (200, 201)
        and r.json()["sid"], 10, "the recording started")
    started = time.perf_counter()
    r = via.request("POST", f"{LAML}/Calls/{call}/Recordings/{sid}.json", headers=AUTH,
                    data={"Status": "stopped"})
    took = time.perf_counter() - started
    assert r.status_code == 200, r.text
    sim.hangup(call)
    return took


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1000:.1f} ms p99 {p99 * 1000:.1f} ms ({len(ordered)} requests)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300, help="stops of each kind")
    parser.add_argument("--short", action="store_true", help="20 of each (CI)")
    args = parser.parse_args(argv)
    bindir = find_bindir()
    if bindir is None:
        print("no PostgreSQL (initdb) found: install Debian's postgresql", file=sys.stderr)
        return 1
    n = 20 if args.short else args.requests
    server = ThrowawayPostgres(bindir)
    server.start()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = make_cluster(server.new_database(), Path(tmp), daemons=2, nodes=("fs1",),
                               log={"level": "WARNING"})
        try:
            owner, other = cluster.daemons
            owner.start()
            eventually(lambda: owner.owned() == {"fs1"}, 15, "the owner")
            other.start()
            sim = cluster.switches["fs1"]
            local: list[float] = []
            forwarded: list[float] = []
            for _ in range(n):
                local.append(one_stop(sim, owner, owner))
                forwarded.append(one_stop(sim, owner, other))
        finally:
            cluster.stop()
            server.remove()
    print(f"local stop: {percentiles(local)}")
    print(f"forwarded stop: {percentiles(forwarded)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
