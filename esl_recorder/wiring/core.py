"""The domain's services and the state they keep, built once per daemon: every edge and
adapter is wired to these."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..delivery.outbox import Outbox
from ..delivery.targets import TargetPolicy
from ..domain.call_service import CallService
from ..domain.calls import CallTracker
from ..domain.finalize import SMALL_FILE_BYTES
from ..domain.follower import RecordingFollower
from ..domain.ports import CallControl
from ..domain.registry import RecordingRegistry
from ..domain.remote import Forwarding
from ..domain.scripts_waits import Executions
from ..domain.service import RecordingService
from ..filesystems import local_filesystem
from ..metrics import Metrics
from ..settings import Settings
from ..store.opener import StateStore
from .delivery import build_outbox, delivery_targets
from .media import media_store

if TYPE_CHECKING:
    from ..delivery.media import S3Media

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Core:
    """What the wiring of the edges and adapters takes its services from."""

    metrics: Metrics
    clock: Callable[[], float]
    store: StateStore
    targets: TargetPolicy  # where callbacks, uploads and script fetches may go
    outbox: Outbox
    media: S3Media | None  # media.backend s3
    tracker: CallTracker
    recordings: RecordingRegistry
    controls: dict[str, CallControl]  # per node, filled in by nodes.py
    forwarding: Forwarding  # several daemons: attached to the command channel
    service: RecordingService
    calls: CallService
    follower: RecordingFollower
    executions: Executions  # applications run on calls, waited for


def examine_here_bytes(root: str) -> int:
    """How large a finished file the hub reads itself: SMALL_FILE_BYTES when `root` lies on
    local file systems; none when a network serves it (a read could wait on its server)."""
    if local_filesystem(root):
        return SMALL_FILE_BYTES
    log.info("recording.root %s is not on a local file system, or that cannot be told: "
             "finished recordings are examined in worker threads", root)
    return 0


def build_core(settings: Settings, store: StateStore, metrics: Metrics,
               clock: Callable[[], float]) -> Core:
    tracker = CallTracker(settings.identity, store)
    recordings = RecordingRegistry(store, metrics)
    controls: dict[str, CallControl] = {}
    targets = delivery_targets(settings)
    outbox = build_outbox(settings, store, metrics, clock, targets)
    media = media_store(settings, store, outbox, metrics, tracker)
    forwarding = Forwarding()
    service = RecordingService(settings.recording, store, recordings, tracker, controls,
                               metrics, clock, media=media, forwarding=forwarding)
    calls = CallService(tracker, store, controls, metrics, clock, forwarding)
    follower = RecordingFollower(service, recordings, tracker, store, metrics,
                                 workers=settings.recording.finalize_workers,
                                 truncation_tolerance_s=settings.recording.truncation_tolerance,
                                 hangup_grace_s=settings.recording.stop_grace,
                                 unfinished_timeout_s=settings.recording.unfinished_timeout,
                                 examine_here_bytes=examine_here_bytes(settings.recording.root),
                                 clock=clock)
    executions = Executions()
    tracker.subscribe(executions.on_call_event)
    return Core(metrics, clock, store, targets, outbox, media, tracker, recordings, controls,
                forwarding, service, calls, follower, executions)
