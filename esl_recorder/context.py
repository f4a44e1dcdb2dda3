"""What the API's dialects are handed: the services and settings they work with."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .accounts import AccountBook
from .delivery.outbox import Outbox
from .domain.calls import CallTracker
from .domain.service import CommandChannel, RecordingService
from .metrics import Metrics
from .settings import Settings
from .store.sqlite import Store


@dataclass(frozen=True)
class ApiContext:
    settings: Settings
    accounts: AccountBook
    service: RecordingService
    tracker: CallTracker
    store: Store
    outbox: Outbox
    metrics: Metrics
    nodes: Mapping[str, CommandChannel]
    clock: Callable[[], float]
