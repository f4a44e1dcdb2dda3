"""Every metric the daemon exports, declared once, on a registry handed in.

Labels are bounded: `node` is a configured FreeSWITCH node name, `event` one of the
subscribed event names, `action`/`result`/`cause`/`format` small fixed sets.
Never a call UUID, recording SID, URL or path.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily, Metric

from . import __version__

RECORD_ACTIONS = ("start", "stop", "pause", "resume", "mask", "unmask", "beep")
COMMAND_RESULTS = ("ok", "error", "timeout", "disconnected")

UPLOAD_RESULTS = ("delivered", "retry", "dead")


class HotCounter:
    """A label-less counter for a per-event path: a plain int, exported at scrape time.

    prometheus_client's Counter takes a lock on every inc() (a gevent lock once threading
    is patched); only the hub thread increments this one, so it needs none.
    """

    def __init__(self, name: str, documentation: str, *, namespace: str,
                 registry: CollectorRegistry) -> None:
        self.name = f"{namespace}_{name}"
        self.documentation = documentation
        self.value = 0
        registry.register(self)

    def inc(self, amount: int = 1) -> None:
        self.value += amount

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation)
        family.add_metric([], self.value)
        yield family


NAMESPACE = "esl_recorder"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


@dataclass(frozen=True)
class Metrics:
    # the FreeSWITCH nodes: connection, events, commands (esl/)
    esl_connected: Gauge
    esl_reconnects: Counter
    esl_auth_failures: Counter
    esl_events: Counter
    esl_malformed_frames: Counter
    esl_event_queue_depth: Gauge
    esl_last_event_timestamp: Gauge
    esl_event_lag: Histogram
    fs_commands: Counter
    fs_command_duration: Histogram
    # recordings, calls and call scripts (domain/)
    recordings_started: Counter
    recordings_finished: Counter
    recordings_active: Gauge
    recording_duration: Histogram
    recording_size: Histogram
    orphan_recordings: HotCounter
    calls_tracked: Gauge
    script_runs: Counter
    # the HTTP API (http/, dialects/)
    http_requests: Counter
    http_request_duration: Histogram
    api_auth_failures: Counter
    # the outbox: callbacks, uploads, media removals (delivery/)
    callbacks_enqueued: Counter
    callback_attempts: Counter
    callback_delivery_duration: Histogram
    callbacks_pending: Gauge
    callbacks_dead: Gauge
    upload_attempts: Counter
    media_removals: Counter
    outbox_oldest_pending_age: Gauge
    delivery_targets_refused: Counter
    # several daemons: node ownership, requests handed to another node's owner
    node_owned: Gauge
    commands_forwarded: Counter


class _Declare:
    """Makes metrics named `esl_recorder_<name>` on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, doc, labels, namespace=NAMESPACE, registry=self.registry)

    def gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, doc, labels, namespace=NAMESPACE, registry=self.registry)

    def histogram(self, name: str, doc: str, labels: tuple[str, ...] = (), *,
                  buckets: tuple[float, ...]) -> Histogram:
        return Histogram(name, doc, labels, namespace=NAMESPACE, registry=self.registry,
                         buckets=buckets)


def make_metrics(registry: CollectorRegistry) -> Metrics:
    """Create and register every metric on `registry` (one per daemon or per test)."""
    Info("build", "Build information", namespace=NAMESPACE, registry=registry).info(
        {"version": __version__, "python": platform.python_version()}
    )
    declare = _Declare(registry)
    m = Metrics(**_esl_metrics(declare), **_recording_metrics(declare),
                **_http_metrics(declare), **_outbox_metrics(declare),
                **_cluster_metrics(declare))
    for result in UPLOAD_RESULTS:
        m.upload_attempts.labels(result=result)
        m.media_removals.labels(result=result)
    for action in RECORD_ACTIONS:
        for result in COMMAND_RESULTS:
            m.fs_commands.labels(action=action, result=result)
    return m


def _esl_metrics(d: _Declare) -> dict[str, Any]:
    node = ("node",)
    return {
        "esl_connected": d.gauge("esl_connected", "1 while the ESL connection to a node is up",
                                 node),
        "esl_reconnects": d.counter("esl_reconnects", "ESL connection attempts after the first",
                                    node),
        "esl_auth_failures": d.counter("esl_auth_failures", "ESL password refusals", node),
        "esl_events": d.counter("esl_events", "Events received, by event name", ("event",)),
        "esl_malformed_frames": d.counter("esl_malformed_frames",
                                          "Frames that could not be parsed", node),
        "esl_event_queue_depth": d.gauge("esl_event_queue_depth",
                                         "Events read but not yet handled", node),
        "esl_last_event_timestamp": d.gauge(
            "esl_last_event_timestamp_seconds", "When the last event from a node was "
            "received (unix seconds; HEARTBEAT keeps it fresh on an idle node)", node),
        "esl_event_lag": d.histogram(
            "esl_event_lag_seconds", "Now minus Event-Date-Timestamp when events are handed "
            "to the daemon (the oldest event of each received chunk)", node,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)),
        "fs_commands": d.counter("fs_commands", "Recording commands sent to FreeSWITCH",
                                 ("action", "result")),
        "fs_command_duration": d.histogram(
            "fs_command_duration_seconds", "Time from sending a command to its result",
            ("action",), buckets=LATENCY_BUCKETS),
    }


def _recording_metrics(d: _Declare) -> dict[str, Any]:
    return {
        "recordings_started": d.counter(
            "recordings_started", "Recordings FreeSWITCH started, by the dialect that asked "
            "(none: adopted or policy) and format", ("dialect", "format")),
        "recordings_finished": d.counter(
            "recordings_finished", "Recordings finished, by dialect, final state and "
            "FreeSWITCH completion cause", ("dialect", "state", "cause")),
        "recordings_active": d.gauge("recordings_active", "Recordings in progress or paused"),
        "recording_duration": d.histogram(
            "recording_duration_seconds", "Length of finished recordings",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 10800)),
        "recording_size": d.histogram(
            "recording_size_bytes", "Size of finished recording files",
            buckets=(1e4, 1e5, 1e6, 1e7, 5e7, 1e8, 5e8)),
        "orphan_recordings": HotCounter(
            "orphan_recordings", "RECORD_START/RECORD_STOP events for paths this daemon did "
            "not start", namespace=NAMESPACE, registry=d.registry),
        "calls_tracked": d.gauge("calls_tracked", "Calls currently known from events "
                                 "(computed at scrape time)"),
        "script_runs": d.counter("script_runs", "Call scripts that ended, by dialect (swml) "
                                 "and outcome (completed, hungup, failed)",
                                 ("dialect", "outcome")),
    }


def _http_metrics(d: _Declare) -> dict[str, Any]:
    return {
        "http_requests": d.counter("http_requests", "API requests answered, by dialect, "
                                   "operation and status class (2xx, 4xx, 5xx)",
                                   ("dialect", "operation", "status_class")),
        "http_request_duration": d.histogram(
            "http_request_duration_seconds", "Time to answer an API request", ("dialect",),
            buckets=LATENCY_BUCKETS),
        "api_auth_failures": d.counter("api_auth_failures", "API requests refused for missing "
                                       "or wrong credentials", ("dialect",)),
    }


def _outbox_metrics(d: _Declare) -> dict[str, Any]:
    return {
        "callbacks_enqueued": d.counter("callbacks_enqueued", "Callbacks written to the outbox",
                                        ("dialect", "kind")),
        "callback_attempts": d.counter("callback_attempts", "Callback delivery attempts, by "
                                       "result (delivered, retry, dead)", ("result",)),
        "callback_delivery_duration": d.histogram(
            "callback_delivery_duration_seconds", "Time of one callback delivery attempt",
            buckets=(*LATENCY_BUCKETS, 10)),
        "callbacks_pending": d.gauge("callbacks_pending", "Callbacks in the outbox waiting for "
                                     "delivery (computed at scrape time)"),
        "callbacks_dead": d.gauge("callbacks_dead", "Callbacks given up after "
                                  "delivery.max_age (computed at scrape time)"),
        "upload_attempts": d.counter("upload_attempts", "Recording upload attempts "
                                     "(media.backend s3, and Kazoo uploads to a recording's "
                                     "url), by result (delivered, retry, dead)", ("result",)),
        "media_removals": d.counter("media_removals", "Attempts to remove a deleted "
                                    "recording's object from the media store, by result "
                                    "(delivered, retry, dead)", ("result",)),
        "delivery_targets_refused": d.counter(
            "delivery_targets_refused", "Deliveries given up at once, nothing sent: the target "
            "resolved to an address they may not reach (delivery.allowed_networks, the "
            "daemon's own endpoints), by kind (callback, url-upload)", ("kind",)),
        "outbox_oldest_pending_age": d.gauge(
            "outbox_oldest_pending_age_seconds", "Age of the oldest item waiting in the "
            "outbox, 0 when none (computed at scrape time)"),
    }


def _cluster_metrics(d: _Declare) -> dict[str, Any]:
    return {
        "node_owned": d.gauge("node_owned", "1 while this daemon owns the node (several "
                              "daemons on PostgreSQL; always 1 on SQLite)", ("node",)),
        "commands_forwarded": d.counter(
            "commands_forwarded", "Requests about a call or recording of a node another "
            "daemon owns, handed to that owner, by operation and outcome (ok, refused: the "
            "owner's error answer, no_owner, not_taken, under_way, store_unavailable)",
            ("operation", "outcome")),
    }
