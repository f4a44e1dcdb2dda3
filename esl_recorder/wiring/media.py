"""media.backend s3: finished recordings uploaded through the outbox and served from the bucket
once their local file is gone."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..delivery.outbox import Outbox
from ..domain.calls import CallTracker
from ..domain.ports import MediaStream
from ..errors import ConfigError
from ..metrics import Metrics
from ..settings import Settings
from ..store.opener import StateStore

if TYPE_CHECKING:
    from ..delivery.media import S3Media


def media_store(settings: Settings, store: StateStore, outbox: Outbox,
                metrics: Metrics, tracker: CallTracker) -> S3Media | None:
    """The S3 media store, or None with media.backend local. The S3 client is the `s3`
    extra: imported only then."""
    if settings.media.backend != "s3":
        return None
    try:
        from ..delivery.media import S3Media
    except ImportError as exc:
        raise ConfigError(settings.source, "media.backend",
                          f"s3 needs the minio package (pip install 'esl_recorder[s3]'): "
                          f"{exc}") from None
    media = S3Media(settings.media, outbox, metrics, per_host=settings.delivery.per_host,
                    exists=lambda sid: store.get_recording(sid) is not None,
                    call_live=lambda uuid: (c := tracker.get(uuid)) is not None
                    and not c.hungup)
    tracker.subscribe(media.on_call)
    return media


def stored_media(media: S3Media | None, store: StateStore
                 ) -> Callable[[str], MediaStream | None] | None:
    """A recording's object in S3 by its sid (None without S3 media, or for a deleted one)."""
    if media is None:
        return None
    s3 = media

    def stored(sid: str) -> MediaStream | None:
        rec = store.get_recording(sid)
        return None if rec is None else s3.stream(rec)

    return stored
