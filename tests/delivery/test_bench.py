"""bench/api.py --short still runs its callback half and prints the line people grep for."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "api.py"


def test_callback_bench_short_mode() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--short", "--only", "callbacks"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^backlog: 2000 callbacks delivered in ", out, re.M), out
    assert re.search(r"^live: 2000 callbacks delivered in ", out, re.M), out
    assert "failed attempts" not in out, out
    assert re.fullmatch(r"target \(at least 1,000 callbacks/s\): (met|NOT met)"
                        r" \(a --short run: only indicative\)",
                        out.splitlines()[-2]), out
    assert re.search(r"^callbacks/s: \d+$", out.splitlines()[-1]), out
