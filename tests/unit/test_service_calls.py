"""Which calls the recording service treats as live."""

from __future__ import annotations

from pathlib import Path

import gevent
import gevent.event
import pytest
from prometheus_client import CollectorRegistry
from store_backends import StoreFactory

from esl_recorder.domain.calls import Call, CallTracker
from esl_recorder.domain.facts import ChannelCreated, ChannelHungup, Identity
from esl_recorder.domain.options import RecordOptions
from esl_recorder.domain.ports import StoreUnavailable
from esl_recorder.domain.recording import Recording, State
from esl_recorder.domain.registry import RecordingRegistry
from esl_recorder.domain.service import RecordingService
from esl_recorder.errors import NotFound
from esl_recorder.metrics import make_metrics
from esl_recorder.settings import IdentitySettings, RecordingSettings


def test_a_call_being_placed_is_live_once_freeswitch_reports_it(
        tmp_path: Path, store_factory: StoreFactory) -> None:
    store = store_factory()
    metrics = make_metrics(CollectorRegistry())
    tracker = CallTracker(IdentitySettings(), store)
    service = RecordingService(RecordingSettings(root=str(tmp_path)), store,
                               RecordingRegistry(store, metrics), tracker, {}, metrics)
    tracker.place(Call(uuid="c1", node="fs1", account="acme", source="bandwidth"))
    with pytest.raises(NotFound):  # nothing is sent for a call FreeSWITCH does not know yet
        service.start("c1", RecordOptions(), account="acme")
    assert service.for_call("c1") == []
    tracker.apply(ChannelCreated("c1", "fs1", 1.0, identity=Identity("acme")))
    assert service.call("c1", "acme").uuid == "c1"
    tracker.apply(ChannelHungup("c1", "fs1", 2.0, cause="NORMAL_CLEARING"))
    with pytest.raises(NotFound):
        service.call("c1", "acme")


def test_a_recording_reads_as_committed_while_a_change_of_it_is_written(
        tmp_path: Path, store_factory: StoreFactory) -> None:
    """A change is made in memory, then written (a PostgreSQL commit lets other greenlets run
    meanwhile): a read in between waits for the write, and a change the store refused is
    never shown."""
    store = store_factory()
    metrics = make_metrics(CollectorRegistry())
    registry = RecordingRegistry(store, metrics)
    service = RecordingService(RecordingSettings(root=str(tmp_path)), store, registry,
                               CallTracker(IdentitySettings(), store), {}, metrics)
    rec = Recording(sid="RE1", call_uuid="c1", node="fs1", path=f"{tmp_path}/RE1.wav",
                    options=RecordOptions(), account="acme", source="laml", created_at=1.0)
    registry.add(rec)
    writing, refused = gevent.event.Event(), gevent.event.Event()

    def listener(changed: Recording, previous: State) -> None:  # writes in the transaction
        writing.set()
        refused.wait()
        raise StoreUnavailable("the disk is full")

    registry.subscribe(listener)
    change = gevent.spawn(registry.transition, rec, State.IN_PROGRESS, started_at=2.0)
    assert writing.wait(5)
    read = gevent.spawn(lambda: service.get("RE1", "acme").state)
    gevent.idle()  # the read has gone as far as it can while the change is written
    refused.set()
    with pytest.raises(StoreUnavailable):
        change.get(timeout=5)
    assert read.get(timeout=5) is State.QUEUED
    assert store.get_recording("RE1").state is State.QUEUED
