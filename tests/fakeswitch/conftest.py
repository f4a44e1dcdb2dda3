"""Fixtures for the FreeSWITCH simulator's own tests."""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from esl_recorder.testing.fakeswitch import FakeSwitch  # noqa: E402

from .wireclient import WireClient  # noqa: E402


@pytest.fixture
def switch(tmp_path: Path) -> Iterator[FakeSwitch]:
    sim = FakeSwitch(clock="manual", recordings_root=str(tmp_path / "sounds"))
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def connect(switch: FakeSwitch) -> Iterator[Callable[[], WireClient]]:
    clients: list[WireClient] = []

    def make() -> WireClient:
        client = WireClient(switch.address, flush=switch.flush)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(connect: Callable[[], WireClient]) -> WireClient:
    return connect().login()
