"""Fixtures of tests/scale: the outbox harness and receivers of tests/delivery, and
`daemon_cluster`, a factory of daemon processes over the throwaway PostgreSQL and simulated
nodes (tests/scale/cluster.py)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from delivery.conftest import harness_factory, no_safety_nets, receivers  # noqa: F401
from postgres_server import ThrowawayPostgres

from .cluster import Cluster, ClusterFactory, make_cluster


@pytest.fixture
def daemon_cluster(postgres_server: ThrowawayPostgres,
                   tmp_path: Path) -> Iterator[ClusterFactory]:
    """`daemon_cluster(daemons=3, nodes=("fs1", "fs2"), **sections)`: simulators started,
    daemons configured on a new database (started by the test); all stopped at the end."""
    made: list[Cluster] = []

    def make(daemons: int = 3, nodes: tuple[str, ...] = ("fs1", "fs2"),
             **sections: dict[str, Any]) -> Cluster:
        where = tmp_path / f"cluster{len(made)}"
        where.mkdir()
        made.append(make_cluster(postgres_server.new_database(), where, daemons, nodes,
                                 **sections))
        return made[-1]

    try:
        yield make
    finally:
        for cluster in made:
            cluster.stop()
