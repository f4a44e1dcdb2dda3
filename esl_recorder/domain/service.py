"""Start, stop, pause, resume and mask recordings: the one API every front end uses."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import gevent.lock

from ..errors import Conflict, EslError, EslTimeout, NotFound, RecordingError
from ..esl import commands as cmd
from ..metrics import Children, Metrics
from ..settings import RecordingSettings
from ..store.sqlite import Store
from .calls import Call, CallTracker
from .options import PauseBehavior, RecordOptions, record_variables
from .recording import ACTIVE, Recording, State, StopReason, new_sid
from .registry import RecordingRegistry

log = logging.getLogger(__name__)

_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
NO_ACCOUNT = "_"  # directory for calls that carry no account variable


class CommandChannel(Protocol):
    """What the service needs of a node connection (esl.client.EslClient)."""

    @property
    def connected(self) -> bool: ...

    def api(self, command: str, timeout: float | None = None) -> str: ...

    def bgapi(self, command: str, timeout: float | None = None,
              job_uuid: str | None = None) -> str: ...


class RecordingService:
    def __init__(self, settings: RecordingSettings, store: Store, registry: RecordingRegistry,
                 tracker: CallTracker, nodes: Mapping[str, CommandChannel], metrics: Metrics,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._store = store
        self._registry = registry
        self._tracker = tracker
        self._nodes = nodes
        self._started = Children(metrics.recordings_started)
        self._commands = Children(metrics.fs_commands)
        self._command_durations = Children(metrics.fs_command_duration)
        self._clock = clock
        self._locks: dict[str, gevent.lock.RLock] = {}
        registry.subscribe(self._drop_lock_when_done)

    # queries ---------------------------------------------------------------------------
    def get(self, sid: str, account: str | None = None) -> Recording:
        rec = self._registry.get(sid)
        if account is not None and rec.account != account:
            raise NotFound(f"no recording {sid}")
        return rec

    def call(self, call_uuid: str, account: str | None = None) -> Call:
        call = self._tracker.get(call_uuid)
        if call is not None and not call.identity_known:
            self._fetch_identity(call)
        if call is None or call.hungup or (account is not None and call.account != account):
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
            values = [node.api(cmd.uuid_getvar(call.uuid, n)).strip() for n in names]
        except EslError as exc:
            raise RecordingError(f"cannot read the identity of call {call.uuid}: {exc}") from exc
        account, user, device = ("" if v in ("_undef_", "") or v.startswith("-ERR") else v
                                 for v in values)
        self._tracker.set_identity(call.uuid, account, user, device)

    def for_call(self, call_uuid: str) -> list[Recording]:
        return self._registry.for_call(call_uuid)

    def list(self, account: str, *, call_uuid: str | None = None,
             created_from: float | None = None, created_to: float | None = None,
             limit: int = 50, offset: int = 0) -> list[Recording]:
        """An account's recordings (finished ones too), newest first."""
        return self._store.list_recordings(account=account, call_uuid=call_uuid,
                                           created_from=created_from, created_to=created_to,
                                           limit=limit, offset=offset)

    def current(self, call_uuid: str, account: str | None = None) -> Recording:
        """The call's most recently started recording that is still running or paused
        (Twilio's `Twilio.CURRENT`)."""
        live = [r for r in self._registry.for_call(call_uuid)
                if r.state in ACTIVE and (account is None or r.account == account)]
        if not live:
            raise NotFound(f"no recording in progress on call {call_uuid}")
        return max(live, key=lambda r: (r.started_at or 0.0, r.created_at))

    def media_path(self, sid: str, account: str | None = None) -> str:
        """The finished file of a recording; NotFound until it is completed."""
        rec = self.get(sid, account)
        if rec.state is not State.COMPLETED or not os.path.isfile(rec.path):
            raise NotFound(f"recording {sid} has no media (it is {rec.state.value})")
        return rec.path

    def delete(self, sid: str, account: str | None = None) -> None:
        """Remove a finished recording and its file. A running one must be stopped first."""
        rec = self.get(sid, account)
        with self._lock(sid):
            if not rec.terminal:
                raise Conflict(f"recording {sid} is {rec.state.value}: stop it before "
                               "deleting it")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(rec.path)
            self._store.delete_recording(sid)
            log.info("recording %s deleted (%s)", sid, rec.path)

    # commands --------------------------------------------------------------------------
    def start(self, call_uuid: str, options: RecordOptions, *, account: str | None = None,
              source: str = "", meta: dict[str, Any] | None = None) -> Recording:
        """Persist a new recording, then start it now or, if it waits for answer, on
        CHANNEL_ANSWER. Raises NotFound, InvalidArgument, Conflict or RecordingError."""
        call = self.call(cmd.check_uuid(call_uuid), account)
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
            self.begin(rec)
        return rec

    def begin(self, rec: Recording) -> None:
        """Send the beep and `uuid_record start` for a queued recording."""
        with self._lock(rec.sid):
            if rec.state is not State.QUEUED:
                return
            if rec.options.beep:
                self._beep(rec)
            command = cmd.uuid_record_start(rec.call_uuid, rec.path, rec.options.max_length_s,
                                            record_variables(rec.options, rec.sid))
            reply = self._send(rec, "start", command)
            if cmd.is_error_reply(reply):
                self._registry.transition(rec, State.FAILED, error=reply.strip(),
                                          stop_reason=StopReason.ERROR, ended_at=self._clock())
                raise _command_failure(rec, reply)
            if rec.state is State.QUEUED:
                self._registry.transition(rec, State.IN_PROGRESS,
                                          started_at=rec.started_at or self._clock())
            self._started(rec.options.format.value).inc()

    def stop(self, sid: str, *, account: str | None = None,
             reason: StopReason = StopReason.REQUESTED) -> Recording:
        rec = self.get(sid, account)
        with self._lock(sid):
            if rec.terminal or rec.state is State.STOPPED:
                return rec
            if rec.state is State.QUEUED:
                self._registry.transition(rec, State.ABSENT, stop_reason=reason,
                                          ended_at=self._clock())
                return rec
            rec.stop_requested = reason
            self._registry.save(rec)
            reply = self._send(rec, "stop", cmd.uuid_record(rec.call_uuid, "stop", rec.path))
            if not cmd.is_error_reply(reply) and rec.state in ACTIVE:
                self._registry.transition(rec, State.STOPPED)
            # An -ERR here means FreeSWITCH already closed it (limit, hangup): its
            # RECORD_STOP is on the way and finishes the recording.
            return rec

    def pause(self, sid: str, *, account: str | None = None,
              behavior: PauseBehavior | None = None) -> Recording:
        rec = self.get(sid, account)
        behavior = behavior or rec.options.pause_behavior
        action = "pause" if behavior is PauseBehavior.SKIP else "mask"
        with self._lock(sid):
            if rec.state is State.PAUSED:
                return rec
            self._require(rec, State.IN_PROGRESS, "pause")
            self._checked(rec, action)
            self._registry.transition(rec, State.PAUSED, paused_by=action)
            return rec

    def resume(self, sid: str, *, account: str | None = None) -> Recording:
        rec = self.get(sid, account)
        with self._lock(sid):
            if rec.state is State.IN_PROGRESS:
                return rec
            self._require(rec, State.PAUSED, "resume")
            self._checked(rec, "resume" if rec.paused_by == "pause" else "unmask")
            self._registry.transition(rec, State.IN_PROGRESS, paused_by=None)
            return rec

    # helpers ---------------------------------------------------------------------------
    def _path_for(self, account: str, sid: str, ext: str) -> str:
        if account and not _ACCOUNT.fullmatch(account):
            raise RecordingError(f"account {account!r} cannot name a directory")
        day = time.strftime("%Y/%m/%d", time.gmtime(self._clock()))
        return cmd.check_path(f"{self._settings.root}/{account or NO_ACCOUNT}/{day}/{sid}.{ext}")

    def _require(self, rec: Recording, state: State, action: str) -> None:
        if rec.state is not state:
            raise Conflict(f"cannot {action} recording {rec.sid}: it is {rec.state.value}")

    def _checked(self, rec: Recording, action: str) -> None:
        reply = self._send(rec, action, cmd.uuid_record(rec.call_uuid, action, rec.path))
        if cmd.is_error_reply(reply):
            raise Conflict(f"FreeSWITCH refused to {action} recording {rec.sid}: "
                           f"{reply.strip()}")

    def _beep(self, rec: Recording) -> None:
        command = cmd.uuid_broadcast_tone(rec.call_uuid, self._settings.beep_tone, "aleg")
        reply = self._send(rec, "beep", command)
        if cmd.is_error_reply(reply):
            log.warning("beep before recording %s failed: %s", rec.sid, reply.strip())

    def _send(self, rec: Recording, action: str, command: str) -> str:
        node = self._nodes.get(rec.node)
        if node is None:
            raise RecordingError(f"node {rec.node!r} of recording {rec.sid} is not configured")
        started = time.monotonic()
        result = "ok"
        try:
            reply = node.bgapi(command)
            result = "error" if cmd.is_error_reply(reply) else "ok"
            return reply
        except EslTimeout as exc:
            result = "timeout"
            raise RecordingError(f"FreeSWITCH did not answer {action} in time") from exc
        except EslError as exc:
            result = "disconnected"
            raise RecordingError(f"FreeSWITCH node {rec.node} is not connected") from exc
        finally:
            self._commands(action, result).inc()
            self._command_durations(action).observe(time.monotonic() - started)
            log.debug("recording %s: %s -> %s", rec.sid, action, result)

    def _lock(self, sid: str) -> gevent.lock.RLock:
        lock = self._locks.get(sid)
        if lock is None:
            lock = self._locks[sid] = gevent.lock.RLock()
        return lock

    def _drop_lock_when_done(self, rec: Recording, previous: State) -> None:
        if rec.terminal:
            self._locks.pop(rec.sid, None)


def _check_control_id(wanted: str, others: list[Recording]) -> None:
    """A control id the caller chose must be free on the call (ours is the new sid)."""
    if wanted and any(r.control_id == wanted for r in others):
        raise Conflict(f"control id {wanted!r} is already in use on this call")


def _command_failure(rec: Recording, reply: str) -> RecordingError:
    if "Cannot locate session" in reply:
        return NotFound(f"call {rec.call_uuid} is gone")
    return RecordingError(f"FreeSWITCH could not start recording {rec.sid}: {reply.strip()}")
