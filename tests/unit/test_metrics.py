"""The metrics registry: every metric declared once, exported with its labels."""

from prometheus_client import CollectorRegistry, generate_latest

from esl_recorder.domain.ports import (
    CallGone,
    CommandRefused,
    ControlLost,
    ControlTimeout,
    ControlUnavailable,
    command_result,
)
from esl_recorder.metrics import COMMAND_RESULTS, make_metrics


def test_labelled_counters_are_exported_by_label() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    metrics.esl_events.labels(event="CHANNEL_CREATE").inc(5)
    metrics.esl_events.labels(event="DTMF").inc()
    metrics.http_requests.labels("laml", "create_recording_json", "2xx").inc()
    text = generate_latest(registry).decode()
    assert 'esl_recorder_esl_events_total{event="CHANNEL_CREATE"} 5.0' in text
    assert 'esl_recorder_esl_events_total{event="DTMF"} 1.0' in text
    assert ('esl_recorder_http_requests_total{dialect="laml",operation="create_recording_json",'
            'status_class="2xx"} 1.0') in text


def test_the_orphan_counter_counts_without_labels_and_is_exported() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    metrics.orphan_recordings.inc()
    metrics.orphan_recordings.inc(2)
    text = generate_latest(registry).decode()
    assert "esl_recorder_orphan_recordings_total 3.0" in text


def test_every_recording_command_and_result_is_exported_before_any_is_sent() -> None:
    registry = CollectorRegistry()
    make_metrics(registry)
    text = generate_latest(registry).decode()
    assert 'esl_recorder_fs_commands_total{action="mask",result="timeout"} 0.0' in text


def test_a_commands_result_label_says_who_failed_it() -> None:
    cases = {CallGone("gone"): "error", CommandRefused("stop", "-ERR no"): "error",
             ControlTimeout("slow"): "timeout", ControlLost("dropped"): "disconnected",
             ControlUnavailable("down"): "disconnected"}
    assert {type(exc).__name__: command_result(exc) for exc in cases} == {
        type(exc).__name__: label for exc, label in cases.items()}
    assert set(cases.values()) <= set(COMMAND_RESULTS)
