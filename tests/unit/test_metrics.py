"""The metrics registry: labelled children, exported in the text format."""

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from esl_recorder.metrics import Children, make_metrics


def test_event_counter_children_are_bound_once_and_exported() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    create = metrics.esl_events.labels(event="CHANNEL_CREATE")
    assert metrics.esl_events.labels(event="CHANNEL_CREATE") is create
    create.inc()
    create.inc(4)
    metrics.esl_events.labels(event="DTMF").inc()
    text = generate_latest(registry).decode()
    assert 'esl_recorder_esl_events_total{event="CHANNEL_CREATE"} 5.0' in text
    assert 'esl_recorder_esl_events_total{event="DTMF"} 1.0' in text


def test_event_counter_takes_only_its_label() -> None:
    metrics = make_metrics(CollectorRegistry())
    with pytest.raises(ValueError):
        metrics.esl_events.labels(node="fs1")


def test_children_are_the_metrics_own_labelled_children() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    requests = Children(metrics.http_requests)
    child = requests("laml", "create_recording_json", "200")
    assert child is metrics.http_requests.labels(
        dialect="laml", operation="create_recording_json", status="200")
    assert requests("laml", "create_recording_json", "200") is child
    child.inc()
    text = generate_latest(registry).decode()
    assert ('esl_recorder_http_requests_total{dialect="laml",operation="create_recording_json",'
            'status="200"} 1.0') in text


def test_the_orphan_counter_counts_without_labels_and_is_exported() -> None:
    registry = CollectorRegistry()
    metrics = make_metrics(registry)
    metrics.orphan_recordings.inc()
    metrics.orphan_recordings.inc(2)
    text = generate_latest(registry).decode()
    assert "esl_recorder_orphan_recordings_total 3.0" in text
