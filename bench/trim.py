"""Silence-trim benchmark: peak memory of trimming a long recording.

Run by hand:  python bench/trim.py [--short] [--minutes N] [--dir DIR]

A stereo 8 kHz 16-bit WAV (what FreeSWITCH writes for a dual-channel call) of one hour
(--short: 5 minutes) is generated: a tone with 5 s of silence at each end. A child process
then does only `domain.audio.trim_wav_silence` on it, so its peak RSS (ru_maxrss) is the
trim's and nothing else's; the child first reports its RSS after the imports alone.
The last lines are `rss_mb: <N>` (the child's peak) and whether the target (under 100 MB)
is met.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from rss import max_rss_mb
from targets import verdict
from tone import RATE, write_tone_wav

SILENCE_S = 5
TARGET_MB = 100.0


def child(path: str) -> None:
    """Child-process mode: trim `path`, print what it cost as one JSON line."""
    from esl_recorder.domain import audio

    imports = max_rss_mb()
    started = time.perf_counter()
    removed = audio.trim_wav_silence(path)
    seconds = time.perf_counter() - started
    peak = max_rss_mb()
    print(json.dumps({"imports_mb": imports, "peak_mb": peak, "seconds": seconds,
                      "removed_ms": removed}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--short", action="store_true", help="a 5-minute file (CI)")
    parser.add_argument("--minutes", type=int, help="length of the file (default 60)")
    parser.add_argument("--dir", help="where to write the file (default: the temp dir)")
    parser.add_argument("--child", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    minutes = args.minutes or (5 if args.short else 60)
    with tempfile.TemporaryDirectory(prefix="esl-bench-trim-", dir=args.dir) as tmp:
        path = os.path.join(tmp, "call.wav")
        write_tone_wav(path, minutes * 60, SILENCE_S)
        print(f"trim: {minutes} min stereo {RATE // 1000} kHz WAV, "
              f"{os.path.getsize(path) / 1e6:.1f} MB, {SILENCE_S} s of silence at each end "
              f"(trimmed in a child process)")
        done = subprocess.run([sys.executable, __file__, "--child", path], check=True,
                              capture_output=True, text=True)
    result = json.loads(done.stdout)
    print(f"trimmed {result['removed_ms']:,} ms in {result['seconds']:.2f} s")
    print(f"child RSS after imports: {result['imports_mb']:.1f} MB")
    print(f"rss_mb: {result['peak_mb']:.1f}")
    met = result["peak_mb"] < TARGET_MB
    verdict(f"peak RSS under {TARGET_MB:.0f} MB", met)
    return 0


if __name__ == "__main__":
    sys.exit(main())
