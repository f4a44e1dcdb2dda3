"""The command channel between daemons (store/commands.py) on a real PostgreSQL, in one
process: a requester and an owner, each with its own PostgresStore and channel, the owner
holding the node's lock (store/node_locks.py) as a daemon does. The owner's side answers
with a plain function of the operation here; tests/scale/test_forwarding.py runs the real
services behind it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gevent
import psycopg
import pytest
from integration.live import eventually
from postgres_server import ThrowawayPostgres
from prometheus_client import CollectorRegistry

from esl_recorder.domain.ports import ControlTimeout, ControlUnavailable
from esl_recorder.errors import Conflict, NotFound
from esl_recorder.metrics import make_metrics
from esl_recorder.store.commands import PostgresCommands
from esl_recorder.store.node_locks import PostgresNodeLocks
from esl_recorder.store.postgres import PostgresStore

NODES = ("fs1", "fs2")


@dataclass
class Side:
    """One daemon's channel, the nodes it owns and what its owner's side was asked."""

    store: PostgresStore
    channel: PostgresCommands
    owned: set[str] = field(default_factory=set)
    ran: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    gate: gevent.event.Event = field(default_factory=gevent.event.Event)  # set: answer

    def handle(self, node: str, operation: str, args: dict[str, Any]
               ) -> tuple[bool, dict[str, Any]]:
        self.ran.append((node, operation, args))
        self.gate.wait(10)
        if operation == "missing":
            return False, {"type": "NotFound", "message": f"no call {args['call']}"}
        if operation == "refuse":
            return False, {"type": "Conflict", "message": "it is stopped"}
        return True, {"node": node, "echo": args}


@pytest.fixture
def url(postgres_server: ThrowawayPostgres) -> str:
    return postgres_server.new_database()


@pytest.fixture
def sides(url: str) -> Iterator[tuple[Side, Side, PostgresNodeLocks]]:
    made: list[Side] = []
    for _ in range(2):
        store = PostgresStore(url, pool_size=4, timeout=2.0)
        owned: set[str] = set()
        channel = PostgresCommands(
            store, url, nodes=NODES, owned=lambda o=owned: o, timeout=1.0, interval=0.3,
            connect_timeout=2.0, forwarded=make_metrics(CollectorRegistry()).commands_forwarded)
        made.append(Side(store, channel, owned))
    made[1].gate.set()
    locks = PostgresNodeLocks(url, "owner", timeout=2.0)  # the owner's, as cluster.py holds
    locks.check()
    try:
        yield made[0], made[1], locks
    finally:
        locks.close()
        for side in made:
            side.channel.stop()
            side.store.close()


def own(owner: Side, locks: PostgresNodeLocks, *nodes: str) -> None:
    for node in nodes:
        assert locks.try_take(node)
        owner.owned.add(node)


def states(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT node, operation, state FROM node_commands ORDER BY id")
        return [tuple(r) for r in rows.fetchall()]


def test_the_owner_runs_the_command_and_the_requester_gets_its_result(
        sides: tuple[Side, Side, PostgresNodeLocks], url: str) -> None:
    requester, owner, locks = sides
    own(owner, locks, "fs1")
    owner.channel.start(owner.handle)
    assert requester.channel.forward(["fs1"], "stop", {"sid": "r1"}) == {
        "node": "fs1", "echo": {"sid": "r1"}}
    assert owner.ran == [("fs1", "stop", {"sid": "r1"})]
    with pytest.raises(Conflict, match="it is stopped"):  # the owner's typed error
        requester.channel.forward(["fs1"], "refuse", {})
    assert states(url) == [("fs1", "stop", "done"), ("fs1", "refuse", "failed")]


def test_a_call_asked_of_every_node_is_answered_by_the_one_that_has_it(
        sides: tuple[Side, Side, PostgresNodeLocks], url: str) -> None:
    requester, owner, locks = sides
    own(owner, locks, "fs1", "fs2")
    owner.channel.start(owner.handle)
    with pytest.raises(NotFound, match="no call c1"):  # every node said so
        requester.channel.forward(list(NODES), "missing", {"call": "c1"})
    assert sorted(node for node, _, _ in owner.ran) == ["fs1", "fs2"]


def test_a_node_without_owner_is_answered_at_once_and_nothing_is_written(
        sides: tuple[Side, Side, PostgresNodeLocks], url: str) -> None:
    requester, owner, locks = sides
    own(owner, locks, "fs1")
    owner.channel.start(owner.handle)
    with pytest.raises(ControlUnavailable, match="node fs2 has no owning daemon now"):
        requester.channel.forward(["fs2"], "stop", {"sid": "r1"})
    assert states(url) == []
    # asked of both nodes: fs1's owner says missing, fs2 has none: not knowable (503)
    with pytest.raises(ControlUnavailable, match="node fs2 has no owning daemon now"):
        requester.channel.forward(list(NODES), "missing", {"call": "c1"})


def test_a_command_whose_notify_was_missed_is_found_by_the_owner_looking(
        sides: tuple[Side, Side, PostgresNodeLocks], url: str) -> None:
    requester, owner, locks = sides
    own(owner, locks, "fs1")
    asked = gevent.spawn(requester.channel.forward, ["fs1"], "stop", {"sid": "r1"})
    eventually(lambda: states(url) == [("fs1", "stop", "pending")], 5, "the command")
    owner.channel.start(owner.handle)  # not listening when it was sent
    assert asked.get(timeout=5) == {"node": "fs1", "echo": {"sid": "r1"}}


def test_a_command_not_taken_in_time_is_never_run_and_one_under_way_is_reported_so(
        sides: tuple[Side, Side, PostgresNodeLocks], url: str) -> None:
    requester, owner, locks = sides
    own(owner, locks, "fs1")
    with pytest.raises(ControlUnavailable, match="did not take the request within 1 s"):
        requester.channel.forward(["fs1"], "stop", {"sid": "late"})
    assert states(url) == [("fs1", "stop", "abandoned")]
    owner.gate.clear()  # from now on the owner takes commands but does not answer
    owner.channel.start(owner.handle)
    with pytest.raises(ControlTimeout, match="did not finish the request within 1 s"):
        requester.channel.forward(["fs1"], "stop", {"sid": "slow"})
    owner.gate.set()
    eventually(lambda: states(url)[-1] == ("fs1", "stop", "done"), 5, "the slow one done")
    # the owner looked for commands after it started (it took the slow one): the
    # abandoned one was not among them
    assert [args["sid"] for _, _, args in owner.ran] == ["slow"]
    assert states(url)[0] == ("fs1", "stop", "abandoned")
