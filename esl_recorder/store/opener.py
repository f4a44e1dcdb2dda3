"""The store the settings choose: SQLite at store.path, or PostgreSQL at store.url."""

from __future__ import annotations

from typing import Protocol

from ..domain.policies import PolicyRepository
from ..domain.ports import OutboxStore, RecordingRepository
from ..settings import StoreSettings
from .sqlite import Store


class StateStore(RecordingRepository, OutboxStore, PolicyRepository, Protocol):
    """Everything the daemon keeps: what both stores implement."""

    def close(self) -> None: ...

    def checkpoint_in_background(self, interval: float = 0.5) -> None: ...


def open_store(settings: StoreSettings) -> StateStore:
    """Open (and migrate) the configured store; raises StoreError when it cannot be."""
    if settings.url:
        # imported here: psycopg must come after gevent's patching, and SQLite users need
        # not install it (the `postgres` extra)
        from .postgres import PostgresStore

        return PostgresStore(settings.url, pool_size=settings.pool_size,
                             timeout=settings.timeout)
    return Store(settings.path)

