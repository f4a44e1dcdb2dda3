"""Upload memory benchmark: the daemon's RSS while it sends a one-hour recording to a Kazoo `url`.

Run by hand:  python bench/uploads.py [--minutes 60] [--short]

A stereo 8 kHz 16-bit WAV of --minutes (1 h: 115 MB; --short: 5 minutes) is generated, and a
receiver started in its own process (127.0.0.1, port 0) that streams each request body to a
file on disk and answers 200. A child process builds the whole daemon (build_app; its
FreeSWITCH node is a closed port, so nothing else happens; loopback allowed as a delivery
target), stores a Kazoo recording of that file with a `url` and completes it the way a
finished recording is completed (RecordingRegistry.transition to completed, which queues the
upload in the same transaction); the outbox then runs the real url-upload handler. The child
reports its RSS when idle (daemon started, before the upload), its peak during the upload
(ru_maxrss and samples of VmRSS), and the upload's MB/s. The bench checks the received file's
sha256 against the recording's and prints `rss_growth_mb: <N>` and whether the target
(within 20 MB of idle) is met.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

from rss import RssWatch, print_rss

from esl_recorder.domain.audio import sha256_of

RATE = 8000
CHANNELS = 2
TARGET_MB = 20.0
MIB = 1 << 20
RECEIVER = """
import socket, sys
srv = socket.create_server(("127.0.0.1", 0))
out_dir = sys.argv[1]
print(srv.getsockname()[1], flush=True)
n = 0
while True:
    conn, _ = srv.accept()
    n += 1
    with conn:
        f = conn.makefile("rb")
        request = f.readline().decode("latin-1").split()
        length = 0
        while (line := f.readline()) not in (b"\\r\\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        with open(f"{out_dir}/body-{n}", "wb") as body:
            while length > 0:
                chunk = f.read(min(length, 1 << 20))
                if not chunk:
                    break
                body.write(chunk)
                length -= len(chunk)
        with open(f"{out_dir}/request-{n}", "w") as meta:
            meta.write(" ".join(request[:2]))
        conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n")
"""


def write_recording(path: str, seconds: int) -> None:
    """Silence (its bytes do not matter), written a minute at a time."""
    minute = bytes(RATE * CHANNELS * 2 * 60)
    with wave.open(path, "wb") as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(2)
        out.setframerate(RATE)
        for start in range(0, seconds, 60):
            out.writeframes(minute[:RATE * CHANNELS * 2 * min(60, seconds - start)])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child(args: argparse.Namespace) -> None:
    """Child-process mode: the daemon uploads `args.file`; one JSON line of what it cost."""
    from gevent import monkey

    monkey.patch_all()
    import time
    import uuid

    import gevent
    import gevent.event

    from esl_recorder.app import build_app
    from esl_recorder.domain.options import RecordOptions
    from esl_recorder.domain.recording import FileFacts, Recording, State, new_sid
    from esl_recorder.settings import settings_from_mapping

    settings = settings_from_mapping({
        "nodes": [{"name": "fs1", "host": "127.0.0.1", "port": args.closed_port}],
        "recording": {"root": args.work}, "store": {"path": f"{args.work}/state.db"},
        "http": {"port": 0}, "delivery": {"allowed_networks": ["127.0.0.0/8"]},
        "kazoo": {"keep_local": True},
    }, source="<bench>", env={})
    app = build_app(settings)
    app.start()
    size = os.path.getsize(args.file)
    rec = Recording(sid=new_sid(), call_uuid=str(uuid.uuid4()), node="fs1", path=args.file,
                    options=RecordOptions(), account="bench", state=State.IN_PROGRESS,
                    source="kazoo", created_at=time.time(),
                    meta={"url": f"http://127.0.0.1:{args.port}/recordings/", "method": "put"})
    app.recordings.add(rec)
    app.recordings.transition(rec, State.STOPPED)
    done = gevent.event.AsyncResult()

    def on_result(_item: object, result: str) -> None:
        if result != "retry":
            done.set(result)

    app.outbox.subscribe(on_result)
    with RssWatch() as rss:
        started = time.perf_counter()
        app.recordings.transition(rec, State.COMPLETED,
                                  file=FileFacts(args.minutes * 60_000, CHANNELS, RATE, size,
                                                 args.sha256))
        result = done.get(timeout=args.timeout)
        seconds = time.perf_counter() - started
    app.stop(timeout=5)
    print(json.dumps({"result": result, "seconds": seconds, "size": size, **rss.report()}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--short", action="store_true", help="5 minutes of audio (CI)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--sha256", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--closed-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    minutes = 5 if args.short else args.minutes
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as work:
        return run(minutes, work)


def run(minutes: int, work: str) -> int:
    path = os.path.join(work, "bench", "recording.wav")
    received = os.path.join(work, "received")
    os.makedirs(os.path.dirname(path))
    os.makedirs(received)
    write_recording(path, minutes * 60)
    size, sha256 = os.path.getsize(path), sha256_of(path)
    print(f"recording: {minutes} min stereo 8 kHz WAV, {size / MIB:.1f} MiB")
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, received],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline())
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--file", path, "--sha256", sha256,
             "--work", work, "--port", str(port), "--closed-port", str(closed_port()),
             "--minutes", str(minutes)],
            capture_output=True, text=True, check=False)
    finally:
        receiver.kill()
        receiver.wait()
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return 1
    return report(json.loads(out.stdout.strip().splitlines()[-1]), received, sha256, size)


def report(child_report: dict[str, float | str], received: str, sha256: str,
           size: int) -> int:
    body, first = os.path.join(received, "body-1"), Path(received, "request-1")
    request = first.read_text() if first.exists() else "nothing"
    verified = (os.path.exists(body) and sha256_of(body) == sha256
                and child_report["result"] == "delivered")
    seconds = float(child_report["seconds"])
    print(f"upload: {child_report['result']} in {seconds:.2f} s, "
          f"{size / MIB / seconds:.1f} MiB/s ({request.split('?')[0]}?...)")
    print(f"received file sha256 {'matches' if verified else 'DIFFERS FROM'} the recording's")
    print_rss(child_report, TARGET_MB)
    return 0 if verified else 1


if __name__ == "__main__":
    sys.exit(main())
