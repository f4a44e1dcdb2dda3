"""Which calls the recording service treats as live."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from store_backends import StoreFactory

from esl_recorder.domain.calls import Call, CallTracker
from esl_recorder.domain.facts import ChannelCreated, ChannelHungup, Identity
from esl_recorder.domain.options import RecordOptions
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
