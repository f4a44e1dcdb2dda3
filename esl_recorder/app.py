"""build_app(settings) wires the whole object graph; run(settings) is the daemon's life."""

from __future__ import annotations

import gc
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.event
from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry

from .accounts import AccountBook
from .delivery.outbox import Outbox
from .delivery.targets import TargetPolicy
from .dialects.bandwidth import BandwidthDialect
from .dialects.base import Dialect
from .dialects.laml import LamlDialect
from .dialects.texml import TexmlDialect
from .domain.call_service import CallService
from .domain.calls import CallTracker
from .domain.follower import RecordingFollower
from .domain.ports import CallControl
from .domain.recording import Recording, State
from .domain.registry import RecordingRegistry
from .domain.service import RecordingService
from .esl import events as ev
from .esl.client import EslClient
from .esl.control import EslCallControl
from .esl.frames import Event
from .esl.ingest import EventRouter
from .http.ops import ops_app
from .http.server import ApiApp, make_server
from .metrics import Metrics, make_metrics
from .settings import EslSettings, NodeSettings, Settings
from .store.sqlite import Store

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    prometheus: CollectorRegistry
    metrics: Metrics
    store: Store
    tracker: CallTracker
    calls: CallService
    recordings: RecordingRegistry
    service: RecordingService
    follower: RecordingFollower
    router: EventRouter
    accounts: AccountBook
    outbox: Outbox
    api: ApiApp
    clients: dict[str, EslClient] = field(default_factory=dict)
    http: WSGIServer | None = None

    def start(self) -> None:
        self.store.checkpoint_in_background()
        self.follower.recover()
        self.calls.recover()
        self.outbox.start()
        for client in self.clients.values():
            client.start()
        self.http = make_server(self.api, self.settings.http, self.settings.source)
        self.http.start()
        log.info("esl_recorder up: http on %s:%d, nodes %s", self.settings.http.host,
                 self.http.server_port, ", ".join(self.clients))

    def readiness(self) -> dict[str, bool]:
        return {name: client.connected for name, client in self.clients.items()}

    def stop(self, timeout: float = 10.0) -> None:
        if self.http is not None:
            self.http.stop(timeout=1)
        for client in self.clients.values():
            client.stop()
        self.follower.drain(timeout)
        self.outbox.stop()
        self.store.close()
        log.info("esl_recorder stopped")


def build_app(settings: Settings, *, prometheus: CollectorRegistry | None = None,
              clock: Callable[[], float] = time.time) -> App:
    prometheus = prometheus or CollectorRegistry()
    metrics = make_metrics(prometheus)
    store = Store(settings.store.path)
    tracker = CallTracker(settings.identity, store)
    recordings = RecordingRegistry(store, metrics)
    controls: dict[str, CallControl] = {}
    service = RecordingService(settings.recording, store, recordings, tracker, controls,
                               metrics, clock)
    calls = CallService(tracker, store, controls, metrics, clock)
    follower = RecordingFollower(service, recordings, tracker, store, metrics,
                                 workers=settings.recording.finalize_workers, clock=clock)
    router = EventRouter(tracker, follower, metrics, settings.identity)
    clients: dict[str, EslClient] = {}
    for node in settings.nodes:
        clients[node.name] = client = _client_for(node, settings.esl, router, follower,
                                                  controls, metrics)
        controls[node.name] = EslCallControl(client)
    accounts = AccountBook(settings.accounts)
    targets = delivery_targets(settings)
    outbox = Outbox(store, settings.delivery, metrics, clock, targets=targets)
    dialects = _dialects(settings, accounts, service, calls, outbox, metrics, clock, targets)
    _route_recordings(dialects, recordings)
    api = ApiApp(dialects, _ops(prometheus, clients), settings.http, metrics)
    return App(settings, prometheus, metrics, store, tracker, calls, recordings, service,
               follower, router, accounts, outbox, api, clients)


def _dialects(settings: Settings, accounts: AccountBook, service: RecordingService,
              calls: CallService, outbox: Outbox, metrics: Metrics,
              clock: Callable[[], float], targets: TargetPolicy) -> list[Dialect]:
    """Each dialect gets the services it uses, no more."""
    base_url = settings.http.public_base_url or ""

    def compat(kind: type[LamlDialect] | type[TexmlDialect]) -> Dialect:
        return kind(accounts=accounts, recordings=service, outbox=outbox, metrics=metrics,
                    clock=clock, default_format=settings.recording.default_format,
                    public_base_url=base_url, targets=targets)

    return [compat(LamlDialect), compat(TexmlDialect),
            BandwidthDialect(accounts=accounts, recordings=service, calls=calls,
                             outbox=outbox, settings=settings.bandwidth, metrics=metrics,
                             clock=clock, public_base_url=base_url, targets=targets)]


def delivery_targets(settings: Settings) -> TargetPolicy:
    """Where callbacks may go: the allowed networks, never this daemon's own endpoints."""
    own = [(settings.http.host, settings.http.port)]
    own += [(node.host, node.port) for node in settings.nodes]
    return TargetPolicy.build(settings.delivery.allowed_networks, own=own)


def _ops(prometheus: CollectorRegistry, clients: dict[str, EslClient]) -> Callable[..., Any]:
    return ops_app(prometheus, lambda: {n: c.connected for n, c in clients.items()})


def _route_recordings(dialects: list[Dialect], recordings: RecordingRegistry) -> None:
    """Recording changes go to the dialect that started the recording."""
    by_name = {d.name: d for d in dialects}

    def on_recording(rec: Recording, previous: State) -> None:
        dialect = by_name.get(rec.source)
        if dialect is not None:
            dialect.on_recording(rec, previous)

    recordings.subscribe(on_recording)


def _client_for(node: NodeSettings, esl: EslSettings, router: EventRouter,
                follower: RecordingFollower, controls: dict[str, CallControl],
                metrics: Metrics) -> EslClient:
    def on_event(client: EslClient, event: Event) -> None:
        router.handle(client.node_name, event)

    def on_connect(client: EslClient) -> None:
        follower.reconcile(client.node_name, controls[client.node_name])

    return EslClient(node, esl, events=ev.SUBSCRIBED, on_event=on_event,
                     on_connect=on_connect, metrics=metrics)


# A request allocates thousands of short-lived objects that reference counting frees: with
# CPython's default (700, 10, 10) the cyclic collector would run inside nearly every request.
GC_THRESHOLDS = (20_000, 20, 20)


def freeze_startup_objects() -> None:
    """What was built before serving lives as long as the daemon: keep it out of every
    collection (gc.freeze), so a full collection scans only what came after, and raise the
    collection thresholds to GC_THRESHOLDS."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT; returns the process exit status."""
    app = build_app(settings)
    stopping = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    app.start()
    freeze_startup_objects()
    stopping.wait()
    log.info("signal received: stopping")
    app.stop()
    return 0
