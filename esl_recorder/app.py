"""build_app(settings) wires the whole object graph; run(settings) is the daemon's life."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
import gevent.event
from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry

from .domain.calls import CallTracker
from .domain.follower import RecordingFollower
from .domain.registry import RecordingRegistry
from .domain.service import RecordingService
from .esl import events as ev
from .esl.client import EslClient
from .esl.frames import Event
from .http.ops import ops_app
from .ingest import EventRouter
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
    recordings: RecordingRegistry
    service: RecordingService
    follower: RecordingFollower
    router: EventRouter
    clients: dict[str, EslClient] = field(default_factory=dict)
    http: WSGIServer | None = None

    def start(self) -> None:
        self.follower.recover()
        for client in self.clients.values():
            client.start()
        self.http = WSGIServer((self.settings.http.host, self.settings.http.port),
                               ops_app(self.prometheus, self.readiness), log=None)
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
        self.store.close()
        log.info("esl_recorder stopped")


def build_app(settings: Settings, *, prometheus: CollectorRegistry | None = None,
              clock: Callable[[], float] = time.time) -> App:
    prometheus = prometheus or CollectorRegistry()
    metrics = make_metrics(prometheus)
    store = Store(settings.store.path)
    tracker = CallTracker(settings.identity)
    recordings = RecordingRegistry(store, metrics)
    clients: dict[str, EslClient] = {}
    service = RecordingService(settings.recording, store, recordings, tracker, clients,
                               metrics, clock)
    follower = RecordingFollower(service, recordings, tracker, store, metrics,
                                 workers=settings.recording.finalize_workers, clock=clock)
    router = EventRouter(tracker, follower, metrics)
    for node in settings.nodes:
        clients[node.name] = _client_for(node, settings.esl, router, follower, metrics)
    return App(settings, prometheus, metrics, store, tracker, recordings, service, follower,
               router, clients)


def _client_for(node: NodeSettings, esl: EslSettings, router: EventRouter,
                follower: RecordingFollower, metrics: Metrics) -> EslClient:
    def on_event(client: EslClient, event: Event) -> None:
        router.handle(client.node_name, event)

    def on_connect(client: EslClient) -> None:
        follower.reconcile(client.node_name, client)

    return EslClient(node, esl, events=ev.SUBSCRIBED, on_event=on_event,
                     on_connect=on_connect, metrics=metrics)


def run(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT; returns the process exit status."""
    app = build_app(settings)
    stopping = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    app.start()
    stopping.wait()
    log.info("signal received: stopping")
    app.stop()
    return 0
