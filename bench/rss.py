"""The RSS of a bench's daemon child while it does one thing, and the lines that report it
(bench/media.py, bench/uploads.py; bench/trim.py reads its child's peak with max_rss_mb).

In the child, after gevent's monkey patching:

    with RssWatch() as rss:  # settles, reads the idle RSS, then samples VmRSS every 10 ms
        ...  # the work measured
    print(json.dumps({..., **rss.report()}))

In the parent, `print_rss(report, target_mb)` prints the idle and peak RSS, whether the peak
stays within `target_mb` of idle, and last `rss_growth_mb: <N>`.
"""

from __future__ import annotations

import gc
import resource
from collections.abc import Mapping
from typing import Any

from targets import verdict

SETTLE_S = 0.5  # after start-up, before the idle reading
SAMPLE_INTERVAL_S = 0.01


def vm_rss_mb() -> float:
    """This process's resident set now."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def max_rss_mb() -> float:
    """This process's peak resident set so far (ru_maxrss: kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssWatch:
    """The idle RSS before the block, its peak during it: the most of VmRSS sampled in a
    greenlet and of ru_maxrss."""

    def __init__(self) -> None:
        self.idle = self.peak = 0.0
        self.samples: list[float] = []
        self._sampler: Any = None

    def __enter__(self) -> RssWatch:
        import gevent  # the child imports this module before gevent's patching

        gc.collect()
        gevent.sleep(SETTLE_S)
        self.idle = vm_rss_mb()
        self.samples = [self.idle]
        self._sampler = gevent.spawn(self._sample)
        return self

    def _sample(self) -> None:
        import gevent

        while True:
            self.samples.append(vm_rss_mb())
            gevent.sleep(SAMPLE_INTERVAL_S)

    def __exit__(self, *exc: object) -> None:
        self._sampler.kill()
        self.peak = max(max(self.samples), max_rss_mb())

    def report(self) -> dict[str, float]:
        return {"idle_mb": self.idle, "peak_mb": self.peak,
                "sampled_peak_mb": max(self.samples)}


def print_rss(report: Mapping[str, Any], target_mb: float) -> None:
    idle, peak = float(report["idle_mb"]), float(report["peak_mb"])
    print(f"daemon rss: idle {idle:.1f} MB, peak {peak:.1f} MB "
          f"(sampled {float(report['sampled_peak_mb']):.1f} MB)")
    verdict(f"within {target_mb:g} MB of idle", peak - idle <= target_mb)
    print(f"rss_growth_mb: {peak - idle:.1f}")
