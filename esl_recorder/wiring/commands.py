"""Several daemons: the command channel that carries requests about another daemon's node
to its owner (domain.remote, store.commands), wired to the services and the ownership."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..cluster import NodeOwnership
from ..domain.remote_ops import RemoteOperations
from ..domain.scripts import ScriptRunner
from ..settings import Settings
from .core import Core

if TYPE_CHECKING:
    from ..store.commands import PostgresCommands


class CommandChannel:
    """Forwards this daemon's requests about other daemons' nodes, and carries out those
    other daemons forward about the nodes this one owns."""

    def __init__(self, settings: Settings, core: Core, ownership: NodeOwnership,
                 scripts: ScriptRunner | None) -> None:
        from ..store.commands import PostgresCommands  # psycopg: after gevent's patching
        from ..store.postgres import PostgresStore

        store = core.store
        assert isinstance(store, PostgresStore)  # several_daemons needs store.url
        conf = settings.store
        self._channel: PostgresCommands = PostgresCommands(
            store, conf.url, nodes=[n.name for n in settings.nodes],
            owned=lambda: ownership.owned, timeout=conf.forward_timeout,
            interval=conf.takeover_time / 3, connect_timeout=conf.timeout,
            forwarded=core.metrics.commands_forwarded)
        self._operations = RemoteOperations(core.service, core.calls, core.forwarding, scripts)
        core.forwarding.attach(self._channel)

    def start(self) -> None:
        self._channel.start(self._operations.run)

    def stop(self) -> None:
        self._channel.stop()
