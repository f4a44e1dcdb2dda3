"""One S3 bucket through the `minio` client: streamed multipart puts, heads, relayed gets,
presigned GET URLs, removals.

minio rather than boto3: it is built on urllib3 (the callbacks' transport already), streams
a put part by part from any object with read() (with num_parallel_uploads=1 one part is
sent while the next is read: about three times `part_size` resident with the allocator's
slack, flat in the file's length; bench/media.py measures it), aborts its
multipart upload when the put fails, and presigns offline when the region is given. boto3
would bring botocore and about 50 MB more resident memory.

The endpoint is operator configuration (media.s3_endpoint, validated as an http(s) origin),
so it is not subject to delivery.allowed_networks. The urllib3 pool has its own timeouts
and one read retry; the outbox retries everything else. Errors become short reasons without
credentials or signed URLs (`describe`).
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO, Protocol, cast
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError

from ..settings import MediaSettings
from .sender import describe as describe_network_error

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0  # seconds to connect to the endpoint
READ_TIMEOUT = 120.0  # seconds one socket read (or a part's answer) may take
RELAY_CHUNK = 64 * 1024  # bytes per chunk when relaying an object to an HTTP client
SHA256_META = "sha256"  # object metadata x-amz-meta-sha256: the digest computed at finalize
MISSING = frozenset({"NoSuchKey", "NoSuchObject", "NotFound"})


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class StoredObject:
    size: int
    sha256: str  # "" when the object carries none


@dataclass(frozen=True)
class ObjectStream:
    size: int
    chunks: Iterator[bytes]
    response: urllib3.BaseHTTPResponse

    def close(self) -> None:
        self.response.close()
        self.response.release_conn()


class Bucket:
    def __init__(self, settings: MediaSettings, per_host: int) -> None:
        parts = urlsplit(settings.s3_endpoint)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.name = settings.s3_bucket
        self._part_size = settings.part_size
        tls = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE")
                                         or certifi.where())
        pool = urllib3.PoolManager(
            maxsize=per_host, block=False, cert_reqs="CERT_REQUIRED", ssl_context=tls,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
            retries=urllib3.Retry(total=1, connect=0, read=1, redirect=0, status=0,
                                  other=0, allowed_methods=None, raise_on_status=False))
        self._client = Minio(parts.netloc, access_key=settings.s3_access_key,
                             secret_key=settings.s3_secret_key,
                             secure=parts.scheme == "https", region=settings.s3_region,
                             http_client=pool)
        self._pool = pool

    def put(self, key: str, data: Readable, size: int, *, content_type: str,
            sha256: str) -> None:
        """Stream `size` bytes from `data` into `key`, part by part."""
        self._client.put_object(self.name, key, cast(BinaryIO, data), size,
                                content_type=content_type, metadata={SHA256_META: sha256},
                                part_size=self._part_size, num_parallel_uploads=1)

    def stat(self, key: str) -> StoredObject | None:
        """The object's size and recorded sha256, or None when there is no such object."""
        try:
            info = self._client.stat_object(self.name, key)
        except S3Error as exc:
            if exc.code in MISSING:
                return None
            raise
        meta = info.metadata or {}
        return StoredObject(info.size or 0, str(meta.get(f"x-amz-meta-{SHA256_META}", "")))

    def open(self, key: str) -> ObjectStream | None:
        """The object's bytes as a stream (close it), or None when there is no such object."""
        try:
            response = self._client.get_object(self.name, key)
        except S3Error as exc:
            if exc.code in MISSING:
                return None
            raise
        size = int(response.headers.get("Content-Length", "0"))
        return ObjectStream(size, response.stream(RELAY_CHUNK, decode_content=False),
                            response)

    def presign(self, key: str, ttl: int) -> str:
        return self._client.presigned_get_object(self.name, key,
                                                 expires=timedelta(seconds=ttl))

    def remove(self, key: str) -> None:
        """Remove `key`; no error when it is already gone."""
        self._client.remove_object(self.name, key)

    def close(self) -> None:
        self._pool.clear()


def describe(exc: BaseException) -> str:
    """A short reason for a failed S3 request: the service's error code and words, the HTTP
    status, or the network error; never a URL (a presigned one holds a signature)."""
    if isinstance(exc, S3Error):
        return f"S3 {exc.code}: {exc.message}"
    if isinstance(exc, ServerError):
        return f"S3 HTTP {exc.status_code}"
    if isinstance(exc, InvalidResponseError):
        return "S3 answered with something that is not an S3 response"
    if isinstance(exc, MinioException):
        return type(exc).__name__
    return describe_network_error(exc)
