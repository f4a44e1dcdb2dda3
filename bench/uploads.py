"""Upload memory benchmark: a one-hour recording sent to a `url` by the url-upload handler.

Run by hand:  python bench/uploads.py [--minutes 60] [--short]

Writes a WAV of --minutes of 16 kHz stereo (Kazoo's default rate for stereo: 1 h is
230 MB), starts a receiver in another process (it reads and drops the body, answers 200),
then runs one attempt of delivery/uploads.py's UrlUploads (the handler the daemon's outbox
runs, with its guarded connection pools and sha256 check) in this process, sampling this
process's RSS every 50 ms. Prints the idle RSS (after the handler is built), the peak during
the upload, their difference, and the throughput. The last line is `rss_growth_mb: <N>`
(the issue's bound: 20 MB). --short: 2 minutes.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import wave  # noqa: E402

import gevent  # noqa: E402

from esl_recorder.delivery.targets import TargetPolicy  # noqa: E402
from esl_recorder.delivery.uploads import KIND, UrlUploads  # noqa: E402
from esl_recorder.domain.ports import OutboxItem  # noqa: E402

RATE, CHANNELS = 16000, 2
PAGE = os.sysconf("SC_PAGE_SIZE")
RECEIVER = """
import socket, sys
srv = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        f = conn.makefile("rb")
        length = 0
        while (line := f.readline()) not in (b"\\r\\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        while length > 0:
            length -= len(f.read(min(length, 1 << 20)))
        conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n")
"""


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_wav(path: str, minutes: float) -> tuple[int, str]:
    """A tone-free, noise-free WAV (its bytes do not matter); its size and sha256."""
    second = bytes(RATE * CHANNELS * 2)
    with wave.open(path, "wb") as w:
        w.setnchannels(CHANNELS)
        w.setsampwidth(2)
        w.setframerate(RATE)
        for _ in range(int(minutes * 60)):
            w.writeframesraw(second)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return os.path.getsize(path), digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--short", action="store_true", help="2 minutes of audio (CI)")
    args = parser.parse_args(argv)
    minutes = 2.0 if args.short else args.minutes
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
        with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
            path = os.path.join(tmp, "hour.wav")
            size, sha256 = write_wav(path, minutes)
            upload(path, size, sha256, port, minutes)
    finally:
        receiver.kill()
        receiver.wait()
    return 0


def upload(path: str, size: int, sha256: str, port: int, minutes: float) -> None:
    handler = UrlUploads(TargetPolicy.build(("127.0.0.0/8",), own=[]), timeout=600,
                         keep_local=True, exists=lambda sid: True, per_host=1)
    url = f"http://127.0.0.1:{port}/rec/call_recording_x.wav?call_id=x"
    item = OutboxItem(1, KIND, "upload:RE0", f"http://127.0.0.1:{port}",
                      {"sid": "RE0", "path": path, "size": size, "sha256": sha256,
                       "url": url, "method": "PUT", "content_type": "audio/x-wav"},
                      0, time.time(), time.time(), "pending", None)
    idle = rss_mb()
    peak = [idle]

    def sample() -> None:
        while True:
            peak[0] = max(peak[0], rss_mb())
            gevent.sleep(0.05)

    sampler = gevent.spawn(sample)
    started = time.monotonic()
    attempt = handler.attempt(item)
    took = time.monotonic() - started
    sampler.kill()
    handler.close()
    assert attempt.status == 200, attempt
    print(f"{minutes:g} min of {RATE} Hz stereo: {size / 1e6:.1f} MB in {took:.1f} s "
          f"({size / 1e6 / took:.0f} MB/s)")
    print(f"rss idle: {idle:.1f} MB, peak during the upload: {peak[0]:.1f} MB")
    print(f"rss_growth_mb: {peak[0] - idle:.1f}")


if __name__ == "__main__":
    sys.exit(main())
