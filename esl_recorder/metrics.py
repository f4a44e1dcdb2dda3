"""Every metric the daemon exports, declared once, on a registry handed in.

Labels are bounded: `node` is a configured FreeSWITCH node name, `event` one of the
subscribed event names, `action`/`result`/`cause`/`format` small fixed sets.
Never a call UUID, recording SID, URL or path.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Metrics:
    esl_connected: Gauge
    node_owned: Gauge
    esl_reconnects: Counter
    esl_auth_failures: Counter
    esl_events: Counter
    esl_malformed_frames: Counter
    esl_event_queue_depth: Gauge
    fs_commands: Counter
    fs_command_duration: Histogram
    recordings_started: Counter
    recordings_finished: Counter
    recordings_active: Gauge
    recording_duration: Histogram
    recording_size: Histogram
    orphan_recordings: HotCounter
    calls_tracked: Gauge
    http_requests: Counter
    http_request_duration: Histogram
    api_auth_failures: Counter
    callbacks_enqueued: Counter
    callback_attempts: Counter
    callback_delivery_duration: Histogram
    callbacks_pending: Gauge
    callbacks_dead: Gauge
    # lifecycle helper: uploads, outbox age, build info
    upload_attempts: Counter
    media_removals: Counter
    outbox_oldest_pending_age: Gauge
    # ESL liveness and lag (esl/client.py)
    esl_last_event_timestamp: Gauge
    esl_event_lag: Histogram
    # call scripts (domain/scripts.py)
    script_runs: Counter
    # requests handed to another node's owner (store/commands.py)
    commands_forwarded: Counter


def make_metrics(registry: CollectorRegistry) -> Metrics:
    """Create and register every metric on `registry` (one per daemon or per test)."""
    ns = "esl_recorder"
    Info("build", "Build information", namespace=ns, registry=registry).info(
        {"version": __version__, "python": platform.python_version()}
    )
    m = Metrics(
        esl_connected=Gauge("esl_connected", "1 while the ESL connection to a node is up",
                            ["node"], namespace=ns, registry=registry),
        node_owned=Gauge("node_owned", "1 while this daemon owns the node (several daemons on "
                         "PostgreSQL; always 1 on SQLite)", ["node"], namespace=ns,
                         registry=registry),
        esl_reconnects=Counter("esl_reconnects", "ESL connection attempts after the first",
                               ["node"], namespace=ns, registry=registry),
        esl_auth_failures=Counter("esl_auth_failures", "ESL password refusals",
                                  ["node"], namespace=ns, registry=registry),
        esl_events=Counter("esl_events", "Events received, by event name", ["event"],
                           namespace=ns, registry=registry),
        esl_malformed_frames=Counter("esl_malformed_frames", "Frames that could not be parsed",
                                     ["node"], namespace=ns, registry=registry),
        esl_event_queue_depth=Gauge("esl_event_queue_depth", "Events read but not yet handled",
                                    ["node"], namespace=ns, registry=registry),
        fs_commands=Counter("fs_commands", "Recording commands sent to FreeSWITCH",
                            ["action", "result"], namespace=ns, registry=registry),
        fs_command_duration=Histogram(
            "fs_command_duration_seconds", "Time from sending a command to its result",
            ["action"], namespace=ns, registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)),
        recordings_started=Counter("recordings_started", "Recordings FreeSWITCH started, by "
                                   "the dialect that asked (none: adopted or policy) and format",
                                   ["dialect", "format"], namespace=ns, registry=registry),
        recordings_finished=Counter("recordings_finished", "Recordings finished, by dialect, "
                                    "final state and FreeSWITCH completion cause",
                                    ["dialect", "state", "cause"], namespace=ns,
                                    registry=registry),
        recordings_active=Gauge("recordings_active", "Recordings in progress or paused",
                                namespace=ns, registry=registry),
        recording_duration=Histogram(
            "recording_duration_seconds", "Length of finished recordings",
            namespace=ns, registry=registry,
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 10800)),
        recording_size=Histogram(
            "recording_size_bytes", "Size of finished recording files",
            namespace=ns, registry=registry,
            buckets=(1e4, 1e5, 1e6, 1e7, 5e7, 1e8, 5e8)),
        orphan_recordings=HotCounter("orphan_recordings", "RECORD_START/RECORD_STOP events for "
                                     "paths this daemon did not start", namespace=ns,
                                     registry=registry),
        calls_tracked=Gauge("calls_tracked", "Calls currently known from events (computed "
                            "at scrape time)", namespace=ns, registry=registry),
        http_requests=Counter("http_requests", "API requests answered, by dialect, operation "
                              "and status class (2xx, 4xx, 5xx)",
                              ["dialect", "operation", "status_class"],
                              namespace=ns, registry=registry),
        http_request_duration=Histogram(
            "http_request_duration_seconds", "Time to answer an API request",
            ["dialect"], namespace=ns, registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)),
        api_auth_failures=Counter("api_auth_failures", "API requests refused for missing or "
                                  "wrong credentials", ["dialect"], namespace=ns,
                                  registry=registry),
        callbacks_enqueued=Counter("callbacks_enqueued", "Callbacks written to the outbox",
                                   ["dialect", "kind"], namespace=ns, registry=registry),
        callback_attempts=Counter("callback_attempts", "Callback delivery attempts, by result "
                                  "(delivered, retry, dead)", ["result"], namespace=ns,
                                  registry=registry),
        callback_delivery_duration=Histogram(
            "callback_delivery_duration_seconds", "Time of one callback delivery attempt",
            namespace=ns, registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)),
        callbacks_pending=Gauge("callbacks_pending", "Callbacks in the outbox waiting for "
                                "delivery (computed at scrape time)", namespace=ns,
                                registry=registry),
        callbacks_dead=Gauge("callbacks_dead", "Callbacks given up after delivery.max_age "
                             "(computed at scrape time)", namespace=ns, registry=registry),
        upload_attempts=Counter("upload_attempts", "Recording upload attempts (media.backend "
                                "s3, and Kazoo uploads to a recording's url), by result "
                                "(delivered, retry, dead)", ["result"],
                                namespace=ns, registry=registry),
        media_removals=Counter("media_removals", "Attempts to remove a deleted recording's "
                               "object from the media store, by result (delivered, retry, "
                               "dead)", ["result"], namespace=ns, registry=registry),
        outbox_oldest_pending_age=Gauge(
            "outbox_oldest_pending_age_seconds", "Age of the oldest item waiting in the "
            "outbox, 0 when none (computed at scrape time)", namespace=ns, registry=registry),
        # ESL liveness and lag (esl/client.py)
        esl_last_event_timestamp=Gauge(
            "esl_last_event_timestamp_seconds", "When the last event from a node was "
            "received (unix seconds; HEARTBEAT keeps it fresh on an idle node)", ["node"],
            namespace=ns, registry=registry),
        esl_event_lag=Histogram(
            "esl_event_lag_seconds", "Now minus Event-Date-Timestamp when events are handed "
            "to the daemon (the oldest event of each received chunk)", ["node"],
            namespace=ns, registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)),
        script_runs=Counter("script_runs", "Call scripts that ended, by dialect (swml) and "
                            "outcome (completed, hungup, failed)", ["dialect", "outcome"],
                            namespace=ns, registry=registry),
        commands_forwarded=Counter(
            "commands_forwarded", "Requests about a call or recording of a node another "
            "daemon owns, handed to that owner, by operation and outcome (ok, refused: the "
            "owner's error answer, no_owner, not_taken, under_way, store_unavailable)",
            ["operation", "outcome"], namespace=ns, registry=registry),
    )
    for result in UPLOAD_RESULTS:
        m.upload_attempts.labels(result=result)
        m.media_removals.labels(result=result)
    for action in RECORD_ACTIONS:
        for result in COMMAND_RESULTS:
            m.fs_commands.labels(action=action, result=result)
    return m

