"""bench/policies.py --short still runs end to end and prints the line people grep for."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "policies.py"


def test_policy_bench_short_mode() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--short"], capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^calls/s: [\d.]+$", out, re.M), out
    assert re.search(r"^event lag p99: <= [\d.]+ ms$", out, re.M), out
    assert re.fullmatch(r"target \(at most 2 ms of daemon CPU per call\): (met|NOT met)"
                        r" \(a --short run: only indicative\)",
                        out.splitlines()[-2]), out
    assert re.search(r"^daemon_cpu_ms_per_call: [\d.]+$", out.splitlines()[-1]), out


UPLOAD_BENCH = BENCH.with_name("uploads.py")


def test_upload_bench_short_mode() -> None:
    done = subprocess.run([sys.executable, str(UPLOAD_BENCH), "--short"], capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^rss_growth_mb: -?[\d.]+$", done.stdout.splitlines()[-1]), done.stdout
