"""bench/ingest.py --short still runs and prints the lines people grep for."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ingest.py"


def test_ingest_bench_short_mode() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--short"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^ratio: \d+\.\dx$", out, re.M), out
    assert re.search(r"^rss_mb: \d+\.\d$", out, re.M), out
    short = r" \(a --short run: only indicative\)"
    assert re.search(rf"^target \(at least 10x stock greenswitch\): (met|NOT met){short}$",
                     out, re.M), out
    assert re.search(r"^target \(1,000 tracked calls with active recordings under 150 MB\): "
                     rf"(met|NOT met){short}$", out, re.M), out
    assert "greenswitch InboundESL" in out and "EslClient + " in out
