"""What /readyz reports, read at request time: the store, and each node this daemon owns."""

from __future__ import annotations

from ..cluster import NodeOwnership
from ..esl.client import EslClient
from ..http.ops import Readiness
from ..lifecycle import store_writable
from ..store.opener import StateStore


class ReadinessCheck:
    """Called by /readyz for its `Readiness`."""

    def __init__(self, store: StateStore, store_path: str, clients: dict[str, EslClient],
                 ownership: NodeOwnership | None = None) -> None:
        """`store_path`: the SQLite file, whose permissions are checked too ("": none)."""
        self._store = store
        self._store_path = store_path
        self._clients = clients
        self._ownership = ownership

    def __call__(self) -> Readiness:
        # permissions, and whether writes succeed (a full disk, a lock held too long)
        files_ok = not self._store_path or store_writable(self._store_path)
        writable = files_ok and self._store.writable
        if self._ownership is None:
            return Readiness(writable, {n: c.connected for n, c in self._clients.items()})
        owned = self._ownership.owned
        return Readiness(writable, {n: self._clients[n].connected for n in owned},
                         tuple(n for n in self._clients if n not in owned))
