"""Media in S3-compatible storage: a real SeaweedFS for the session, the daemon against the
simulator with media.backend s3, a minio client to look into the bucket."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from api.conftest import ACCOUNTS, Api
from daemon.conftest import DaemonFactory, daemon_factory, switch  # noqa: F401
from minio import Minio
from minio.error import S3Error
from store_backends import s3_media_settings

from esl_recorder.testing.fakeswitch import FakeSwitch
from esl_recorder.testing.seaweed import ACCESS_KEY, BUCKET, SECRET_KEY, Seaweed, free_ports

from .proxy import Relay

FAST_RETRIES = {"initial_delay": 0.05, "max_delay": 0.2}


def bucket_client(endpoint: str) -> Minio:
    return Minio(endpoint.removeprefix("http://"), access_key=ACCESS_KEY,
                 secret_key=SECRET_KEY, secure=False, region="us-east-1")


class Bucket:
    """The test's view into the bucket."""

    def __init__(self, endpoint: str) -> None:
        self.client = bucket_client(endpoint)

    def read(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(BUCKET, key)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                return None
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def sha256(self, key: str) -> str | None:
        data = self.read(key)
        return None if data is None else hashlib.sha256(data).hexdigest()


@pytest.fixture
def bucket(seaweed: Seaweed) -> Bucket:
    return Bucket(seaweed.endpoint)


S3ApiFactory = Callable[..., Api]


@pytest.fixture
def s3_api(daemon_factory: DaemonFactory, switch: FakeSwitch,  # noqa: F811
           seaweed: Seaweed) -> Iterator[S3ApiFactory]:
    """`s3_api(endpoint=..., **media)`: a started daemon with media.backend s3."""
    sessions: list[requests.Session] = []

    def make(endpoint: str | None = None, **media: Any) -> Api:
        daemon = daemon_factory(
            accounts=ACCOUNTS, delivery=FAST_RETRIES,
            bandwidth={"dial_string": "loopback/{to}/rectest", "application": "&park()"},
            media=s3_media_settings(endpoint or seaweed.endpoint, **media))
        assert daemon.app.clients["fs1"].wait_connected(5)
        assert daemon.app.http is not None
        http = requests.Session()
        sessions.append(http)
        return Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)

    yield make
    for http in sessions:
        http.close()


@pytest.fixture
def relay(seaweed: Seaweed) -> Iterator[Relay]:
    """A relay to the S3 server on a fixed port, not listening yet (S3 is 'down')."""
    r = Relay(("127.0.0.1", seaweed.s3_port), free_ports(1)[0])
    yield r
    r.stop()


def object_key(account: str, sid: str, ext: str = "wav") -> str:
    return f"recordings/{account}/{sid}.{ext}"


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
