"""Finished recordings to S3-compatible object storage, through the durable outbox.

- Queued with the change that completes the recording (`on_recording`, a registry listener:
  inside that change's transaction), as an outbox item of kind "media" whose payload names
  the recording sid, its local path, size, the sha256 computed at finalize and the object key.
  Its lane is the endpoint's origin; its key `media:<sid>` (the recording's callbacks are not
  held up behind an upload, and its removal queues behind it).
- An attempt (`attempt`) streams the file into the bucket part by part, hashing the bytes as
  they are read: if they are not the bytes finalize hashed, the last read raises before the
  multipart upload is completed (minio then aborts it) and the item is given up with that
  reason. Then the object's size is checked, then the local file removed (unless
  media.keep_local), or, while its call is still up, when the call ends: a script on the call
  may still play it (SWML `play` of `${record_call_url}`, a Kazoo voicemail playback), and
  FreeSWITCH plays files. Anything else that fails is retried with the outbox's backoff.
- A recording deleted before its upload ran is not uploaded. Deleting a recording queues a
  "media-delete" item on the same key: it runs after any upload still pending or in flight.
- An attempt cut by a crash runs again after the restart; a file already removed after a
  verified upload is recognised by the object's size and recorded sha256.
- Media requests (`fetch`, the domain's MediaStore port) relay the object, or redirect to a
  presigned URL valid media.presign_ttl seconds (media.serve).

The Handler shape (attempt/describe/close, registered per kind with the outbox) is what any
other destination of recordings implements (an HTTP PUT to a customer URL, say).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import gevent.lock

from ..domain.calls import Call, CallEvent
from ..domain.options import MEDIA_TYPES
from ..domain.ports import MediaRedirect, MediaStream, MediaUnavailable, OutboxItem
from ..domain.recording import Recording, State
from ..errors import NotFound
from ..metrics import Metrics
from ..settings import MediaSettings
from .finalized import DONE, DigestMismatch, HashingReader, open_finalized, refused
from .objects import Bucket, describe
from .outbox import Outbox
from .policy import Attempt

log = logging.getLogger(__name__)

UPLOAD = "media"
REMOVE = "media-delete"
UPLOADS_AT_ONCE = 2  # uploads in flight: memory is about 3 x part_size each
NO_ACCOUNT = "_"


class S3Media:
    """The MediaStore port over one bucket, and the outbox handler of its items."""

    def __init__(self, settings: MediaSettings, outbox: Outbox, metrics: Metrics, *,
                 exists: Callable[[str], bool], per_host: int,
                 call_live: Callable[[str], bool] = lambda uuid: False) -> None:
        self._settings = settings
        self._outbox = outbox
        self._exists = exists
        self._call_live = call_live
        self._held: dict[str, list[tuple[str, str]]] = {}  # call uuid -> (sid, local path)
        self._bucket = Bucket(settings, per_host)
        self._uploads = gevent.lock.BoundedSemaphore(UPLOADS_AT_ONCE)
        outbox.register(UPLOAD, self, metrics.upload_attempts)
        outbox.register(REMOVE, self, metrics.media_removals)

    def key_for(self, rec: Recording) -> str:
        prefix = self._settings.s3_prefix.replace("{account}", rec.account or NO_ACCOUNT)
        return f"{prefix}{rec.sid}.{rec.options.format.value}"

    # queueing (registry listener, inside the change's transaction) ----------------------
    def on_recording(self, rec: Recording, previous: State) -> None:
        if rec.state is not State.COMPLETED or previous is State.COMPLETED or rec.file is None:
            return
        payload = {"sid": rec.sid, "call": rec.call_uuid, "path": rec.path,
                   "size": rec.file.size,
                   "sha256": rec.file.sha256, "key": self.key_for(rec),
                   "content_type": MEDIA_TYPES[rec.options.format]}
        self._outbox.put(UPLOAD, f"media:{rec.sid}", self._bucket.origin, payload,
                         dialect=rec.source or "none")
        log.info("recording %s: upload to s3 queued (%s)", rec.sid, payload["key"])

    # MediaStore ----------------------------------------------------------------------
    def stream(self, rec: Recording) -> MediaStream | None:
        """The recording's object as a stream (close it), or None when there is none."""
        stream = self._bucket.open(self.key_for(rec))
        return None if stream is None else MediaStream(stream.size, stream.chunks, stream.close)

    def fetch(self, rec: Recording) -> MediaStream | MediaRedirect:
        key = self.key_for(rec)
        try:
            if self._settings.serve == "redirect":
                if self._bucket.stat(key) is None:
                    raise NotFound(f"recording {rec.sid} has no media")
                return MediaRedirect(self._bucket.presign(key, self._settings.presign_ttl))
            stream = self._bucket.open(key)
        except NotFound:
            raise
        except Exception as exc:
            log.warning("recording %s: media not readable from s3: %s", rec.sid, describe(exc))
            raise MediaUnavailable(f"the media store cannot be reached: {describe(exc)}") \
                from None
        if stream is None:
            raise NotFound(f"recording {rec.sid} has no media")
        return MediaStream(stream.size, stream.chunks, stream.close)

    def delete(self, rec: Recording) -> None:
        self._outbox.put(REMOVE, f"media:{rec.sid}", self._bucket.origin,
                         {"sid": rec.sid, "key": self.key_for(rec)}, dialect=rec.source or "none")

    # the outbox's Handler ------------------------------------------------------------
    def attempt(self, item: OutboxItem) -> Attempt:
        try:
            if item.kind == REMOVE:
                self._bucket.remove(str(item.payload["key"]))
                log.info("recording %s: object %s removed", item.payload["sid"],
                         item.payload["key"])
                return DONE
            with self._uploads:
                return self._upload(item.payload)
        except (KeyError, TypeError, ValueError) as exc:  # a payload this code did not write
            return Attempt(None, f"stored item is not valid: {exc!r}", refused=True)
        except Exception as exc:
            return Attempt(None, describe(exc))

    def describe(self, item: OutboxItem) -> str:
        return f"s3 {self._bucket.name}/{item.payload.get('key', '?')}"

    def close(self) -> None:
        self._bucket.close()

    def _upload(self, p: dict[str, Any]) -> Attempt:
        sid, path, key = str(p["sid"]), str(p["path"]), str(p["key"])
        size, sha256 = int(p["size"]), str(p["sha256"])
        if not self._exists(sid):
            log.info("recording %s: deleted before its upload: not uploaded", sid)
            return DONE
        f = open_finalized(sid, path, size)
        if f is None:
            return self._already_uploaded(sid, key, size, sha256)
        if isinstance(f, Attempt):
            return f
        with f:
            try:
                self._bucket.put(key, HashingReader(f, size, sha256), size,
                                 content_type=str(p["content_type"]), sha256=sha256)
            except DigestMismatch as exc:
                return refused(sid, f"the file changed since finalize: {exc}")
        stored = self._bucket.stat(key)
        if stored is None or stored.size != size:
            return Attempt(None, f"object {key} is {stored and stored.size} bytes after the "
                                 f"upload, expected {size}")
        log.info("recording %s: uploaded to s3 %s/%s (%d bytes, sha256 verified)", sid,
                 self._bucket.name, key, size)
        if not self._settings.keep_local:
            self._remove_local(sid, path, str(p.get("call") or ""))
        return DONE

    def _remove_local(self, sid: str, path: str, call_uuid: str) -> None:
        if call_uuid and self._call_live(call_uuid):
            self._held.setdefault(call_uuid, []).append((sid, path))
            log.info("recording %s: local file kept until call %s ends", sid, call_uuid)
            return
        os.unlink(path)

    def on_call(self, event: CallEvent, call: Call) -> None:
        """A call tracker listener: the files of a call that has ended are removed."""
        if event is not CallEvent.ENDED:
            return
        for sid, path in self._held.pop(call.uuid, []):
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            log.info("recording %s: local file removed (call %s ended)", sid, call.uuid)

    def _already_uploaded(self, sid: str, key: str, size: int, sha256: str) -> Attempt:
        """The local file is gone: done if the object is the file (uploaded, then the
        daemon stopped before it stored the result), else given up."""
        stored = self._bucket.stat(key)
        if stored is not None and (stored.size, stored.sha256) == (size, sha256):
            log.info("recording %s: already in s3 as %s", sid, key)
            return DONE
        return refused(sid, "the local file is gone and the object is not it")

