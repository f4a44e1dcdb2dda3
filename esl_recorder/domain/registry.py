"""Recordings in flight, indexed by sid, path and call. Every change and what its listeners
write because of it (the dialects' callbacks in the outbox) are one transaction: both are
committed, or neither is and the recording is as it was (StoreUnavailable is raised).

A fact FreeSWITCH reported (`settle`) cannot be refused: when the store cannot take it, it
is kept in order, per recording, and applied again once a second until the store can."""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from typing import Any

import gevent
import gevent.lock

from ..errors import Conflict, NotFound
from ..metrics import Metrics
from .calls import Call
from .names import recording_root
from .ports import RecordingRepository, StoreUnavailable
from .recording import ACTIVE, TERMINAL, Recording, State

log = logging.getLogger(__name__)

RecordingListener = Callable[[Recording, State], None]  # (recording, previous state)
SETTLE_RETRY = 1.0  # seconds between attempts to write facts the store could not take
Fact = tuple[Recording, State, dict[str, Any], Callable[[], object] | None]


class RecordingRegistry:
    def __init__(self, store: RecordingRepository, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._by_sid: dict[str, Recording] = {}
        self._by_path: dict[str, Recording] = {}
        self._roots: Counter[str] = Counter()  # recording root -> recordings under it here
        self._by_call: dict[str, dict[str, Recording]] = {}  # call uuid -> sid -> recording
        self._listeners: list[RecordingListener] = []
        self._active: set[str] = set()
        self._unsettled: deque[Fact] = deque()
        self._transitions = gevent.lock.RLock()  # held while one is written
        self._settler: gevent.Greenlet | None = None

    def subscribe(self, listener: RecordingListener) -> None:
        self._listeners.append(listener)

    def add(self, rec: Recording, call: Call | None = None) -> None:
        """Persist a new recording (with its call, when given, and what its listeners write,
        in the same commit) before anything is sent to FreeSWITCH."""
        with self._store.atomic():
            self._store.insert_recording(rec, call)
            self._announce(rec, rec.state)
        if call is not None:
            call.stored = True
        self._index(rec)

    def discard(self, rec: Recording) -> None:
        """Forget a queued recording whose create was answered with an error before
        anything reached FreeSWITCH: no resource is left behind an error."""
        self._store.delete_recording(rec.sid)
        self._by_sid.pop(rec.sid, None)
        self._unindex_path(rec)
        self._unindex_call(rec)
        log.info("recording %s on call %s discarded: it was never started", rec.sid,
                 rec.call_uuid)

    def move(self, rec: Recording, call_uuid: str) -> None:
        """The recording runs on another leg now (FreeSWITCH moved it with a transfer):
        its events and its end are that leg's from here on, and stored so (a restart
        finds it there). Kept in memory when the store cannot be written: the reconnect
        after a restart would then look for it on the leg it left."""
        self._unindex_call(rec)
        rec.call_uuid = call_uuid
        self._by_call.setdefault(call_uuid, {})[rec.sid] = rec
        try:
            self._store.save_recording(rec)
        except StoreUnavailable as exc:
            log.warning("recording %s: its move to leg %s not saved: %s", rec.sid, call_uuid,
                        exc)

    def load_unfinished(self, nodes: Collection[str] | None = None) -> list[Recording]:
        """The store's unfinished recordings (of `nodes` only, when given) not held here
        yet, now held."""
        recs = [r for r in self._store.unfinished_recordings()
                if (nodes is None or r.node in nodes) and r.sid not in self._by_sid]
        for rec in recs:
            self._index(rec)
            self._update_gauge(rec)
        return recs

    def forget_node(self, node: str) -> None:
        """Stop holding the recordings of `node` (another daemon follows them now)."""
        for rec in [r for r in self._by_sid.values() if r.node == node]:
            self._by_sid.pop(rec.sid, None)
            self._unindex_path(rec)
            self._unindex_call(rec)
            self._active.discard(rec.sid)
        self._update_gauge()

    def get(self, sid: str) -> Recording:
        rec = self._by_sid.get(sid) or self._store.get_recording(sid)
        if rec is None:
            raise NotFound(f"no recording {sid}")
        return rec

    def held(self, sid: str) -> Recording | None:
        """The recording as this registry holds it now (None when it holds none)."""
        return self._by_sid.get(sid)

    def by_path(self, path: str) -> Recording | None:
        return self._by_path.get(path)

    def roots(self) -> Collection[str]:
        """The recording roots the paths of by_path lie under (see names.recording_root)."""
        return self._roots.keys()

    def for_call(self, call_uuid: str) -> list[Recording]:
        return list(self._by_call.get(call_uuid, {}).values())

    def unfinished(self, node: str | None = None) -> list[Recording]:
        return [r for r in self._by_sid.values() if node is None or r.node == node]

    def __len__(self) -> int:
        return len(self._by_sid)

    def save(self, rec: Recording) -> None:
        """Persist field changes that are not a state change."""
        self._store.save_recording(rec)

    def transition(self, rec: Recording, state: State, *, finished_cause: str | None = None,
                   **changes: Any) -> None:
        """Move `rec` to `state` (validated), apply `changes`, persist and announce in one
        transaction. On StoreUnavailable `rec` is left as it was. One at a time: a store
        may let other greenlets run while it writes (see `committed`). A final state is
        counted in recordings_finished_total by `finished_cause`, else FreeSWITCH's
        completion cause, else why it stopped (a recording that never started has none)."""
        with self._transitions:
            previous = rec.state
            before = dict(vars(rec))  # meta is fixed at creation: no listener changes it
            rec.move(state)
            for name, value in changes.items():
                setattr(rec, name, value)
            try:
                with self._store.atomic():
                    self._store.save_recording(rec)
                    if previous is not rec.state:
                        self._announce(rec, previous)
            except StoreUnavailable:
                vars(rec).update(before)
                raise
        if rec.state in TERMINAL:
            self._count_finished(rec, finished_cause)
            self._by_sid.pop(rec.sid, None)
            self._unindex_path(rec)
            self._unindex_call(rec)
        self._update_gauge(rec)
        if previous is not rec.state:
            log.info("recording %s on call %s: %s -> %s", rec.sid, rec.call_uuid,
                     previous.value, rec.state.value)

    def committed(self) -> AbstractContextManager[bool]:
        """Held while no transition is being written: a read of the store inside sees what
        the recordings in memory show (a transition changes them before its commit)."""
        return self._transitions

    def settle(self, rec: Recording, state: State, *, then: Callable[[], object] | None = None,
               **changes: Any) -> None:
        """A transition FreeSWITCH already made happen: applied now, or kept (after any
        earlier ones kept for the same recording) until the store can take it; `then` runs
        once it is applied."""
        if not self.unsettled(rec.sid):
            try:
                self.transition(rec, state, **changes)
                if then is not None:
                    then()
                return
            except StoreUnavailable as exc:
                log.warning("recording %s on call %s: %s kept until the store can be "
                            "written: %s", rec.sid, rec.call_uuid, state.value, exc)
        self._unsettled.append((rec, state, changes, then))
        if self._settler is None or self._settler.dead:
            self._settler = gevent.spawn(self._settle_kept)

    def unsettled(self, sid: str) -> bool:
        """Whether facts of this recording wait for the store."""
        return any(fact[0].sid == sid for fact in self._unsettled)

    def _settle_kept(self) -> None:
        while self._unsettled:
            gevent.sleep(SETTLE_RETRY)
            while self._unsettled:
                rec, state, changes, then = self._unsettled[0]
                try:
                    self.transition(rec, state, **changes)
                    if then is not None:
                        then()
                except StoreUnavailable:
                    break
                except Conflict as exc:  # overtaken by a later fact already applied
                    log.warning("recording %s: kept %s dropped: %s", rec.sid, state.value, exc)
                except Exception:
                    log.exception("recording %s: kept %s could not be applied", rec.sid,
                                  state.value)
                self._unsettled.popleft()

    def _index(self, rec: Recording) -> None:
        self._by_sid[rec.sid] = rec
        if rec.path not in self._by_path:
            self._roots[recording_root(rec.path)] += 1
        self._by_path[rec.path] = rec
        self._by_call.setdefault(rec.call_uuid, {})[rec.sid] = rec

    def _unindex_path(self, rec: Recording) -> None:
        if self._by_path.pop(rec.path, None) is not None:
            root = recording_root(rec.path)
            self._roots[root] -= 1
            if not self._roots[root]:
                del self._roots[root]

    def _unindex_call(self, rec: Recording) -> None:
        recs = self._by_call.get(rec.call_uuid)
        if recs is not None:
            recs.pop(rec.sid, None)
            if not recs:
                del self._by_call[rec.call_uuid]

    def _count_finished(self, rec: Recording, cause: str | None) -> None:
        reason = rec.stop_reason.value if rec.stop_reason else "unknown"
        self._metrics.recordings_finished.labels(
            dialect=rec.source or "none", state=rec.state.value,
            cause=cause or rec.cause or reason).inc()

    def _update_gauge(self, rec: Recording | None = None) -> None:
        if rec is not None:
            if rec.state in ACTIVE:
                self._active.add(rec.sid)
            else:
                self._active.discard(rec.sid)
        self._metrics.recordings_active.set(len(self._active))

    def _announce(self, rec: Recording, previous: State) -> None:
        """Inside the change's transaction: a listener that cannot write undoes it all."""
        for listener in self._listeners:
            try:
                listener(rec, previous)
            except StoreUnavailable:
                raise
            except Exception:
                log.exception("listener failed for recording %s", rec.sid)
