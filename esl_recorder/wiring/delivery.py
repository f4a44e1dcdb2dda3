"""The outbox and where it may send: callbacks (signed at each attempt for TeXML) and
Kazoo's uploads of recordings to their `url`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..delivery.outbox import Outbox
from ..delivery.sender import Sender
from ..delivery.signing import SendTimeSigner
from ..delivery.targets import TargetPolicy
from ..delivery.uploads import KIND as UPLOAD
from ..delivery.uploads import UrlUploads
from ..metrics import Metrics
from ..settings import Settings
from ..store.opener import StateStore
from .media import stored_media

if TYPE_CHECKING:
    from ..delivery.media import S3Media


def delivery_targets(settings: Settings) -> TargetPolicy:
    """Where callbacks may go: the allowed networks, never this daemon's own endpoints."""
    own = [(settings.http.host, settings.http.port)]
    own += [(node.host, node.port) for node in settings.nodes]
    return TargetPolicy.build(settings.delivery.allowed_networks, own=own)


def build_outbox(settings: Settings, store: StateStore, metrics: Metrics,
                 clock: Callable[[], float], targets: TargetPolicy) -> Outbox:
    signer = SendTimeSigner({a.id: a.texml_signing_key for a in settings.accounts
                             if a.texml_signing_key}, clock)
    sender = Sender(settings.delivery.per_host, settings.delivery.timeout, targets, signer)
    return Outbox(store, settings.delivery, metrics, clock, targets=targets, sender=sender)


def register_uploads(settings: Settings, outbox: Outbox, store: StateStore,
                     targets: TargetPolicy, media: S3Media | None, metrics: Metrics) -> None:
    """Kazoo's uploads of finished recordings to their `url`, attempted by the outbox."""
    uploads = UrlUploads(targets, timeout=settings.kazoo.upload_timeout,
                         keep_local=settings.kazoo.keep_local,
                         exists=lambda sid: store.get_recording(sid) is not None,
                         per_host=settings.delivery.per_host,
                         stored=stored_media(media, store))
    outbox.register(UPLOAD, uploads, metrics.upload_attempts)


def oldest_pending_age(store: StateStore, clock: Callable[[], float]) -> float:
    oldest = store.outbox_items("pending", 1)
    return max(0.0, clock() - oldest[0].created_at) if oldest else 0.0
