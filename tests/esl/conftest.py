"""Fixtures for the ESL adapter tests (helpers live in esl_support.py)."""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402
import random  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from esl_support import EVENTS, ClientFactory, MiniSwitch, Recorder  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from esl_recorder.esl.client import EslClient  # noqa: E402
from esl_recorder.metrics import Metrics, make_metrics  # noqa: E402
from esl_recorder.settings import EslSettings, NodeSettings  # noqa: E402


@pytest.fixture
def mini() -> Iterator[MiniSwitch]:
    server = MiniSwitch()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def metrics() -> Metrics:
    return make_metrics(CollectorRegistry())


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_client(recorder: Recorder, metrics: Metrics) -> Iterator[ClientFactory]:
    """`make_client(address, password=..., **esl_settings)`; stopped after the test."""
    clients: list[EslClient] = []

    def make(address: tuple[str, int], password: str = "ClueCon", **kwargs: Any) -> EslClient:
        esl_args = {"connect_timeout": 2.0, "command_timeout": 2.0,
                    "reconnect_initial_delay": 0.01, "reconnect_max_delay": 0.05}
        handlers = {k: kwargs.pop(k) for k in ("on_event", "on_connect", "on_disconnect")
                    if k in kwargs}
        events = kwargs.pop("events", EVENTS)
        rng = kwargs.pop("rng", None) or random.Random(7)
        esl_args.update(kwargs)
        client = EslClient(
            NodeSettings(name="fs1", host=address[0], port=address[1], password=password),
            EslSettings(**esl_args), events=events,
            on_event=handlers.get("on_event", recorder.on_event),
            on_connect=handlers.get("on_connect", recorder.on_connect),
            on_disconnect=handlers.get("on_disconnect", recorder.on_disconnect),
            metrics=metrics, rng=rng)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.stop()


@pytest.fixture
def esl_caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="esl_recorder.esl")
    return caplog
