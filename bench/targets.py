"""The targets the benches check, and the one line each prints about its own:
`target (<what>): met` or `target (<what>): NOT met`. Printed just before a bench's last line
(the number tests and scripts read), except where a bench's docstring says otherwise."""

from __future__ import annotations

INGEST_RATIO = 10.0  # events/s through the daemon's handler, over stock greenswitch's
TRACKED_RSS_MB = 150.0  # 10,000 tracked calls, each with an active recording
API_P99_RATIO = 3.0  # LaML create p99, over a bare gevent WSGI endpoint's
CALLBACKS_PER_S = 1000.0  # callbacks delivered per second
POLICY_CPU_MS = 2.0  # daemon CPU per policy-recorded call


def verdict(what: str, met: bool, short: bool = False) -> None:
    """`short`: a CI smoke run, too small for its numbers to judge the target by."""
    note = " (a --short run: only indicative)" if short else ""
    print(f"target ({what}): {'met' if met else 'NOT met'}{note}")
