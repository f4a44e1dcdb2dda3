"""Several daemons on one PostgreSQL store: each node is connected to only while this daemon
holds its lock (cluster.py)."""

from __future__ import annotations

from ..cluster import NodeOwnership
from ..errors import ConfigError
from ..esl.client import EslClient
from ..settings import Settings
from .core import Core


def node_ownership(settings: Settings, core: Core, clients: dict[str, EslClient]
                   ) -> NodeOwnership | None:
    """The ownership of the nodes with store.several_daemons; else None: every node is this
    daemon's."""
    node_owned = core.metrics.node_owned
    for name in clients:
        node_owned.labels(node=name).set(0 if settings.store.several_daemons else 1)
    if not settings.store.several_daemons:
        return None
    if not settings.store.url:
        raise ConfigError(settings.source, "store.several_daemons",
                          "several daemons share a PostgreSQL store: set store.url")
    from ..store.node_locks import PostgresNodeLocks  # psycopg: after gevent's patching

    def take(node: str) -> None:
        core.follower.recover([node])  # what another daemon followed until now
        core.calls.recover([node])  # the dialects' calls on it (their wishes: callbacks, ...)
        node_owned.labels(node=node).set(1)
        clients[node].start()  # its connect reconciles: calls resynced, recordings settled

    def give_up(node: str) -> None:
        clients[node].stop()
        node_owned.labels(node=node).set(0)
        core.recordings.forget_node(node)
        core.calls.forget_node(node)

    locks = PostgresNodeLocks(settings.store.url, getattr(core.store, "daemon_id", ""),
                              settings.store.timeout)
    return NodeOwnership(locks, list(clients), settings.store.takeover_time,
                         on_take=take, on_give_up=give_up)
