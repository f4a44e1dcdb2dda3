"""build_app(settings) wires the whole object graph; run(settings) is the daemon's life.

The wiring of each subsystem is in its own module of wiring/; build_app calls them in the
order that matters (listeners hear events in the order they subscribed)."""

from __future__ import annotations

import gc
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gevent
import gevent.event
from prometheus_client import CollectorRegistry

from .accounts import AccountBook
from .cluster import NodeOwnership
from .delivery.outbox import Outbox
from .delivery.targets import TargetPolicy
from .dialects.kazoo_policies import reload_policies
from .domain.call_service import CallService
from .domain.calls import CallTracker
from .domain.follower import RecordingFollower
from .domain.policies import PolicyBook
from .domain.ports import CallControl
from .domain.registry import RecordingRegistry
from .domain.scripts import ScriptRunner
from .domain.service import RecordingService
from .domain.transfers import TransferFollower
from .esl.client import EslClient
from .esl.ingest import EventRouter
from .http.ops import WsgiApp, ops_app
from .http.server import ApiApp, ApiServer, make_server
from .lifecycle import InFlight, check_state_dirs, listen_error, reload_log_level
from .metrics import Metrics, make_metrics
from .repeating import Repeating
from .settings import Settings
from .store.opener import StateStore, open_store
from .wiring.commands import CommandChannel
from .wiring.core import build_core
from .wiring.delivery import oldest_pending_age, register_uploads
from .wiring.dialects import hear_recordings, kazoo_dialect, rest_dialects, swml_dialect
from .wiring.nodes import esl_clients, event_router
from .wiring.ownership import node_ownership
from .wiring.policies import policy_book, policy_recorder, watch_policies
from .wiring.readiness import ReadinessCheck
from .wiring.scripts import script_runner

if TYPE_CHECKING:
    from .delivery.media import S3Media

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    prometheus: CollectorRegistry
    metrics: Metrics
    store: StateStore
    tracker: CallTracker
    calls: CallService
    recordings: RecordingRegistry
    service: RecordingService
    follower: RecordingFollower
    router: EventRouter
    accounts: AccountBook
    outbox: Outbox
    api: ApiApp
    ops: WsgiApp
    clients: dict[str, EslClient] = field(default_factory=dict)
    media: S3Media | None = None
    http: ApiServer | None = None
    metrics_http: ApiServer | None = None
    in_flight: InFlight | None = None
    scripts: ScriptRunner | None = None
    controls: dict[str, CallControl] = field(default_factory=dict)  # per node
    ownership: NodeOwnership | None = None  # several daemons: the nodes this one owns
    commands: CommandChannel | None = None  # several daemons: requests about other nodes
    policies: PolicyBook | None = None
    policy_watch: Repeating | None = None
    targets: TargetPolicy | None = None  # where deliveries may go: never to these listeners

    def start(self) -> None:
        """Listen first (a busy port fails before anything else starts), then recover,
        attach to every node and serve."""
        self.in_flight = InFlight(self.api)
        self.http = self._listen(self.in_flight, self.settings.http.port, "http.port")
        if self.settings.http.metrics_port:
            self.metrics_http = self._listen(self.ops, self.settings.http.metrics_port,
                                             "http.metrics_port")
        self.store.checkpoint_in_background()
        self.follower.recover(None if self.ownership is None else ())
        self.calls.recover(None if self.ownership is None else ())
        self.outbox.start(sole_daemon=not self.settings.store.several_daemons)
        if self.ownership is None:
            for client in self.clients.values():
                client.start()
        else:  # only the nodes it owns: now, or once their owner is gone
            self.ownership.start()
        if self.commands is not None:
            self.commands.start()
        if self.ownership is not None and self.policies is not None:
            self.policy_watch = watch_policies(self.policies,
                                               self.settings.store.takeover_time / 3)
            self.policy_watch.start()
        for server in (self.http, self.metrics_http):
            if server is not None:
                server.start()
        log.info("esl_recorder up: http on %s:%d, nodes %s", self.settings.http.host,
                 self.http.server_port, ", ".join(self.clients))

    def base_url(self) -> str:
        """Where clients reach this daemon: http.public_base_url, else its listener."""
        http = self.settings.http
        if http.public_base_url:
            return http.public_base_url.rstrip("/")
        host = "127.0.0.1" if http.host in ("0.0.0.0", "::", "") else http.host
        port = self.http.server_port if self.http is not None else http.port
        return f"{'https' if http.tls_cert else 'http'}://{host}:{port}"

    def _listen(self, wsgi: WsgiApp, port: int, key: str) -> ApiServer:
        server = make_server(wsgi, self.settings.http, self.settings.source)
        server.set_listener((self.settings.http.host, port))
        try:
            server.init_socket()
        except OSError as exc:
            if self.http is not None:
                self.http.close()
            raise listen_error(self.settings, key, port, exc) from None
        if self.targets is not None:  # with port 0 the port is known only now
            self.targets.add_own(self.settings.http.host, server.server_port)
        return server

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop listening, let requests in flight finish (within `timeout` seconds), detach
        from FreeSWITCH (recordings keep running there: the next start reconciles them),
        finish the outbox's current writes and close the store. True if nothing in flight
        had to be cut off."""
        deadline = time.monotonic() + timeout
        for server in (self.http, self.metrics_http):
            if server is not None:
                server.close()
        finished = self.in_flight.drain(timeout) if self.in_flight is not None else True
        if not finished:
            log.warning("grace period over with %d requests unanswered",
                        self.in_flight.active if self.in_flight else 0)
        for server in (self.http, self.metrics_http):
            if server is not None:
                server.stop(timeout=0.1)
        if self.commands is not None:
            self.commands.stop()
        if self.policy_watch is not None:
            self.policy_watch.stop()
        if self.scripts is not None:
            self.scripts.stop()
        for client in self.clients.values():
            client.stop()
        if self.ownership is not None:
            self.ownership.stop()
        self.follower.drain(max(0.1, deadline - time.monotonic()))
        self.outbox.stop(timeout=max(0.1, deadline - time.monotonic()))
        self.store.close()
        log.info("esl_recorder stopped")
        return finished

    def reload(self) -> None:
        """SIGHUP: the log level from the configuration file, the Kazoo policy file, and the
        TLS files when the HTTP server serves TLS."""
        reload_log_level(self.settings)
        if self.policies is not None:
            reload_policies(self.policies, self.settings.kazoo.policy_file)
        for server in (self.http, self.metrics_http):
            if server is not None and server.tls_context is not None:
                server.reload_tls()


def build_app(settings: Settings, *, prometheus: CollectorRegistry | None = None,
              clock: Callable[[], float] = time.time) -> App:
    """The daemon's object graph, built but not started (App.start)."""
    prometheus = prometheus or CollectorRegistry()
    metrics = make_metrics(prometheus)
    check_state_dirs(settings)
    store = open_store(settings.store)
    metrics.outbox_oldest_pending_age.set_function(lambda: oldest_pending_age(store, clock))
    core = build_core(settings, store, metrics, clock)
    accounts = AccountBook(settings.accounts)
    dialects = rest_dialects(settings, core, accounts)
    built: list[App] = []  # the base URL is known once the App listens
    scripts = script_runner(settings, core, accounts, lambda: built[0].base_url())
    dialects.append(swml_dialect(settings, core, accounts, scripts))
    TransferFollower(core.recordings, core.tracker, core.controls)
    policies = policy_book(settings, store)
    recorder = policy_recorder(settings, core, policies)
    register_uploads(settings, core.outbox, store, core.targets, core.media, metrics)
    dialects.append(kazoo_dialect(core, accounts, policies))
    router = event_router(settings, core, scripts)
    clients = esl_clients(settings, core, router, scripts, recorder)
    hear_recordings(core, dialects, accounts)  # after the dialects' own subscriptions
    ownership = node_ownership(settings, core, clients)
    commands = None if ownership is None else CommandChannel(settings, core, ownership, scripts)
    ops = ops_app(prometheus, ReadinessCheck(store, "" if settings.store.url
                                             else settings.store.path, clients, ownership))
    app = App(settings, prometheus, metrics, store, core.tracker, core.calls, core.recordings,
              core.service, core.follower, router, accounts, core.outbox,
              ApiApp(dialects, ops, settings.http, metrics), ops, clients, core.media,
              scripts=scripts, controls=core.controls, ownership=ownership,
              commands=commands, policies=policies, targets=core.targets)
    built.append(app)
    return app


# A request allocates thousands of short-lived objects that reference counting frees: with
# CPython's default (700, 10, 10) the cyclic collector would run inside nearly every request.
GC_THRESHOLDS = (20_000, 20, 20)


def freeze_startup_objects() -> None:
    """What was built before serving lives as long as the daemon: keep it out of every
    collection (gc.freeze), so a full collection scans only what came after, and raise the
    collection thresholds to GC_THRESHOLDS. From then on greenlets do not record who
    spawned them (gevent's track_greenlet_tree: a walk of the spawner's stack on every
    spawn, kept for debugging tools the daemon does not use)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gevent.config.track_greenlet_tree = False


def run(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT (exit 0 after at most lifecycle.grace_period seconds of
    shutdown); SIGHUP reloads. Start-up failures raise ConfigError (exit 2)."""
    app = build_app(settings)
    stopping = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    gevent.signal_handler(signal.SIGHUP, lambda: gevent.spawn(app.reload))
    try:
        app.start()
    except BaseException:
        app.store.close()
        raise
    freeze_startup_objects()
    stopping.wait()
    log.info("signal received: stopping (grace %.0f s)", settings.lifecycle.grace_period)
    app.stop(timeout=settings.lifecycle.grace_period)
    return 0
