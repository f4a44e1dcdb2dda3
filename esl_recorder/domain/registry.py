"""Recordings in flight, indexed by sid, path and call; every change persisted first,
then announced to listeners (the delivery layer turns announcements into callbacks)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..errors import NotFound
from ..metrics import Metrics
from .calls import Call
from .ports import RecordingRepository
from .recording import ACTIVE, TERMINAL, Recording, State

log = logging.getLogger(__name__)

RecordingListener = Callable[[Recording, State], None]  # (recording, previous state)


class RecordingRegistry:
    def __init__(self, store: RecordingRepository, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._by_sid: dict[str, Recording] = {}
        self._by_path: dict[str, Recording] = {}
        self._by_call: dict[str, dict[str, Recording]] = {}  # call uuid -> sid -> recording
        self._listeners: list[RecordingListener] = []
        self._active: set[str] = set()

    def subscribe(self, listener: RecordingListener) -> None:
        self._listeners.append(listener)

    def add(self, rec: Recording, call: Call | None = None) -> None:
        """Persist a new recording (with its call, when given, in the same commit) before
        anything is sent to FreeSWITCH."""
        self._store.insert_recording(rec, call)
        self._index(rec)
        self._announce(rec, rec.state)

    def load_unfinished(self) -> list[Recording]:
        recs = self._store.unfinished_recordings()
        for rec in recs:
            self._index(rec)
            self._update_gauge(rec)
        return recs

    def get(self, sid: str) -> Recording:
        rec = self._by_sid.get(sid) or self._store.get_recording(sid)
        if rec is None:
            raise NotFound(f"no recording {sid}")
        return rec

    def by_path(self, path: str) -> Recording | None:
        return self._by_path.get(path)

    def for_call(self, call_uuid: str) -> list[Recording]:
        return list(self._by_call.get(call_uuid, {}).values())

    def unfinished(self, node: str | None = None) -> list[Recording]:
        return [r for r in self._by_sid.values() if node is None or r.node == node]

    def __len__(self) -> int:
        return len(self._by_sid)

    def save(self, rec: Recording) -> None:
        """Persist field changes that are not a state change."""
        self._store.save_recording(rec)

    def transition(self, rec: Recording, state: State, **changes: Any) -> None:
        """Move `rec` to `state` (validated), apply `changes`, persist, announce."""
        previous = rec.state
        rec.move(state)
        for name, value in changes.items():
            setattr(rec, name, value)
        self._store.save_recording(rec)
        if rec.state in TERMINAL:
            self._by_sid.pop(rec.sid, None)
            self._by_path.pop(rec.path, None)
            self._unindex_call(rec)
        self._update_gauge(rec)
        if previous is not rec.state:
            log.info("recording %s on call %s: %s -> %s", rec.sid, rec.call_uuid,
                     previous.value, rec.state.value)
            self._announce(rec, previous)

    def _index(self, rec: Recording) -> None:
        self._by_sid[rec.sid] = rec
        self._by_path[rec.path] = rec
        self._by_call.setdefault(rec.call_uuid, {})[rec.sid] = rec

    def _unindex_call(self, rec: Recording) -> None:
        recs = self._by_call.get(rec.call_uuid)
        if recs is not None:
            recs.pop(rec.sid, None)
            if not recs:
                del self._by_call[rec.call_uuid]

    def _update_gauge(self, rec: Recording | None = None) -> None:
        if rec is not None:
            if rec.state in ACTIVE:
                self._active.add(rec.sid)
            else:
                self._active.discard(rec.sid)
        self._metrics.recordings_active.set(len(self._active))

    def _announce(self, rec: Recording, previous: State) -> None:
        for listener in self._listeners:
            try:
                listener(rec, previous)
            except Exception:
                log.exception("listener failed for recording %s", rec.sid)
