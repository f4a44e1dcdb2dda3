"""Several daemons, several FreeSWITCH nodes: each node is owned by one daemon at a time.

The owner holds the node's lock (store/node_locks.py: a PostgreSQL advisory lock on a
connection of its own) and is the only daemon connected to the node: its events, the
follow-up of its recordings, its scripts and its commands. Every `takeover_time / 3`
seconds each daemon checks its lock connection and tries the locks of the nodes it does not
own; so when an owner dies (its connection closes, the server frees its locks) another
daemon takes its nodes within `store.takeover_time`. Taking a node loads its unfinished
recordings from the store and connects (the connect's reconcile resyncs the calls and
settles each recording); losing the lock connection gives every node up at once (the
client stops) before another daemon can take them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from .repeating import Repeating

log = logging.getLogger(__name__)

NodeHook = Callable[[str], None]


class NodeLocks(Protocol):
    def check(self) -> bool:
        """Whether the locks taken so far are still held (False: all are lost)."""

    def try_take(self, node: str) -> bool: ...

    def close(self) -> None: ...


class NodeOwnership:
    def __init__(self, locks: NodeLocks, nodes: Sequence[str], takeover_time: float, *,
                 on_take: NodeHook, on_give_up: NodeHook) -> None:
        self._locks = locks
        self._nodes = tuple(nodes)
        self._on_take = on_take
        self._on_give_up = on_give_up
        self._owned: dict[str, float] = {}  # node -> when taken (monotonic)
        self._checks = Repeating("node ownership: check", takeover_time / 3, self.turn)

    @property
    def owned(self) -> list[str]:
        return [n for n in self._nodes if n in self._owned]

    def owns(self, node: str) -> bool:
        return node in self._owned

    def start(self) -> None:
        """Take what can be taken now, then keep checking in the background."""
        if not self._checks.running:
            self.turn()
            self._checks.start()

    def stop(self) -> None:
        """Give every node up (the caller stops its clients first) and release the locks."""
        self._checks.stop()
        self._owned.clear()
        self._locks.close()

    def turn(self) -> None:
        if not self._locks.check():
            self._give_up_all()
            if not self._locks.check():
                return  # no connection yet: try again next turn
        for node in self._nodes:
            if node not in self._owned and self._locks.try_take(node):
                self._owned[node] = time.monotonic()
                log.info("node %s: owned by this daemon now", node)
                try:
                    self._on_take(node)
                except Exception:
                    log.exception("node %s: taking it over failed", node)

    def _give_up_all(self) -> None:
        for node in list(self._owned):
            del self._owned[node]
            log.warning("node %s: lock lost: disconnecting from it", node)
            try:
                self._on_give_up(node)
            except Exception:
                log.exception("node %s: giving it up failed", node)
