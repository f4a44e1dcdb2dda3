"""Node ownership on PostgreSQL advisory locks (cluster.py over store/node_locks.py): one
owner per node, a node taken over once its owner's connection is gone, and an owner that
lost its connection gives its nodes up before anyone else can take them."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from postgres_server import ThrowawayPostgres

from esl_recorder.cluster import NodeOwnership
from esl_recorder.store.node_locks import PostgresNodeLocks

NODES = ["fs1", "fs2"]


class Daemon:
    """One daemon's ownership: what it was told to take and give up."""

    def __init__(self, url: str, name: str) -> None:
        self.locks = PostgresNodeLocks(url, name, timeout=2.0)
        self.events: list[str] = []
        self.ownership = NodeOwnership(self.locks, NODES, 3.0,
                                       on_take=lambda n: self.events.append(f"take {n}"),
                                       on_give_up=lambda n: self.events.append(f"drop {n}"))


@pytest.fixture
def url(postgres_server: ThrowawayPostgres) -> str:
    return postgres_server.new_database()


@pytest.fixture
def daemons(url: str) -> Iterator[list[Daemon]]:
    made = [Daemon(url, f"d{i}") for i in range(2)]
    yield made
    for d in made:
        d.ownership.stop()


def test_each_node_has_one_owner_and_an_heir_takes_it_when_the_owner_goes(
        daemons: list[Daemon]) -> None:
    one, two = daemons
    one.ownership.turn()
    two.ownership.turn()
    assert (one.ownership.owned, two.ownership.owned) == (NODES, [])
    one.ownership.stop()  # its connection closes, as when the process dies
    two.ownership.turn()
    assert two.ownership.owned == NODES and two.events == ["take fs1", "take fs2"]


def test_an_owner_whose_connection_was_cut_gives_its_nodes_up(
        daemons: list[Daemon], url: str) -> None:
    one, two = daemons
    one.ownership.turn()
    with psycopg.connect(url, autocommit=True) as admin:  # the server ends its session
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name LIKE '%%node locks d0'")
    two.ownership.turn()  # the locks went with the session: the other daemon takes them
    assert two.ownership.owned == NODES
    one.ownership.turn()  # and the old owner notices at its next check
    assert one.events == ["take fs1", "take fs2", "drop fs1", "drop fs2"]
    assert one.ownership.owned == []
