"""Follows every recording to its end from FreeSWITCH events, and puts things right
after a reconnect or a restart (reconcile / recover)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Collection

import gevent
import gevent.pool

from ..errors import EslRecorderError
from ..metrics import Metrics
from ..repeating import Repeating
from .calls import Call, CallEvent, CallState, CallTracker
from .facts import DtmfPressed, Identity, RecordingStarted, RecordingStopped
from .finalize import Outcome, examine, file_size, stop_reason
from .ports import CallControl, RecordingRepository, StoreUnavailable
from .recording import ACTIVE, Recording, State, StopReason
from .registry import RecordingRegistry
from .service import RecordingService

log = logging.getLogger(__name__)


class RecordingFollower:
    def __init__(self, service: RecordingService, registry: RecordingRegistry,
                 tracker: CallTracker, store: RecordingRepository, metrics: Metrics, *,
                 workers: int = 4, hangup_grace_s: float = 5.0,
                 truncation_tolerance_s: float = 2.0, unfinished_timeout_s: float = 300.0,
                 examine_here_bytes: int = 0,
                 clock: Callable[[], float] = time.time) -> None:
        """`examine_here_bytes`: a finished file up to this size is examined on the hub (the
        recordings are on a local file system), others in a worker thread."""
        self._service = service
        self._registry = registry
        self._tracker = tracker
        self._store = store
        self._metrics = metrics
        self._pool = gevent.pool.Pool(workers)
        self._grace = hangup_grace_s
        self._tolerance_ms = round(truncation_tolerance_s * 1000)
        self._unfinished_timeout = unfinished_timeout_s
        self._examine_here_bytes = examine_here_bytes
        self._sweeper = Repeating("sweeping unfinished recordings",
                                  min(max(unfinished_timeout_s / 4, 0.05), 30.0), self.sweep)
        self._clock = clock
        self._finalizing: set[str] = set()
        self._lost: set[str] = set()  # sids to finish from disk once the grace has passed
        tracker.subscribe(self.on_call_event)

    # facts (called on the ESL dispatcher: never block) -----------------------------
    def follows(self, path: str) -> bool:
        """Whether `path` is a recording of ours. Other tools' recordings on a shared
        FreeSWITCH are common: counted, and their events are not read further."""
        if self._registry.by_path(path) is not None:
            return True
        self.foreign()
        return False

    def roots(self) -> Collection[str]:
        """The directories every path `follows` accepts lies under: an event that names
        none of them is about another tool's recording."""
        return self._registry.roots()

    def foreign(self) -> None:
        """Count an event of another tool's recording (seen without reading its path)."""
        self._metrics.orphan_recordings.inc()

    def on_record_start(self, fact: RecordingStarted) -> None:
        rec = self._known(fact.path, fact.call_uuid, "start")
        if rec is None:
            return
        started = fact.at or self._clock()
        if rec.state is State.QUEUED:
            self._registry.settle(rec, State.IN_PROGRESS, started_at=started)
        elif rec.started_at is None:
            rec.started_at = started
            self._registry.save(rec)

    def on_record_stop(self, fact: RecordingStopped) -> None:
        rec = self._known(fact.path, fact.call_uuid, "stop")
        if rec is None or (rec.state is State.STOPPED and rec.cause):
            return
        call = self._tracker.get(rec.call_uuid)
        self._finish(rec, cause=fact.cause, record_ms=fact.record_ms, ended_at=fact.at,
                     reason=stop_reason(rec.stop_requested, fact.cause,
                                        fact.channel_down or call is None or call.hungup))

    def on_dtmf(self, fact: DtmfPressed) -> None:
        for rec in self._registry.for_call(fact.call_uuid):
            if rec.state in ACTIVE and fact.digit in rec.options.terminators:
                log.info("recording %s: DTMF terminator %s on call %s", rec.sid, fact.digit,
                         fact.call_uuid)
                self._spawn(rec, self._service.stop, rec.sid, reason=StopReason.TERMINATOR)

    def on_call_event(self, event: CallEvent, call: Call) -> None:
        if event is CallEvent.ENDED and call.stored and not call.source:
            self._save_hangup(call)  # a dialect's call: the tracker saves it at each step
        recs = self._registry.for_call(call.uuid)
        if not recs:
            return
        if event is CallEvent.ANSWERED:
            for rec in recs:
                if rec.state is State.QUEUED:
                    self._spawn(rec, self._service.begin, rec)
        elif event is CallEvent.ENDED:
            self._on_hangup(call, recs)
        elif event is CallEvent.RELEASED and any(_stop_to_come(rec) for rec in recs):
            gevent.spawn_later(self._grace, self._sweep_call, call.uuid)

    def _save_hangup(self, call: Call) -> None:
        """A recorded call's row says it ended, whether or not its recordings outlived it."""
        try:
            self._store.save_call(call)
        except StoreUnavailable as exc:
            log.warning("call %s: hangup not saved: %s", call.uuid, exc)

    def _on_hangup(self, call: Call, recs: list[Recording]) -> None:
        for rec in recs:
            if rec.state is not State.QUEUED or self._service.starting(rec.sid):
                continue
            # begun: finished from its file like any running one (a restart's resync ends a
            # dialect's call before its recordings are reconciled)
            if not self._begun_unnoted(rec):
                self._registry.settle(rec, State.ABSENT, stop_reason=StopReason.HANGUP,
                                      ended_at=call.hungup_at or self._clock())

    def _sweep_call(self, call_uuid: str) -> None:
        """RECORD_STOP may come late under load, or be lost: finish from disk."""
        for rec in self._registry.for_call(call_uuid):
            if _stop_to_come(rec):
                log.warning("recording %s: no RECORD_STOP %.0fs after hangup of %s; "
                            "finishing from disk", rec.sid, self._grace, call_uuid)
                self._finish(rec, cause=None, record_ms=None, ended_at=None,
                             reason=rec.stop_requested or StopReason.HANGUP)

    # finishing ---------------------------------------------------------------------------
    def _finish(self, rec: Recording, *, cause: str | None, record_ms: int | None,
                ended_at: float | None, reason: StopReason) -> None:
        if rec.terminal or rec.sid in self._finalizing:
            return
        self._registry.settle(rec, State.STOPPED, cause=cause, stop_reason=reason,
                              fs_record_ms=record_ms, ended_at=ended_at or self._clock(),
                              then=lambda: self._pool.spawn(self.finalize, rec))

    def finalize(self, rec: Recording) -> None:
        """Read the closed file (a large or remote one in a worker thread), then record the
        final state."""
        if rec.sid in self._finalizing:
            return
        self._finalizing.add(rec.sid)
        try:
            self._finalize(rec)
        finally:
            self._finalizing.discard(rec.sid)

    def _finalize(self, rec: Recording) -> None:
        args = (rec.path, rec.cause, rec.options.trim_silence, rec.fs_record_ms,
                self._tolerance_ms)
        here = self._examine_here_bytes and file_size(rec.path) <= self._examine_here_bytes
        outcome: Outcome = (examine(*args) if here
                            else gevent.get_hub().threadpool.apply(examine, args))
        if outcome.repaired:
            log.warning("recording %s: repaired a stale WAV header (%s)", rec.sid, rec.path)
        if rec.terminal:
            return
        cause = "truncated" if outcome.truncated else None
        self._registry.settle(rec, outcome.state, file=outcome.facts, error=outcome.error,
                              finished_cause=cause)
        self._observe(rec, outcome, cause or rec.cause or "unknown")

    def _observe(self, rec: Recording, outcome: Outcome, cause: str) -> None:
        m = self._metrics
        if outcome.state is State.FAILED:
            log.warning("recording %s on call %s failed (%s): %s", rec.sid, rec.call_uuid,
                        cause, outcome.error)
        if outcome.facts:
            m.recording_duration.observe(outcome.facts.duration_ms / 1000)
            m.recording_size.observe(outcome.facts.size)

    def drain(self, timeout: float) -> None:
        """Stop sweeping; let finalizations in progress finish (on shutdown)."""
        self._sweeper.stop(timeout)
        self._pool.join(timeout=timeout)

    # the sweeper: no recording stays unfinished for ever -------------------------------
    def sweep(self) -> None:
        """End what waited too long: a recording queued for `unfinished_timeout` (FreeSWITCH
        never confirmed it: a silent node), or running that long past its call's end or
        past its length limit (its RECORD_STOP was lost, or its node never came back):
        finished from disk."""
        now, limit = self._clock(), self._unfinished_timeout
        for rec in self._registry.unfinished():
            if rec.sid in self._finalizing or self._registry.unsettled(rec.sid):
                continue
            call = self._tracker.get(rec.call_uuid)
            if rec.state is State.QUEUED:
                if now - rec.created_at > limit:
                    log.warning("recording %s on call %s: still queued after %.0f s; failed",
                                rec.sid, rec.call_uuid, now - rec.created_at)
                    self._registry.settle(rec, State.FAILED, stop_reason=StopReason.ERROR,
                                          ended_at=now,
                                          error=f"not started within {limit:.0f} s")
                continue
            past_length = now - (rec.started_at or rec.created_at) > (
                rec.options.max_length_s + limit)
            if not self._service.connected(rec.node):
                # the reconnect's reconcile settles it, unless the node stays away past the
                # recording's length limit: FreeSWITCH has stopped it by then, if it lives
                late = past_length
            elif call is None or call.hungup:
                ended = call.hungup_at if call is not None else None
                late = ended is None or now - ended > limit
            else:
                late = past_length
            if late and (now - rec.created_at > limit):
                log.warning("recording %s on call %s: unfinished %.0f s after its end; "
                            "finishing from disk", rec.sid, rec.call_uuid, limit)
                self._finish(rec, cause=rec.cause, record_ms=rec.fs_record_ms, ended_at=None,
                             reason=rec.stop_requested or StopReason.LOST)

    # restart and reconnect ---------------------------------------------------------------
    def recover(self, nodes: Collection[str] | None = None) -> list[Recording]:
        """Load unfinished recordings (finalizing the stopped ones) and start the sweeper.
        `nodes`: only those of these nodes (several daemons: the nodes this one owns)."""
        self._sweeper.start()
        return self._recover(nodes)

    def _recover(self, nodes: Collection[str] | None = None) -> list[Recording]:
        """At start-up: reload what was in flight; finish what FreeSWITCH already closed."""
        recs = self._registry.load_unfinished(nodes)
        for rec in recs:
            if rec.state is State.STOPPED:
                self._pool.spawn(self.finalize, rec)
        log.info("recovered %d unfinished recordings", len(recs))
        return recs

    def reconcile(self, node: str, control: CallControl) -> None:
        """On every (re)connect: resync calls (a recorded call gone meanwhile is saved as
        ended), then check each unfinished recording."""
        recorded = [c for c in self._tracker.calls(node)
                    if c.stored and not c.source and not c.hungup]
        present = self._tracker.resync(node, control.live_calls())
        for call in recorded:
            if call.uuid not in present:
                self._save_gone(call)
        for rec in self._registry.unfinished(node):
            try:
                self._reconcile_one(rec, control)
            except EslRecorderError as exc:
                log.error("recording %s: reconcile failed: %s", rec.sid, exc)

    def _reconcile_one(self, rec: Recording, control: CallControl) -> None:
        if rec.state is State.STOPPED:
            self._pool.spawn(self.finalize, rec)
            return
        alive = control.call_exists(rec.call_uuid)
        recording = alive and control.is_recording(rec.call_uuid, rec.path)
        stored = self._store.load_call(rec.call_uuid)
        if stored is not None and alive:
            self._adopt_call(stored)
        elif stored is not None and not stored.hungup:
            self._save_gone(stored)  # known from the store only (a restart), and gone
        if recording:
            if rec.state is State.QUEUED:
                self._registry.settle(rec, State.IN_PROGRESS,
                                      started_at=rec.started_at or self._clock())
            log.info("recording %s still running on call %s", rec.sid, rec.call_uuid)
            if rec.stop_requested is not None:  # asked while its start was unanswered
                self._spawn(rec, self._service.stop, rec.sid, reason=rec.stop_requested)
        elif rec.state is State.QUEUED:
            self._reconcile_queued(rec, alive)
        else:
            self._finish_ended_while_away(rec)

    def _finish_ended_while_away(self, rec: Recording) -> None:
        """FreeSWITCH takes a recording off the call's list before it closes the file and
        sends RECORD_STOP: one that ended just before this reconnect still reports on the new
        connection, and its file is not whole until then."""
        if rec.sid in self._lost:
            return  # a reconnect within the grace: finished when the first one's ends
        log.warning("recording %s ended while disconnected; finishing from disk unless "
                    "its RECORD_STOP comes within %.0fs", rec.sid, self._grace)
        self._lost.add(rec.sid)
        gevent.spawn_later(self._grace, self._finish_lost, rec.sid)

    def _finish_lost(self, sid: str) -> None:
        """The recording as held now (a node lost and taken again meanwhile was reloaded from
        the store; one another daemon took over is not held), if still unfinished."""
        self._lost.discard(sid)
        rec = self._registry.held(sid)
        if rec is not None and _stop_to_come(rec) and sid not in self._finalizing:
            self._finish(rec, cause=None, record_ms=None, ended_at=None,
                         reason=rec.stop_requested or StopReason.LOST)

    def _begun_unnoted(self, rec: Recording) -> bool:
        """Whether FreeSWITCH began this queued recording (its file exists) though its start
        was never noted (the answer lost with the link or the daemon); if so it is in
        progress from its creation on."""
        if not os.path.exists(rec.path):
            return False
        self._registry.settle(rec, State.IN_PROGRESS,
                              started_at=rec.started_at or rec.created_at)
        return True

    def _reconcile_queued(self, rec: Recording, alive: bool) -> None:
        if self._begun_unnoted(rec):  # no longer recorded on its call: it has ended since
            self._finish_ended_while_away(rec)
            return
        call = self._tracker.get(rec.call_uuid)
        if not alive or call is None or rec.stop_requested is not None:
            self._registry.settle(rec, State.ABSENT,
                                  stop_reason=rec.stop_requested or StopReason.HANGUP,
                                  ended_at=self._clock())
        elif call.answered or not rec.options.answered_only:
            self._spawn(rec, self._service.begin, rec)

    def _adopt_call(self, stored: Call) -> None:
        live = self._tracker.get(stored.uuid)
        if live is None:
            self._tracker.adopt(stored)
            return
        live.stored = True
        if not live.account:
            self._tracker.set_identity(live.uuid, Identity(stored.account, stored.user,
                                                           stored.device))

    def _save_gone(self, call: Call) -> None:
        """The call ended while nobody listened: its row says so, the time and cause of its
        hangup unknown (as for a dialect's call the resync finds gone). Its recordings are
        the reconcile's: no one hears that it ended."""
        call.state = CallState.ENDED
        try:
            self._store.save_call(call)
        except StoreUnavailable as exc:
            log.warning("call %s: its end while disconnected not saved: %s", call.uuid, exc)

    def _known(self, path: str, call_uuid: str, what: str) -> Recording | None:
        rec = self._registry.by_path(path) if path else None
        if rec is None:
            log.debug("recording %s of a file this daemon did not start: call %s path %s",
                      what, call_uuid, path)
        return rec

    def _spawn(self, rec: Recording, fn: Callable[..., object], *args: object,
               **kwargs: object) -> None:
        """Run `fn(*args, **kwargs)` for `rec` in its own greenlet; a failure is logged with
        the recording's SID and call (an exception's text need not name them)."""
        what = getattr(fn, "__name__", fn)

        def run() -> None:
            try:
                fn(*args, **kwargs)
            except EslRecorderError as exc:
                log.warning("recording %s on call %s: %s failed: %s", rec.sid, rec.call_uuid,
                            what, exc)
            except Exception:
                log.exception("recording %s on call %s: %s failed", rec.sid, rec.call_uuid,
                              what)

        gevent.spawn(run)


def _stop_to_come(rec: Recording) -> bool:
    """Whether FreeSWITCH still owes this recording its RECORD_STOP: it runs, or it was
    stopped by us and the event has not come (the event sets its cause)."""
    return rec.state in ACTIVE or (rec.state is State.STOPPED and rec.cause is None)
