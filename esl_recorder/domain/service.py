"""Start, stop, pause, resume and mask recordings: the one API every front end uses."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import gevent.lock

from ..errors import Conflict, NotFound, RecordingError
from ..metrics import Metrics
from ..settings import ACCOUNT_ID, RecordingSettings
from .calls import Call, CallTracker
from .facts import Identity
from .names import check_uuid, new_sid, recording_path
from .options import FOLLOW_TRANSFER, PauseBehavior, RecordOptions, record_variables
from .ports import (
    CallControl,
    CallGone,
    CommandRefused,
    ControlTimeout,
    ControlUnavailable,
    Media,
    MediaFile,
    MediaStore,
    RecordingAction,
    RecordingRepository,
    StoreUnavailable,
    command_result,
)
from .recording import ACTIVE, Recording, State, StopReason
from .registry import RecordingRegistry
from .remote import (
    CALL_GET,
    PAUSE,
    RESUME,
    START,
    STOP,
    Args,
    Forwarding,
    call_from_doc,
    recording_from_doc,
)

log = logging.getLogger(__name__)

NO_ACCOUNT = "_"  # directory for calls that carry no account variable


class RecordingService:
    def __init__(self, settings: RecordingSettings, store: RecordingRepository,
                 registry: RecordingRegistry, tracker: CallTracker,
                 nodes: Mapping[str, CallControl], metrics: Metrics,
                 clock: Callable[[], float] = time.time,
                 media: MediaStore | None = None,
                 forwarding: Forwarding | None = None) -> None:
        self._settings = settings
        self._forwarding = forwarding or Forwarding()
        self._media = media
        self._store = store
        self._registry = registry
        self._tracker = tracker
        self._nodes = nodes
        self._metrics = metrics
        self._clock = clock
        self._locks: dict[str, gevent.lock.RLock] = {}
        self._starting: set[str] = set()  # sids whose start commands are out
        # queued sids whose start went out with no answer (the link dropped, or FreeSWITCH
        # was slow): FreeSWITCH may be recording them, until the reconnect finds out
        self._unsure: set[str] = set()
        registry.subscribe(self._forget_when_moved)

    # queries ---------------------------------------------------------------------------
    def get(self, sid: str, account: str | None = None) -> Recording:
        """The recording as committed: not while a change of it is being written."""
        with self._registry.committed():
            rec = self._registry.get(sid)
        if account is not None and rec.account != account:
            raise NotFound(f"no recording {sid}")
        return rec

    def call(self, call_uuid: str, account: str | None = None) -> Call:
        """A live call: FreeSWITCH has reported it (a call being placed is not one yet)
        and it has not hung up."""
        call = self._tracker.get(call_uuid)
        if self._forwarding.enabled:
            nodes = self._forwarding.nodes_of_call(call_uuid, account, call)
            if nodes:  # a call of another daemon's node: as its owner sees it
                doc = self._forwarding.forward(nodes, CALL_GET, {"call_uuid": call_uuid,
                                                                 "account": account})
                return call_from_doc(doc["call"])
        if call is not None and not call.identity_known:
            self._fetch_identity(call)
        if (call is None or not call.reported or call.hungup
                or (account is not None and call.account != account)):
            raise NotFound(f"no live call {call_uuid}")
        return call

    def _fetch_identity(self, call: Call) -> None:
        """A call learned from `show channels` carries no variables: ask for them."""
        node = self._nodes.get(call.node)
        if node is None:
            return
        ident = self._tracker.identity
        names = (ident.account_variable, ident.user_variable, ident.device_variable)
        try:
            values = node.variables(call.uuid, names)
        except CallGone:
            return  # the caller answers NotFound: the call is not live
        except RecordingError as exc:
            # Whose call it is cannot be told: to every account it is not theirs, answered
            # exactly like a missing one (a 503 would tell others that it exists).
            log.warning("call %s: identity unknown while %s: %s", call.uuid, call.node, exc)
            return
        self._tracker.set_identity(call.uuid, Identity(*(values[n] for n in names)))

    def for_call(self, call_uuid: str) -> list[Recording]:
        """The call's recordings that have not ended (of a call on another daemon's node:
        as the store holds them)."""
        recs = self._registry.for_call(call_uuid)
        call = self._tracker.get(call_uuid)
        if recs or not self._forwarding.enabled or (
                call is not None and not self._forwarding.node_elsewhere(call.node)):
            return recs
        with self._registry.committed():
            return [r for r in self._store.list_recordings(call_uuid=call_uuid, limit=1000)
                    if not r.terminal]

    def connected(self, node: str) -> bool:
        """Whether FreeSWITCH node `node` is connected now."""
        control = self._nodes.get(node)
        return control is not None and control.connected

    def list(self, account: str, *, call_uuid: str | None = None,
             created_from: float | None = None, created_to: float | None = None,
             limit: int = 50, offset: int = 0) -> list[Recording]:
        """An account's recordings (finished ones too), newest first."""
        with self._registry.committed():
            return self._store.list_recordings(account=account, call_uuid=call_uuid,
                                               created_from=created_from,
                                               created_to=created_to, limit=limit,
                                               offset=offset)

    def current(self, call_uuid: str, account: str | None = None) -> Recording:
        """The call's most recently started recording that is still running or paused
        (Twilio's `Twilio.CURRENT`)."""
        live = [r for r in self.for_call(call_uuid)
                if r.state in ACTIVE and (account is None or r.account == account)]
        if not live:
            raise NotFound(f"no recording in progress on call {call_uuid}")
        return max(live, key=lambda r: (r.started_at or 0.0, r.created_at))

    def media(self, sid: str, account: str | None = None) -> Media:
        """A completed recording's media: its local file while there is one, else what the
        media store holds. NotFound until it is completed, or when neither has it."""
        rec = self.get(sid, account)
        if rec.state is not State.COMPLETED:
            raise NotFound(f"recording {sid} has no media (it is {rec.state.value})")
        if os.path.isfile(rec.path):
            return MediaFile(rec.path)
        if self._media is None:
            raise NotFound(f"recording {sid} has no media (its file is gone)")
        return self._media.fetch(rec)

    def delete(self, sid: str, account: str | None = None) -> None:
        """Remove a finished recording, its file and its stored media (with any pending
        upload). A running one must be stopped first."""
        rec = self.get(sid, account)
        with self._lock(sid):
            if not rec.terminal:
                raise Conflict(f"recording {sid} is {rec.state.value}: stop it before "
                               "deleting it")
            with self._store.atomic():
                self._store.delete_recording(sid)
                if self._media is not None:
                    self._media.delete(rec)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(rec.path)
            log.info("recording %s deleted (%s)", sid, rec.path)

    # commands --------------------------------------------------------------------------
    def start(self, call_uuid: str, options: RecordOptions, *, account: str | None = None,
              source: str = "", meta: dict[str, Any] | None = None) -> Recording:
        """Persist a new recording, then start it now or, if it waits for answer, on
        CHANNEL_ANSWER. Raises NotFound, InvalidArgument, Conflict or RecordingError."""
        call_uuid = check_uuid(call_uuid)
        if self._forwarding.enabled:
            nodes = self._forwarding.nodes_of_call(call_uuid, account,
                                                   self._tracker.get(call_uuid))
            if nodes:
                return self._forwarded(nodes, START, {
                    "call_uuid": call_uuid, "options": options.to_dict(), "account": account,
                    "source": source, "meta": dict(meta or {})})
        call = self.call(call_uuid, account)
        sid = new_sid()
        wanted = options.control_id
        options = options.validated(self._settings.max_length, default_control_id=sid)
        _check_control_id(wanted, self._registry.for_call(call.uuid))
        rec = Recording(sid=sid, call_uuid=call.uuid, node=call.node, options=options,
                        path=self._path_for(call.account, sid, options.format.value),
                        account=call.account, source=source, created_at=self._clock(),
                        meta=dict(meta or {}))
        self._registry.add(rec, call)
        begin_now = call.answered or not options.answered_only
        # Begun at once, its INFO line is the queued -> in-progress (or failed) transition.
        log.log(logging.DEBUG if begin_now else logging.INFO,
                "recording %s queued on call %s (%s)", sid, call.uuid, rec.path)
        if begin_now:
            try:
                self.begin(rec)
            except ControlUnavailable:
                # Never sent: the error answer leaves no recording behind it.
                self._registry.discard(rec)
                raise
            except ControlTimeout as exc:
                raise ControlTimeout(f"{exc}; recording {sid} may have started: its "
                                     "outcome is reported as usual") from exc
        return rec

    def begin(self, rec: Recording) -> None:
        """Send the beep and `uuid_record start` for a queued recording."""
        with self._lock(rec.sid):
            if rec.state is not State.QUEUED:
                return
            self._starting.add(rec.sid)
            try:
                self._begin(rec)
            except ControlTimeout:
                if rec.state is State.QUEUED:
                    self._unsure.add(rec.sid)
                raise
            finally:
                self._starting.discard(rec.sid)

    def starting(self, sid: str) -> bool:
        """Whether the commands that start this queued recording are out: their answer
        decides how it goes on, a hangup meanwhile does not (FreeSWITCH may have started it
        just before; if not, it failed: the call was gone before it could start)."""
        return sid in self._starting

    def _begin(self, rec: Recording) -> None:
        if rec.options.beep:
            self._beep(rec)
        try:
            with self._command(rec, "start") as node:
                if rec.options.follow_transfer:
                    node.set_variables(rec.call_uuid, FOLLOW_TRANSFER)
                node.start_recording(rec.call_uuid, rec.path, rec.options.max_length_s,
                                     record_variables(rec.options, rec.sid))
        except (CallGone, CommandRefused) as exc:
            if rec.state is not State.QUEUED:  # settled meanwhile (the unfinished timeout)
                raise NotFound(f"call {rec.call_uuid} is gone") from exc
            self._registry.transition(rec, State.FAILED, error=str(exc),
                                      stop_reason=StopReason.ERROR, ended_at=self._clock())
            raise _start_failure(rec, exc) from exc
        with self._registry.committed():  # a RECORD_START being written: committed
            queued = rec.state is State.QUEUED
        if queued:
            try:
                self._registry.transition(rec, State.IN_PROGRESS,
                                          started_at=rec.started_at or self._clock())
            except StoreUnavailable:
                self._undo_start(rec)
                raise
        elif self._registry.unsettled(rec.sid):  # its RECORD_START could not be saved
            self._undo_start(rec)
            raise StoreUnavailable(f"recording {rec.sid} could not be saved and was "
                                   "stopped; it is reported failed")
        self._metrics.recordings_started.labels(rec.source or "none",
                                                rec.options.format.value).inc()

    def stop(self, sid: str, *, account: str | None = None,
             reason: StopReason = StopReason.REQUESTED) -> Recording:
        rec = self.get(sid, account)
        if self._forwarding.node_elsewhere(rec.node):
            return self._forwarded([rec.node], STOP, {"sid": sid, "account": account,
                                                      "reason": reason.value})
        with self._lock(sid):
            if rec.terminal or rec.state is State.STOPPED:
                return rec
            if rec.state is State.QUEUED and rec.sid not in self._unsure:
                self._registry.transition(rec, State.ABSENT, stop_reason=reason,
                                          ended_at=self._clock())
                return rec
            rec.stop_requested = reason
            self._registry.save(rec)
            try:
                with self._command(rec, "stop") as node:
                    node.control_recording(rec.call_uuid, RecordingAction.STOP, rec.path)
            except (CallGone, CommandRefused):
                # FreeSWITCH already closed it (limit, hangup): stopped all the same, and
                # its RECORD_STOP (or the sweep after the hangup) finishes it. A queued one
                # it never began is settled by the reconnect's reconcile.
                log.info("recording %s: FreeSWITCH had closed it before the stop",
                         rec.sid)
                if rec.state is State.QUEUED:
                    return rec
            except ControlUnavailable as exc:
                if rec.state is State.QUEUED:  # saved: the reconnect stops it if it runs
                    raise ControlUnavailable(
                        f"{exc}; recording {sid} may have started: it is stopped once "
                        "FreeSWITCH is back, and its outcome reported as usual") from exc
                raise
            if rec.state in ACTIVE or rec.state is State.QUEUED:  # queued: its start had run
                self._registry.transition(rec, State.STOPPED,
                                          started_at=rec.started_at or rec.created_at)
            return rec

    def pause(self, sid: str, *, account: str | None = None,
              behavior: PauseBehavior | None = None) -> Recording:
        rec = self.get(sid, account)
        if self._forwarding.node_elsewhere(rec.node):
            return self._forwarded([rec.node], PAUSE, {
                "sid": sid, "account": account, "behavior": behavior and behavior.value})
        behavior = behavior or rec.options.pause_behavior
        action = RecordingAction.PAUSE if behavior is PauseBehavior.SKIP else (
            RecordingAction.MASK)
        with self._lock(sid):
            if rec.state is State.PAUSED:
                return rec
            self._require(rec, State.IN_PROGRESS, "pause")
            self._checked(rec, action)
            self._registry.transition(rec, State.PAUSED, paused_by=action.value)
            return rec

    def resume(self, sid: str, *, account: str | None = None) -> Recording:
        rec = self.get(sid, account)
        if self._forwarding.node_elsewhere(rec.node):
            return self._forwarded([rec.node], RESUME, {"sid": sid, "account": account})
        with self._lock(sid):
            if rec.state is State.IN_PROGRESS:
                return rec
            self._require(rec, State.PAUSED, "resume")
            self._checked(rec, RecordingAction.RESUME if rec.paused_by == "pause" else
                          RecordingAction.UNMASK)
            self._registry.transition(rec, State.IN_PROGRESS, paused_by=None)
            return rec

    # helpers ---------------------------------------------------------------------------
    def _forwarded(self, nodes: Sequence[str], operation: str, args: Args) -> Recording:
        """Carried out by the owner of `nodes` (domain.remote): the recording as its
        service returned it there."""
        return recording_from_doc(self._forwarding.forward(nodes, operation, args)["recording"])

    def _undo_start(self, rec: Recording) -> None:
        """FreeSWITCH started a recording the store could not mark started: stop it, and
        have it end `failed` once the store can be written (the error answer says so)."""
        log.error("recording %s on call %s: started, but the store cannot be written: "
                  "stopping it", rec.sid, rec.call_uuid)
        rec.stop_requested = StopReason.ERROR
        try:
            with self._command(rec, "stop") as node:
                node.control_recording(rec.call_uuid, RecordingAction.STOP, rec.path)
        except RecordingError as exc:
            log.warning("recording %s: stop after a failed save: %s", rec.sid, exc)
        self._registry.settle(rec, State.FAILED, stop_reason=StopReason.ERROR,
                              ended_at=self._clock(), error="the store could not be written")

    def _path_for(self, account: str, sid: str, ext: str) -> str:
        if account and not ACCOUNT_ID.fullmatch(account):
            raise RecordingError(f"account {account!r} cannot name a directory")
        day = time.strftime("%Y/%m/%d", time.gmtime(self._clock()))
        return recording_path(self._settings.root, account or NO_ACCOUNT, day, sid, ext)

    def _require(self, rec: Recording, state: State, action: str) -> None:
        if rec.state is not state:
            raise Conflict(f"cannot {action} recording {rec.sid}: it is {rec.state.value}")

    def _checked(self, rec: Recording, action: RecordingAction) -> None:
        try:
            with self._command(rec, action.value) as node:
                node.control_recording(rec.call_uuid, action, rec.path)
        except (CallGone, CommandRefused) as exc:
            raise Conflict(f"FreeSWITCH refused to {action.value} recording {rec.sid}: "
                           f"{exc}") from exc

    def _beep(self, rec: Recording) -> None:
        try:
            with self._command(rec, "beep") as node:
                node.play(rec.call_uuid, self._settings.beep_tone, "aleg")
        except (CallGone, CommandRefused) as exc:
            log.warning("beep before recording %s failed: %s", rec.sid, exc)

    @contextlib.contextmanager
    def _command(self, rec: Recording, action: str) -> Iterator[CallControl]:
        """The recording's node, with the command's result and duration counted."""
        node = self._nodes.get(rec.node)
        if node is None:
            raise RecordingError(f"node {rec.node!r} of recording {rec.sid} is not configured")
        started = time.monotonic()
        result = "ok"
        try:
            yield node
        except (CallGone, RecordingError) as exc:
            result = command_result(exc)
            raise
        finally:
            seconds = time.monotonic() - started
            self._metrics.fs_commands.labels(action, result).inc()
            self._metrics.fs_command_duration.labels(action).observe(seconds)
            log.debug("recording %s: %s -> %s", rec.sid, action, result)

    def _lock(self, sid: str) -> gevent.lock.RLock:
        lock = self._locks.get(sid)
        if lock is None:
            lock = self._locks[sid] = gevent.lock.RLock()
        return lock

    def _forget_when_moved(self, rec: Recording, previous: State) -> None:
        if rec.state is not State.QUEUED:
            self._unsure.discard(rec.sid)
        if rec.terminal:
            self._locks.pop(rec.sid, None)


def _check_control_id(wanted: str, others: list[Recording]) -> None:
    """A control id the caller chose must be free on the call (ours is the new sid)."""
    if wanted and any(r.control_id == wanted for r in others):
        raise Conflict(f"control id {wanted!r} is already in use on this call")


def _start_failure(rec: Recording, exc: CallGone | CommandRefused) -> RecordingError:
    if isinstance(exc, CallGone):
        return NotFound(f"call {rec.call_uuid} is gone")
    return RecordingError(f"FreeSWITCH could not start recording {rec.sid}: {exc.reason}")
