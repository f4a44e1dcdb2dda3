"""build_app(settings) wires the whole object graph; run(settings) is the daemon's life."""

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
from .commands_wiring import CommandChannel
from .delivery.outbox import Outbox
from .delivery.sender import Sender
from .delivery.signing import SendTimeSigner
from .delivery.targets import TargetPolicy
from .delivery.uploads import KIND as UPLOAD
from .delivery.uploads import UrlUploads
from .dialects.bandwidth import BandwidthDialect
from .dialects.base import Dialect
from .dialects.calling import CallingDialect
from .dialects.kazoo import KazooDialect
from .dialects.kazoo_callflow import KazooCallflows
from .dialects.kazoo_policies import load_policies, reload_policies
from .dialects.laml import LamlDialect
from .dialects.relay import RelayEvents
from .dialects.swml import SwmlScripts
from .dialects.swml_fetch import Fetcher
from .dialects.swml_http import SwmlDialect
from .dialects.texml import TexmlDialect
from .domain.call_service import CallService
from .domain.calls import CallTracker
from .domain.follower import RecordingFollower
from .domain.options import AudioFormat
from .domain.policies import PolicyBook
from .domain.policy_recorder import PolicyRecorder
from .domain.ports import CallControl, MediaStream
from .domain.recording import Recording, State
from .domain.registry import RecordingRegistry
from .domain.remote import Forwarding
from .domain.scripts import ScriptDialect, ScriptRoute, ScriptRunner
from .domain.scripts_waits import Executions
from .domain.service import RecordingService
from .domain.transfers import TransferFollower
from .errors import ConfigError, StoreError
from .esl import events as ev
from .esl.client import EslClient
from .esl.control import EslCallControl
from .esl.frames import Event
from .esl.ingest import EventRouter
from .http.ops import Readiness, WsgiApp, ops_app
from .http.server import ApiApp, ApiServer, make_server
from .lifecycle import (
    InFlight,
    check_state_dirs,
    listen_error,
    reload_log_level,
    store_writable,
)
from .metrics import Metrics, make_metrics
from .settings import EslSettings, NodeSettings, Settings
from .store.opener import StateStore, open_store

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
    policy_watch: gevent.Greenlet | None = None

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
            self.policy_watch = gevent.spawn(watch_policies, self.policies,
                                             self.settings.store.takeover_time / 3)
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
            self.policy_watch.kill()
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
    prometheus = prometheus or CollectorRegistry()
    metrics = make_metrics(prometheus)
    check_state_dirs(settings)
    store = open_store(settings.store)
    metrics.outbox_oldest_pending_age.set_function(lambda: _oldest_pending_age(store, clock))
    tracker = CallTracker(settings.identity, store)
    recordings = RecordingRegistry(store, metrics)
    controls: dict[str, CallControl] = {}
    targets = delivery_targets(settings)
    signer = SendTimeSigner({a.id: a.texml_signing_key for a in settings.accounts
                             if a.texml_signing_key}, clock)
    outbox = Outbox(store, settings.delivery, metrics, clock, targets=targets,
                    sender=Sender(settings.delivery.per_host, settings.delivery.timeout,
                                  targets, signer))
    media = _media_store(settings, store, outbox, metrics, tracker)
    forwarding = Forwarding()  # several daemons: attached to the command channel below
    service = RecordingService(settings.recording, store, recordings, tracker, controls,
                               metrics, clock, media=media, forwarding=forwarding)
    calls = CallService(tracker, store, controls, metrics, clock, forwarding)
    follower = RecordingFollower(service, recordings, tracker, store, metrics,
                                 workers=settings.recording.finalize_workers,
                                 truncation_tolerance_s=settings.recording.truncation_tolerance,
                                 unfinished_timeout_s=settings.recording.unfinished_timeout,
                                 clock=clock)
    executions = Executions()
    tracker.subscribe(executions.on_call_event)
    accounts = AccountBook(settings.accounts)
    dialects = _dialects(settings, accounts, service, calls, outbox, metrics, clock, targets)
    built: list[App] = []  # the base URL is known once the App listens
    scripts = _scripts(settings, accounts, targets, tracker, controls, service, recordings,
                       executions, metrics, clock, lambda: built[0].base_url(), forwarding)
    dialects.append(SwmlDialect(accounts=accounts, recordings=service, metrics=metrics,
                                runner=scripts if settings.scripts.run_endpoint else None,
                                tts=(settings.scripts.tts_engine, settings.scripts.tts_voice)))
    TransferFollower(recordings, tracker, controls)
    policies = _policies(settings, store)
    policy_recorder = PolicyRecorder(policies, tracker, service, controls,
                                     settings.kazoo.direction_variable,
                                     settings.kazoo.network_variable)
    outbox.register(UPLOAD, UrlUploads(targets, timeout=settings.kazoo.upload_timeout,
                                       keep_local=settings.kazoo.keep_local,
                                       exists=lambda sid: store.get_recording(sid) is not None,
                                       per_host=settings.delivery.per_host,
                                       stored=_stored_media(media, store)),
                    metrics.upload_attempts)
    dialects.append(KazooDialect(accounts=accounts, recordings=service, policies=policies,
                                 outbox=outbox, metrics=metrics, targets=targets))
    router = EventRouter(tracker, follower, metrics, settings.identity, scripts,
                         settings.scripts.variable,
                         (settings.kazoo.direction_variable, settings.kazoo.network_variable))
    events = ev.SUBSCRIBED + (ev.SCRIPT_EVENTS if scripts is not None else ())
    clients: dict[str, EslClient] = {}
    for node in settings.nodes:
        clients[node.name] = client = _client_for(node, settings.esl, router, follower,
                                                  controls, metrics, events, executions,
                                                  scripts, policy_recorder)
        controls[node.name] = EslCallControl(client, executions)
    _route_recordings(dialects, recordings)
    recordings.subscribe(RelayEvents(accounts, outbox, clock).on_recording)
    if media is not None:  # after the dialects: a recording's callbacks are queued first
        recordings.subscribe(media.on_recording)
    ownership = _ownership(settings, store, clients, follower, recordings, calls, metrics)
    commands = None if ownership is None else CommandChannel(
        settings, store, ownership, forwarding, service, calls, scripts, metrics)
    readiness = _Readiness(store, "" if settings.store.url else settings.store.path, clients,
                           ownership)
    ops = ops_app(prometheus, readiness)
    api = ApiApp(dialects, ops, settings.http, metrics)
    app = App(settings, prometheus, metrics, store, tracker, calls, recordings, service,
              follower, router, accounts, outbox, api, ops, clients, media, scripts=scripts,
              controls=controls, ownership=ownership, commands=commands, policies=policies)
    built.append(app)
    return app


def watch_policies(policies: PolicyBook, interval: float) -> None:
    """Several daemons: a Kazoo policy changed over another daemon's API is in force here
    (for the calls of the nodes this daemon owns) within `interval` seconds."""
    while True:
        gevent.sleep(interval)
        try:
            policies.refresh()
        except StoreError as exc:
            log.warning("recording policies not checked for changes: %s", exc)


def _policies(settings: Settings, store: StateStore) -> PolicyBook:
    """Kazoo's recording policies: the policy file's documents with the API's changes (kept
    in the store) over them. A bad file stops the start with its problem."""
    book = PolicyBook(store, AudioFormat(settings.kazoo.default_format))
    load_policies(book, settings.kazoo.policy_file)
    return book


def _stored_media(media: S3Media | None, store: StateStore
                  ) -> Callable[[str], MediaStream | None] | None:
    """A recording's object in S3 by its sid (None without S3 media, or for a deleted one)."""
    if media is None:
        return None
    s3 = media

    def stored(sid: str) -> MediaStream | None:
        rec = store.get_recording(sid)
        return None if rec is None else s3.stream(rec)

    return stored


def _media_store(settings: Settings, store: StateStore, outbox: Outbox,
                 metrics: Metrics, tracker: CallTracker) -> S3Media | None:
    """media.backend s3: finished recordings are uploaded through the outbox and served from
    the bucket once their local file is gone. The S3 client is the `s3` extra: imported only
    then."""
    if settings.media.backend != "s3":
        return None
    try:
        from .delivery.media import S3Media
    except ImportError as exc:
        raise ConfigError(settings.source, "media.backend",
                          f"s3 needs the minio package (pip install 'esl_recorder[s3]'): "
                          f"{exc}") from None
    media = S3Media(settings.media, outbox, metrics, per_host=settings.delivery.per_host,
                    exists=lambda sid: store.get_recording(sid) is not None,
                    call_live=lambda uuid: (c := tracker.get(uuid)) is not None
                    and not c.hungup)
    tracker.subscribe(media.on_call)
    return media


def _scripts(settings: Settings, accounts: AccountBook, targets: TargetPolicy,
             tracker: CallTracker, controls: dict[str, CallControl],
             service: RecordingService, recordings: RecordingRegistry,
             executions: Executions, metrics: Metrics, clock: Callable[[], float],
             base_url: Callable[[], str], forwarding: Forwarding) -> ScriptRunner | None:
    """The script runner, when scripts are configured or may be sent over the API (else
    None: no events for it)."""
    conf = settings.scripts
    if not conf.documents and not conf.run_endpoint:
        return None
    fetcher = Fetcher(targets, conf.fetch_timeout, conf.max_document_bytes,
                      conf.max_media_bytes, f"{settings.recording.root}/_media")
    routes = [ScriptRoute(document=d.document, dialect=d.dialect, name=d.name,
                          destination=d.destination, tts_engine=d.tts_engine or conf.tts_engine,
                          tts_voice=d.tts_voice or conf.tts_voice) for d in conf.documents]
    dialects: dict[str, ScriptDialect] = {
        "swml": SwmlScripts(fetcher, accounts, service, base_url),
        "kazoo": KazooCallflows(fetcher, AudioFormat(settings.kazoo.default_format),
                                settings.kazoo.bridge_dial_string)}
    return ScriptRunner(routes, dialects, tracker, controls, service, recordings, executions,
                        metrics, conf.variable, clock, forwarding)


def _ownership(settings: Settings, store: StateStore, clients: dict[str, EslClient],
               follower: RecordingFollower, recordings: RecordingRegistry,
               calls: CallService, metrics: Metrics) -> NodeOwnership | None:
    """store.several_daemons: each node is connected to only while this daemon holds its
    lock (cluster.py); else (None) every node is this daemon's."""
    for name in clients:
        metrics.node_owned.labels(node=name).set(0 if settings.store.several_daemons else 1)
    if not settings.store.several_daemons:
        return None
    if not settings.store.url:
        raise ConfigError(settings.source, "store.several_daemons",
                          "several daemons share a PostgreSQL store: set store.url")
    from .store.node_locks import PostgresNodeLocks  # psycopg: after gevent's patching

    def take(node: str) -> None:
        follower.recover([node])  # what another daemon followed until now
        calls.recover([node])  # the dialects' calls on it (their wishes: callbacks, ...)
        metrics.node_owned.labels(node=node).set(1)
        clients[node].start()  # its connect reconciles: calls resynced, recordings settled

    def give_up(node: str) -> None:
        clients[node].stop()
        metrics.node_owned.labels(node=node).set(0)
        recordings.forget_node(node)
        calls.forget_node(node)

    locks = PostgresNodeLocks(settings.store.url, getattr(store, "daemon_id", ""),
                              settings.store.timeout)
    return NodeOwnership(locks, list(clients), settings.store.takeover_time,
                         on_take=take, on_give_up=give_up)


def _oldest_pending_age(store: StateStore, clock: Callable[[], float]) -> float:
    oldest = store.outbox_items("pending", 1)
    return max(0.0, clock() - oldest[0].created_at) if oldest else 0.0


class _Readiness:
    """What /readyz reports, read at request time."""

    def __init__(self, store: StateStore, store_path: str, clients: dict[str, EslClient],
                 ownership: NodeOwnership | None = None) -> None:
        """`store_path`: the SQLite file, whose permissions are checked too ("": none)."""
        self._store = store
        self._store_path = store_path
        self._clients = clients
        self._ownership = ownership

    def __call__(self) -> Readiness:
        # permissions, and whether writes succeed (a full disk, a lock held too long)
        files_ok = not self._store_path or store_writable(self._store_path)
        writable = files_ok and self._store.writable
        if self._ownership is None:
            return Readiness(writable, {n: c.connected for n, c in self._clients.items()})
        owned = self._ownership.owned
        return Readiness(writable, {n: self._clients[n].connected for n in owned},
                         tuple(n for n in self._clients if n not in owned))


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
                             clock=clock, public_base_url=base_url, targets=targets),
            CallingDialect(accounts=accounts, recordings=service, metrics=metrics,
                           public_base_url=base_url, targets=targets)]


def delivery_targets(settings: Settings) -> TargetPolicy:
    """Where callbacks may go: the allowed networks, never this daemon's own endpoints."""
    own = [(settings.http.host, settings.http.port)]
    own += [(node.host, node.port) for node in settings.nodes]
    return TargetPolicy.build(settings.delivery.allowed_networks, own=own)


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
                metrics: Metrics, events: tuple[str, ...], executions: Executions,
                scripts: ScriptRunner | None, policies: PolicyRecorder) -> EslClient:
    def on_event(client: EslClient, event: Event) -> None:
        router.handle(client.node_name, event)

    def on_connect(client: EslClient) -> None:
        follower.reconcile(client.node_name, controls[client.node_name])
        policies.reconcile(client.node_name, controls[client.node_name])
        if scripts is not None:
            scripts.reconcile(client.node_name, controls[client.node_name])

    def on_disconnect(client: EslClient) -> None:
        executions.node_lost(client.node_name)

    return EslClient(node, esl, events=events, on_event=on_event, on_connect=on_connect,
                     on_disconnect=on_disconnect, metrics=metrics)


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
