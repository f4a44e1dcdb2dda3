"""Call scripts: a call the dialplan parked runs a document of a script dialect (SWML, ...).

The hand-off: the dialplan sets the configured variable (`esl_recorder_script=<name>`) and
parks the call unanswered; CHANNEL_PARK reaches the runner as `CallParked`, which picks the
route for the name (else for the call's destination number) and runs its dialect in a
greenlet of the call's own. A dialect sees the call only through `ScriptSession`: answer,
hang up, play, speak, record (through the RecordingService, like every dialect), stop.

A hangup ends the script at whatever step it is (the running application answers CallGone);
a script that fails (bad document, unknown verb, a fetch that times out, ...) fails its own
call alone: one ERROR line with the call uuid and the dialect's error, the call hung up,
`script_runs{dialect, outcome="failed"}` counted. Other calls go on.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import gevent
import gevent.event

from ..errors import Conflict, EslRecorderError, InvalidArgument, NotFound, RecordingError
from ..metrics import Metrics
from .calls import Call, CallTracker
from .facts import ApplicationDone, CallParked
from .names import SILENCE_STREAM, TONE_STREAM, check_path
from .options import RecordOptions
from .ports import CallControl, CallGone
from .recording import ACTIVE, Recording, State
from .registry import RecordingRegistry
from .remote import SCRIPT_START, Forwarding
from .scripts_waits import Executions
from .service import RecordingService

log = logging.getLogger(__name__)

OUTCOMES = ("completed", "hungup", "failed")
FAILURE_CAUSE = "NORMAL_TEMPORARY_FAILURE"  # the hangup cause of a call whose script failed
CLOSE_TIMEOUT_S = 10.0  # how long a stopped recording may take to be closed by FreeSWITCH

_TTS_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_SPEECH = 1000  # characters of text one `speak` says


def _safe_file(media: str) -> bool:
    """An absolute .wav/.mp3 path of the shape recordings have (names.check_path)."""
    try:
        check_path(media)
    except InvalidArgument:
        return False
    return True


class ScriptError(EslRecorderError):
    """The script cannot go on: its document is wrong, or a step it needs failed.
    The message is the dialect's own words (it names the step)."""


@dataclass(frozen=True)
class ScriptRoute:
    """Which document a parked call runs: by the variable's value (`name`) or by the
    destination number; `document` is a file path or an http(s) URL."""

    document: str
    dialect: str
    name: str = ""
    destination: str = ""
    tts_engine: str = ""
    tts_voice: str = ""
    text: str = ""  # the document itself (sent over the API), instead of `document`
    trusted: bool = True  # the operator's; False: an API caller's (no local files played)

    @property
    def label(self) -> str:
        """How logs name it."""
        return self.name or self.destination or "(sent over the API)"


class ScriptDialect(Protocol):
    """A script language. `run` loads the route's document and runs it on the session;
    it raises ScriptError for anything wrong with the document or its steps."""

    name: str

    def run(self, route: ScriptRoute, session: ScriptSession) -> None: ...


class ScriptSession:
    """One script run on one call: what a dialect may do to it."""

    def __init__(self, call: Call, route: ScriptRoute, control: CallControl,
                 recordings: RecordingService, closing: dict[str, gevent.event.Event]) -> None:
        self.id = str(uuid.uuid4())
        self.call = call
        self.route = route
        self._control = control
        self._recordings = recordings
        self._closing = closing  # sid -> set once FreeSWITCH closed the file (the runner's)
        self.started: list[Recording] = []  # by this script, in order

    @property
    def call_uuid(self) -> str:
        return self.call.uuid

    def execute(self, app: str, arg: str | None = None) -> str:
        """Run one application and wait for its end (CallGone when the call hung up)."""
        log.debug("call %s: script runs %s %s", self.call_uuid, app, arg or "")
        try:
            return self._control.execute(self.call_uuid, app, arg)
        except InvalidArgument as exc:
            raise ScriptError(f"{app}: {exc}") from exc

    def variables(self, names: Sequence[str]) -> dict[str, str]:
        """The call's channel variables ("" when unset)."""
        return self._control.variables(self.call_uuid, names)

    def answer(self) -> None:
        if not self.call.answered:
            self.execute("answer")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        try:
            self.execute("hangup", cause)
        except CallGone:
            return  # its own CHANNEL_HANGUP comes before its end

    def play(self, media: str) -> str:
        """A tone_stream, silence_stream or absolute .wav/.mp3 path; returns what playback
        left (`FILE PLAYED`, `FILE NOT FOUND`)."""
        streams = (TONE_STREAM, SILENCE_STREAM)
        if not (any(p.fullmatch(media) for p in streams) or _safe_file(media)):
            raise ScriptError(f"cannot play {media[:100]!r}: not a tone, a silence or a safe "
                              "absolute .wav/.mp3 path")
        self.answer()
        return self.execute("playback", media)

    def silence(self, seconds: float) -> None:
        self.play(f"silence_stream://{max(0, round(seconds * 1000))}")

    def speak(self, text: str, engine: str = "", voice: str = "") -> None:
        """Text to speech with the route's engine and voice (or the ones given)."""
        engine, voice = engine or self.route.tts_engine, voice or self.route.tts_voice
        if not (_TTS_NAME.fullmatch(engine) and _TTS_NAME.fullmatch(voice)):
            raise ScriptError(f"no usable text-to-speech engine/voice: {engine!r}/{voice!r}")
        words = " ".join(_CONTROL.sub(" ", text).split())[:MAX_SPEECH]
        if words:
            self.answer()
            self.execute("speak", f"{engine}|{voice}|{words}")

    def record(self, options: RecordOptions, source: str, meta: dict[str, Any]) -> Recording:
        """Start a recording of the call (answering it first); RecordingError when it
        could not be started."""
        self.answer()
        rec = self._recordings.start(self.call_uuid, options, source=source, meta=meta)
        self.started.append(rec)
        return rec

    def stop_recording(self, rec: Recording) -> Recording:
        """Stop a recording and wait until FreeSWITCH closed its file (so it can be played)."""
        closed = self._closing[rec.sid] = gevent.event.Event()
        try:
            self._recordings.stop(rec.sid)
            if rec.state in ACTIVE:
                closed.wait(CLOSE_TIMEOUT_S)
        finally:
            self._closing.pop(rec.sid, None)
        return rec

    def wait_ended(self, rec: Recording, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until the recording ends by itself: its limit,
        a terminator digit, the hangup."""
        closed = self._closing[rec.sid] = gevent.event.Event()
        try:
            if rec.state in ACTIVE:
                closed.wait(timeout)
        finally:
            self._closing.pop(rec.sid, None)

    def recording(self, sid: str) -> Recording | None:
        return next((r for r in self.started if r.sid == sid), None)


class ScriptRunner:
    """Starts a script for each parked call a route matches, one greenlet per call."""

    def __init__(self, routes: Sequence[ScriptRoute], dialects: Mapping[str, ScriptDialect],
                 tracker: CallTracker, nodes: Mapping[str, CallControl],
                 recordings: RecordingService, registry: RecordingRegistry,
                 executions: Executions, metrics: Metrics, variable: str,
                 clock: Callable[[], float] = time.time,
                 forwarding: Forwarding | None = None) -> None:
        self._forwarding = forwarding or Forwarding()
        self._by_name = {r.name: r for r in routes if r.name}
        self._by_destination = {r.destination: r for r in routes if r.destination}
        self._dialects = dialects
        self._tracker = tracker
        self._nodes = nodes
        self._recordings = recordings
        self._registry = registry
        self._executions = executions
        self._metrics = metrics
        self._variable = variable
        self._clock = clock
        self._running: dict[str, gevent.Greenlet] = {}
        self._closing: dict[str, gevent.event.Event] = {}
        registry.subscribe(self._on_recording)

    def _on_recording(self, rec: Recording, previous: State) -> None:
        closed = self._closing.get(rec.sid)
        if closed is not None and rec.state not in ACTIVE:
            closed.set()

    @property
    def running(self) -> int:
        return len(self._running)

    def on_application_done(self, fact: ApplicationDone) -> None:
        self._executions.on_application_done(fact)

    def on_parked(self, fact: CallParked) -> None:
        route = self._route_for(fact)
        if route is None or fact.call_uuid in self._running:
            return  # not ours, or parked again inside its own script
        try:
            self.start(fact.call_uuid, route)
        except (NotFound, Conflict) as exc:
            log.warning("call %s: parked for script %r, not run: %s", fact.call_uuid,
                        route.label, exc)

    def run_on_call(self, call_uuid: str, route: ScriptRoute) -> str:
        """`start`, on whichever daemon owns the call's node (domain.remote): the session
        id."""
        if self._forwarding.enabled:
            nodes = self._forwarding.nodes_of_call(call_uuid, held=self._tracker.get(call_uuid))
            if nodes:
                route_doc = {f.name: getattr(route, f.name) for f in fields(route)}
                result = self._forwarding.forward(nodes, SCRIPT_START, {
                    "call_uuid": call_uuid, "route": route_doc})
                return str(result["session"])
        return self.start(call_uuid, route).id

    def start(self, call_uuid: str, route: ScriptRoute) -> ScriptSession:
        """Run `route`'s script on a live call now. NotFound: no such live call; Conflict:
        a script already runs on it; InvalidArgument: no such dialect."""
        call = self._tracker.get(call_uuid)
        control = self._nodes.get(call.node) if call is not None else None
        if call is None or control is None or call.hungup:
            raise NotFound(f"no live call {call_uuid}")
        if call.uuid in self._running:
            raise Conflict(f"a script already runs on call {call.uuid}")
        if route.dialect not in self._dialects:
            raise InvalidArgument(f"no script dialect {route.dialect!r}")
        session = ScriptSession(call, route, control, self._recordings, self._closing)
        self._running[call.uuid] = gevent.spawn(self._run, session)
        log.info("call %s: running %s script %s (session %s)", call.uuid, route.dialect,
                 route.label, session.id)
        return session

    def reconcile(self, node: str, control: CallControl) -> None:
        """On every (re)connect: the calls parked, idle, while we were away (or whose script
        died with the connection) get their script now (after the tracker's resync)."""
        try:
            waiting = [c for c in control.live_calls()
                       if c.application == "park" and c.uuid not in self._running]
            for call in waiting:
                script = control.variables(call.uuid, [self._variable])[self._variable]
                self.on_parked(CallParked(call.uuid, node, script, call.destination,
                                          call.answered))
        except RecordingError as exc:
            log.warning("node %s: parked calls not checked for scripts: %s", node, exc)

    def stop(self, timeout: float = 1.0) -> None:
        """End every running script (the calls stay parked on FreeSWITCH)."""
        gevent.killall(list(self._running.values()), timeout=timeout)

    def _route_for(self, fact: CallParked) -> ScriptRoute | None:
        if fact.script:
            route = self._by_name.get(fact.script)
            if route is None:
                log.warning("call %s: parked for script %r, which is not configured",
                            fact.call_uuid, fact.script)
            return route
        return self._by_destination.get(fact.destination)

    def _run(self, session: ScriptSession) -> None:
        route, call = session.route, session.call
        outcome = "completed"
        try:
            self._dialects[route.dialect].run(route, session)
        except CallGone:
            outcome = "hungup"
            log.info("call %s: hung up during its %s script", call.uuid, route.dialect)
        except (ScriptError, RecordingError) as exc:
            outcome = "failed"
            log.error("call %s: %s script %s failed: %s", call.uuid, route.dialect,
                      route.label, exc)
        except Exception:
            outcome = "failed"
            log.exception("call %s: %s script %s failed unexpectedly", call.uuid,
                          route.dialect, route.label)
        finally:
            self._running.pop(call.uuid, None)
        self._metrics.script_runs.labels(route.dialect, outcome).inc()
        if outcome != "hungup" and not call.hungup:
            self._end_call(session, FAILURE_CAUSE if outcome == "failed" else "NORMAL_CLEARING")
        log.info("call %s: %s script ended: %s", call.uuid, route.dialect, outcome)

    @staticmethod
    def _end_call(session: ScriptSession, cause: str) -> None:
        """A script that ends (or fails) ends its call, as SignalWire does."""
        try:
            session.hangup(cause)
        except (RecordingError, ScriptError) as exc:
            log.warning("call %s: hangup after the script failed: %s", session.call_uuid, exc)
