"""The outbox with a real store (SQLite, and PostgreSQL: tests/conftest.py BOTH_STORES),
delivering over real sockets to local receivers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import gevent
import gevent.event
import pytest
from api.receiver import Receiver
from prometheus_client import CollectorRegistry
from store_backends import StoreFactory

from esl_recorder.delivery.outbox import OutboundRequest, Outbox
from esl_recorder.delivery.targets import TargetPolicy
from esl_recorder.domain.ports import OutboxItem
from esl_recorder.metrics import make_metrics
from esl_recorder.settings import DeliverySettings

# The receivers here listen on loopback, which deliveries may reach only when allowed.
LOOPBACK = TargetPolicy.build(["127.0.0.0/8"])
FAST = DeliverySettings(initial_delay=0.02, max_delay=0.1, timeout=2.0, concurrency=16,
                        per_host=4)


@dataclass
class Scripted(Receiver):
    """A receiver that answers `answer(environ)` (default: `status`), counts every request
    it gets (accepted or not) and the most it had in flight at once."""

    answer: Callable[[dict[str, Any]], int] | None = None
    hits: int = 0
    in_flight: int = 0
    max_in_flight: int = 0

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.hits += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.answer is not None:
                self.status = self.answer(environ)
            return super()._app(environ, start_response)
        finally:
            self.in_flight -= 1


@dataclass
class Harness:
    """An Outbox on the test's store, its metrics, and waiting on stored attempt results."""

    open_store: StoreFactory
    settings: DeliverySettings
    targets: TargetPolicy = LOOPBACK
    results: list[tuple[OutboxItem, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.registry = CollectorRegistry()
        self.store = self.open_store()
        self.outbox = Outbox(self.store, self.settings, make_metrics(self.registry),
                             targets=self.targets)
        self.outbox.subscribe(self._record)
        self._changed = gevent.event.Event()

    def _record(self, item: OutboxItem, result: str) -> None:
        self.results.append((item, result))
        self._changed.set()
        self._changed = gevent.event.Event()

    def send(self, url: str, key: str = "RE1", body: str = "", **kw: Any) -> int:
        request = OutboundRequest(kw.pop("method", "POST"), url, body=body, **kw)
        return self.outbox.enqueue(request, key=key, dialect="laml", kind="recording")

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0,
                 what: str = "outbox results") -> Any:
        with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
            while True:
                waiter = self._changed
                value = predicate()
                if value:
                    return value
                waiter.wait(0.05)

    def count(self, result: str) -> int:
        return sum(1 for _, r in self.results if r == result)

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(f"esl_recorder_{name}", labels) or 0.0

    def close(self) -> None:
        self.outbox.stop(timeout=0.2)
        self.store.close()


HarnessFactory = Callable[..., Harness]


@pytest.fixture(autouse=True)
def no_safety_nets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deliverer's periodic wake-up and rescan only cover wall-clock steps: every
    test here must pass without them (a missed wake-up or a skipped item fails)."""
    monkeypatch.setattr("esl_recorder.delivery.outbox.MAX_IDLE", 3600.0)
    monkeypatch.setattr("esl_recorder.delivery.outbox.REWIND_EVERY", 3600.0)


@pytest.fixture
def harness_factory(store_factory: StoreFactory) -> Iterator[HarnessFactory]:
    made: list[Harness] = []

    def make(start: bool = True, targets: TargetPolicy = LOOPBACK, **delivery: Any) -> Harness:
        h = Harness(store_factory, replace(FAST, **delivery), targets)
        if start:
            h.outbox.start()
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.fixture
def harness(harness_factory: HarnessFactory) -> Harness:
    return harness_factory()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Scripted]]:
    started: list[Scripted] = []

    def make(**kw: Any) -> Scripted:
        r = Scripted(**kw).start()
        assert isinstance(r, Scripted)
        started.append(r)
        return r

    yield make
    for r in started:
        r.stop()
