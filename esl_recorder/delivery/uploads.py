"""Finished recordings sent to a customer's URL by HTTP PUT or POST (Kazoo's `url`), through
the durable outbox: an item of kind "url-upload" per recording, queued by the dialect with
the change that completes the recording (inside that change's transaction).

- An attempt streams the file from disk (never whole in memory) in UPLOAD_CHUNK pieces,
  hashing them as they go: bytes that are not the ones finalize hashed abort the request
  before its last byte (the receiver gets a body shorter than its Content-Length) and the
  item is given up. The body is the file itself, `Content-Type` the recording's.
- Where it connects is checked like every callback (targets.py, the guarded pools of
  sender.py); redirects are not followed; the whole attempt has `timeout` seconds.
- A 2xx answer confirms it: only then is the local file removed, when `keep_local` is
  false. Anything else is retried with the outbox's backoff (given up after
  delivery.max_age, or at once for a 4xx that says "never"), across restarts: an attempt
  cut by `kill -9` runs again, from the file still on disk.
- A recording deleted before its upload ran is not uploaded.
- With media in S3 (media.backend s3) the local file is the S3 upload's to remove: an upload
  to a URL never removes it then, and one that finds it already gone sends the stored object
  instead (same size and sha256 checks).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import certifi
import gevent
import urllib3
from urllib3.exceptions import HTTPError

from ..domain.ports import MediaStream, OutboxItem
from .finalized import DONE, DigestMismatch, open_finalized, refused
from .policy import Attempt, parse_retry_after
from .request import safe_url
from .sender import MAX_ORIGINS, USER_AGENT, describe, guarded_pools
from .targets import TargetPolicy, TargetRefused

log = logging.getLogger(__name__)

KIND = "url-upload"
UPLOAD_CHUNK = 64 * 1024


class Readable(Protocol):
    def read(self, n: int, /) -> bytes: ...


class ChunkReader:
    """`read(n)` over the pieces of a stored object's stream."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, n: int, /) -> bytes:
        pieces, have = [self._buffer], len(self._buffer)
        while have < n:
            piece = next(self._chunks, b"")
            if not piece:
                break
            pieces.append(piece)
            have += len(piece)
        data = b"".join(pieces)
        self._buffer = data[n:]
        return data[:n]


def file_chunks(f: Readable, size: int, sha256: str) -> Iterator[bytes]:
    """`size` bytes of `f`, piece by piece; DigestMismatch before the last piece when their
    sha256 is not `sha256` (so the request is cut short)."""
    digest = hashlib.sha256()
    left = size
    while left > 0:
        data = f.read(min(UPLOAD_CHUNK, left))
        if not data:
            raise DigestMismatch(f"the file ended {left} bytes early")
        digest.update(data)
        left -= len(data)
        if left == 0 and digest.hexdigest() != sha256:
            raise DigestMismatch(f"sha256 of the bytes read is {digest.hexdigest()}, "
                                 f"finalize computed {sha256}")
        yield data


class UrlUploads:
    """The outbox handler of url-upload items."""

    def __init__(self, targets: TargetPolicy, *, timeout: float, keep_local: bool,
                 exists: Callable[[str], bool], per_host: int,
                 stored: Callable[[str], MediaStream | None] | None = None) -> None:
        """`stored`: the recording's object in the media store (media.backend s3), which
        then owns the local file (never removed here)."""
        self._timeout = timeout
        self._keep_local = keep_local or stored is not None
        self._exists = exists
        self._stored = stored
        self._pools = urllib3.PoolManager(num_pools=MAX_ORIGINS, maxsize=per_host,
                                          block=False, retries=False,
                                          cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
        self._pools.pool_classes_by_scheme = guarded_pools(targets)

    def attempt(self, item: OutboxItem) -> Attempt:
        try:
            return self._upload(item.payload)
        except (KeyError, TypeError, ValueError) as exc:  # a payload this code did not write
            return Attempt(None, f"stored item is not valid: {exc!r}", refused=True)

    def describe(self, item: OutboxItem) -> str:
        return f"{item.payload.get('method', '?')} {safe_url(str(item.payload.get('url', '')))}"

    def close(self) -> None:
        self._pools.clear()

    def _upload(self, p: dict[str, Any]) -> Attempt:
        sid, path, url = str(p["sid"]), str(p["path"]), str(p["url"])
        size, sha256, method = int(p["size"]), str(p["sha256"]), str(p["method"]).upper()
        if method not in ("PUT", "POST"):
            raise ValueError(f"method {method}")
        if not self._exists(sid):
            log.info("recording %s: deleted before its upload: not uploaded", sid)
            return DONE
        f = open_finalized(sid, path, size)
        if f is None:
            return self._upload_stored(p)
        if isinstance(f, Attempt):
            return f
        with f:
            attempt = self._send(method, url, f, size, sha256, str(p["content_type"]))
        if attempt.status is not None and 200 <= attempt.status < 300:
            log.info("recording %s: %s to %s done (%d bytes, HTTP %d)", sid, method,
                     safe_url(url), size, attempt.status)
            if not self._keep_local:
                os.unlink(path)
        return attempt

    def _upload_stored(self, p: dict[str, Any]) -> Attempt:
        """The local file is gone (uploaded to S3 and removed): send the stored object."""
        sid, url, size = str(p["sid"]), str(p["url"]), int(p["size"])
        if self._stored is None:
            return refused(sid, "the local file is gone")
        try:
            stream = self._stored(sid)
        except Exception as exc:
            return Attempt(None, f"recording {sid}: the media store: {describe(exc)}")
        if stream is None:
            return refused(sid, "the local file is gone and the media store has none")
        try:
            if stream.size != size:
                return refused(sid, f"the stored object is {stream.size} bytes, finalize "
                                    f"saw {size}")
            attempt = self._send(str(p["method"]).upper(), url, ChunkReader(stream.chunks),
                                 size, str(p["sha256"]), str(p["content_type"]))
        finally:
            stream.close()
        if attempt.status is not None and 200 <= attempt.status < 300:
            log.info("recording %s: %s to %s done from the media store (%d bytes, HTTP %d)",
                     sid, p["method"], safe_url(url), size, attempt.status)
        return attempt

    def _send(self, method: str, url: str, f: Readable, size: int, sha256: str,
              content_type: str) -> Attempt:
        headers = {"User-Agent": USER_AGENT, "Content-Type": content_type,
                   "Content-Length": str(size)}
        deadline = gevent.Timeout(self._timeout)
        deadline.start()
        try:
            resp = self._pools.urlopen(method, url, body=file_chunks(f, size, sha256),
                                       headers=headers, redirect=False, retries=False,
                                       preload_content=False, chunked=False,
                                       timeout=urllib3.Timeout(total=self._timeout))
            resp.drain_conn()
            resp.release_conn()
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise
            return Attempt(None, f"timeout after {self._timeout:g}s")
        except DigestMismatch as exc:
            return Attempt(None, f"the file changed since finalize: {exc}", refused=True)
        except TargetRefused as exc:
            return Attempt(None, f"target refused: {exc}", unreachable=True)
        except (OSError, HTTPError, http.client.HTTPException) as exc:
            cause = exc.__context__ or exc.__cause__
            if isinstance(cause, DigestMismatch):
                return Attempt(None, f"the file changed since finalize: {cause}",
                               refused=True)
            return Attempt(None, describe(exc))
        finally:
            deadline.close()
        retry_after = resp.headers.get("Retry-After") if resp.status in (429, 503) else None
        return Attempt(resp.status, retry_after=parse_retry_after(retry_after))
