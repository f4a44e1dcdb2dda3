"""bench/api.py --short still runs its latency half end to end and prints the line people
grep for (the ratio itself is not asserted: on shared CI cores it is only indicative)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "api.py"
TARGET = re.compile(r"^(bare gevent\.pywsgi|esl_recorder daemon): p50 [\d.]+ ms  p99 [\d.]+ ms"
                    r"  max [\d.]+ ms  \((\d+) answered, (\d+) errors,", re.M)


def test_latency_bench_short_mode() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--short", "--only", "latency"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^offered load: 200 requests/s, open loop", out, re.M), out
    targets = {m[1]: (int(m[2]), int(m[3])) for m in TARGET.finditer(out)}
    assert set(targets) == {"bare gevent.pywsgi", "esl_recorder daemon"}, out
    assert all(answered == 600 and errors == 0 for answered, errors in targets.values()), out
    rounds = re.findall(r"^  p99 of each round, ms \(a machine stall the canary saw in it\): (.+)$",
                        out, re.M)
    assert len(rounds) == 2 and all(re.match(r"\d+\.\d", r) for r in rounds), out
    assert re.search(r"^every round run, disturbed ones too: daemon p99 / bare p99 = \d+\.\d+$",
                     out, re.M), out
    assert re.fullmatch(r"target \(p99 within 3x of the bare endpoint's\): (met|NOT met)"
                        r" \(a --short run: only indicative\)",
                        out.splitlines()[-2]), out
    assert re.fullmatch(r"p99 ratio: \d+\.\d+x", out.splitlines()[-1]), out
