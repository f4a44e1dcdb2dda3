"""The application engine: dialplan applications and `sendmsg` execute, run as FreeSWITCH does.

What it follows (script_*.txt, README "Call-script captures"): a sendmsg is queued and its
application starts on the next 20 ms tick with CHANNEL_EXECUTE; instant applications (answer,
set, record_session, ...) complete in the same tick, playback / sleep / speak run for their
length. A running playback, sleep or speak that was not sent with `event-lock: true` runs the
next queued message inside itself (nested, the outer one paused); with event-lock the message
waits. `Application`, `Application-Data`, `Application-Response` and `Application-UUID` are the
last headers; sendmsg-executed applications carry `variable_current_loop` / `total_loops` until
their CHANNEL_EXECUTE_COMPLETE. The response is what the channel's
`current_application_response` holds (cleared when an application starts), so the park's own
EXECUTE_COMPLETE at hangup repeats the last application's response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from esl_recorder.testing.fakeswitch import media, recordings, templates, tts
from esl_recorder.testing.fakeswitch.channels import Channel, new_uuid
from esl_recorder.testing.fakeswitch.core import SwitchCore
from esl_recorder.testing.fakeswitch.recorder import parse_record_vars, to_int

log = logging.getLogger(__name__)

OUT_OF_ORDER = "DESTINATION_OUT_OF_ORDER"
PLAYBACK_BLOCK = 16384  # samples: an interrupted playback reports its length in whole blocks
FALLBACK_ROLES = ("script_park_b", "script_park_a", "script_park_inline_a")


@dataclass
class Message:
    """One `call-command: execute` (or a dialplan step): application, argument, its uuid."""

    app: str
    arg: str = ""
    uuid: str = ""
    locked: bool = False
    sendmsg: bool = True  # sendmsg-executed: current_loop / total_loops are set
    not_before: int = 0  # the media tick it may start on (uuid_broadcast comes late)


@dataclass(eq=False)
class AppRun:
    """An application that is running (playback, sleep, speak, or the dialplan's park)."""

    msg: Message
    audio: media.Playback | None = None
    ticks_left: int = -1  # sleep / speak: ticks until it completes (-1: not timed)
    endless: bool = False  # the dialplan's endless tone (its audio is the extension's)

    @property
    def nests(self) -> bool:
        """A message without event-lock runs inside it (switch_ivr_parse_all_messages)."""
        return not self.msg.locked and self.msg.app in ("playback", "sleep", "speak")


# -- events ---------------------------------------------------------------------------------
def _template_key(name: str, ch: Channel, variant: str) -> str | None:
    """The script template for an event: this role's, else the captured script channel's."""
    suffix = ".hangup" if ch.hungup else ""
    loaded = templates.load_all()
    variants = [f".{variant}{suffix}", f".park{suffix}", ".sleep"] if variant else [suffix]
    for role in (ch.role, *FALLBACK_ROLES):
        for v in variants:
            if f"{name}.{role}{v}" in loaded:
                return f"{name}.{role}{v}"
    return None


def emit(core: SwitchCore, ch: Channel, name: str, variant: str,
         tail: list[tuple[str, str]]) -> None:
    """A script event: its template's headers, channel state, then `tail` as the last headers."""
    key = _template_key(name, ch, variant)
    states = {"Answer-State": ch.answer_state, "Channel-Call-State": ch.call_state}
    if key is None:
        core.emit(ch, name, overrides=states, extra=tail)
        return
    event = core.channel_event(ch, name, extra=tail, overrides=states, key=key)
    core.fire(event)


def _app_tail(run: AppRun, response: str | None) -> list[tuple[str, str]]:
    tail = [("Application", run.msg.app)]
    if run.msg.arg:
        tail.append(("Application-Data", run.msg.arg))
    if response is not None:
        tail.append(("Application-Response", response))
    tail.append(("Application-UUID", run.msg.uuid))
    return tail


def _response(ch: Channel) -> str:
    return ch.variables.get("current_application_response") or "_none_"


# -- queue and ticks ------------------------------------------------------------------------
def enqueue(ch: Channel, msg: Message) -> None:
    """sendmsg: queued now, started on the next tick (the park loop reads one frame first)."""
    if not msg.uuid:
        msg.uuid = new_uuid()
    ch.app_queue.append(msg)


def start_queued(core: SwitchCore, live: list[Channel]) -> None:
    """Tick hook, before the frames: start what is queued where nothing blocks it."""
    for ch in live:
        while ch.app_queue and not ch.hungup:
            if (ch.apps and not ch.apps[-1].nests) or ch.app_queue[0].not_before > core.ticks:
                break
            run_now(core, ch, ch.app_queue.pop(0))


def finish_due(core: SwitchCore, live: list[Channel]) -> None:
    """Tick hook, after the frames: complete the playback, sleep or speak whose time is up."""
    for ch in live:
        if not ch.apps or ch.hungup:
            continue
        top = ch.apps[-1]
        if top.audio is not None and top.audio.pos >= len(top.audio.samples):
            if top.msg.app == "playback":
                _playback_stop(core, ch, top, "done")
                ch.variables["current_application_response"] = "FILE PLAYED"
            complete(core, ch, top)
        elif top.audio is None and top.ticks_left > 0:
            top.ticks_left -= 1
            if top.ticks_left == 0:
                complete(core, ch, top)


def run_now(core: SwitchCore, ch: Channel, msg: Message) -> None:
    """Start one application: CHANNEL_EXECUTE, then the application itself."""
    handler = APPS.get(msg.app)
    if handler is None:
        _unknown(core, ch, msg)
        return
    _set_app_variables(ch, msg)
    run = AppRun(msg)
    emit(core, ch, "CHANNEL_EXECUTE", msg.app, _app_tail(run, None))
    ch.executing += 1
    try:
        running = handler(core, ch, run)
    finally:
        ch.executing -= 1
    if running and not ch.hungup:
        ch.apps.append(run)
        ch.app_audio = run.audio
    else:
        complete(core, ch, run)


def _set_app_variables(ch: Channel, msg: Message) -> None:
    ch.variables.pop("current_application_response", None)
    ch.variables["current_application"] = msg.app
    if msg.arg:
        ch.variables["current_application_data"] = msg.arg
    else:
        ch.variables.pop("current_application_data", None)
    if msg.sendmsg:
        ch.variables.update(current_loop="1", total_loops="1")


def complete(core: SwitchCore, ch: Channel, run: AppRun) -> None:
    """CHANNEL_EXECUTE_COMPLETE; the application leaves the stack."""
    if run in ch.apps:
        ch.apps.remove(run)
    ch.app_audio = ch.apps[-1].audio if ch.apps else None
    emit(core, ch, "CHANNEL_EXECUTE_COMPLETE", run.msg.app, _app_tail(run, _response(ch)))
    if run.msg.sendmsg:
        ch.variables.pop("current_loop", None)
        ch.variables.pop("total_loops", None)
    if ch.hungup and not ch.executing and ch.call.kind == "script" and core.finish_hangup:
        core.finish_hangup(ch)


def _unknown(core: SwitchCore, ch: Channel, msg: Message) -> None:
    """No such application: no events for it; the channel is hung up (script_inbound call 2)."""
    log.info("channel %s: no application %r; hanging up", ch.uuid, msg.app)
    ch.variables.update(current_loop="1", total_loops="1", app_uuid=msg.uuid)
    hang_up(core, ch, OUT_OF_ORDER)


def hang_up(core: SwitchCore, ch: Channel, cause: str) -> None:
    if core.hangup_channel is not None:
        core.hangup_channel(ch, cause)


# -- the dialplan's own application ---------------------------------------------------------
def dialplan_app(core: SwitchCore, ch: Channel, app: str, arg: str = "") -> None:
    """An application the dialplan runs and stays in (park, socket, the endless tone)."""
    msg = Message(app, arg, new_uuid(), sendmsg=False)
    ch.scripted = True
    _set_app_variables(ch, msg)
    run = AppRun(msg, endless=True)
    emit(core, ch, "CHANNEL_EXECUTE", app, _app_tail(run, None))
    ch.dialplan_run = run
    if app == "playback":
        _playback_start(core, ch, run)
    elif app == "park":
        ch.parked = True
        emit(core, ch, "CHANNEL_PARK", "", [])


def entered(ch: Channel, app: str, arg: str) -> None:
    """The channel is already in a dialplan application (e.g. `socket`): no events."""
    msg = Message(app, arg, new_uuid(), sendmsg=False)
    ch.scripted = True
    _set_app_variables(ch, msg)
    ch.dialplan_run = AppRun(msg, endless=True)


def dialplan_step(core: SwitchCore, ch: Channel, app: str, arg: str = "") -> None:
    """A dialplan application that completes at once (set, answer)."""
    msg = Message(app, arg, new_uuid(), sendmsg=False)
    ch.scripted = True
    _set_app_variables(ch, msg)
    run = AppRun(msg)
    emit(core, ch, "CHANNEL_EXECUTE", app, _app_tail(run, None))
    if app == "set":
        _set(core, ch, run)
    emit(core, ch, "CHANNEL_EXECUTE_COMPLETE", app, _app_tail(run, _response(ch)))


def abort_running(core: SwitchCore, ch: Channel) -> None:
    """Hangup: the applications sendmsg started end (a playback with PLAYBACK ERROR)."""
    ch.app_queue.clear()
    for running in reversed(list(ch.apps)):
        if running.msg.app == "playback":
            _playback_stop(core, ch, running, "done")
            ch.variables["current_application_response"] = "PLAYBACK ERROR"
        complete(core, ch, running)


def unwind(core: SwitchCore, ch: Channel) -> None:
    """Hangup: running applications end (a playback with PLAYBACK ERROR), the channel leaves
    the park (CHANNEL_UNPARK) and the dialplan's application completes."""
    abort_running(core, ch)
    run = ch.dialplan_run
    if run is None:
        return
    ch.dialplan_run = None
    if run.msg.app == "playback":
        _playback_stop(core, ch, run, "done")
        ch.variables["current_application_response"] = "PLAYBACK ERROR"
    ch.variables.pop("current_loop", None)
    ch.variables.pop("total_loops", None)
    if ch.parked:
        ch.parked = False
        emit(core, ch, "CHANNEL_UNPARK", "", [])
    emit(core, ch, "CHANNEL_EXECUTE_COMPLETE", run.msg.app, _app_tail(run, _response(ch)))


# -- applications ---------------------------------------------------------------------------
App = Callable[[SwitchCore, Channel, AppRun], bool]  # True: still running


def _answer(core: SwitchCore, ch: Channel, run: AppRun) -> bool:
    if core.answer_channel is not None:
        core.answer_channel(ch)
    ch.variables["endpoint_disposition"] = "ANSWER"
    return False


def _set(core: SwitchCore, ch: Channel, run: AppRun) -> bool:
    name, _, value = run.msg.arg.partition("=")
    if name.strip() and value:
        ch.variables[name.strip()] = value
    elif name.strip():
        ch.variables.pop(name.strip(), None)
    return False


def _sleep(core: SwitchCore, ch: Channel, run: AppRun) -> bool:
    ms = to_int(run.msg.arg.strip())
    run.ticks_left = max(ms // 20, 1)
    return ms > 0


def _playback(core: SwitchCore, ch: Channel, run: AppRun) -> bool:
    path = run.msg.arg
    if path and "://" not in path:
        path = recordings.expand_path(core, ch, path)
    audio = media.parse_playable(path) if path else None
    if audio is None:
        ch.variables["current_application_response"] = "FILE NOT FOUND"
        return False
    audio.spec = run.msg.arg
    run.audio = audio
    if not ch.answered:
        ch.early_media = True  # playback pre-answers
    _playback_start(core, ch, run)
    return True


def _playback_tail(run: AppRun) -> list[tuple[str, str]]:
    spec = run.msg.arg
    tail = [("Playback-File-Type", spec.split("://", 1)[0])] if spec.startswith(
        ("tone_stream://", "local_stream://")) else []
    return [*tail, ("Playback-File-Path", spec)]


def _playback_start(core: SwitchCore, ch: Channel, run: AppRun) -> None:
    ch.variables.pop("playback_terminator_used", None)
    emit(core, ch, "PLAYBACK_START", "", _playback_tail(run))


def _playback_stop(core: SwitchCore, ch: Channel, run: AppRun, status: str) -> None:
    played = run.audio.pos if run.audio is not None else ch.sample_index
    if run.audio is not None:
        played = min(played, len(run.audio.samples))
    samples = played
    if status == "break":
        samples = -(-played // PLAYBACK_BLOCK) * PLAYBACK_BLOCK
    ms = samples * 1000 // media.RATE
    ch.variables.update(
        playback_last_offset_pos=str(played),
        playback_seconds=str(ms // 1000),
        playback_ms=str(ms),
        playback_samples=str(samples),
    )
    emit(core, ch, "PLAYBACK_STOP", "", [*_playback_tail(run), ("Playback-Status", status)])


def _record_session(core: SwitchCore, ch: Channel, run: AppRun) -> bool:
    """`record_session <path> [+<limit seconds>] [{var=value,...}]` (mod_dptools)."""
    words = run.msg.arg.split()
    if words:
        limit = next((to_int(w[1:]) for w in words[1:] if w.startswith("+")), 0)
        rec_vars = next((parse_record_vars(w) for w in words[1:] if w.startswith("{")), {})
        recordings.start(core, ch, words[0], limit, rec_vars,
                         lambda c, cause: hang_up(core, c, cause))
    return False


def _stop_record_session(core: SwitchCore, ch: Channel, run: AppRun) -> bool:
    path = run.msg.arg.strip()
    if path:
        recordings.stop_path(core, ch, recordings.expand_path(core, ch, path))
    return False


def _hangup(core: SwitchCore, ch: Channel, run: AppRun) -> bool:
    hang_up(core, ch, run.msg.arg.strip() or "NORMAL_CLEARING")
    return False


def _speak(core: SwitchCore, ch: Channel, run: AppRun) -> bool:
    request = tts.parse(run.msg.arg, ch.variables)
    if request is None:  # no engine or voice: FreeSWITCH hangs the channel up
        log.info("channel %s: speak without tts engine/voice; hanging up", ch.uuid)
        hang_up(core, ch, OUT_OF_ORDER)
        return False
    audio = tts.synthesize(request)
    if audio is None:  # unknown voice: logged by FreeSWITCH, nothing played
        run.ticks_left = 1
        return True
    run.audio = audio
    if not ch.answered:
        ch.early_media = True  # speak pre-answers, like playback
    return True


def break_on_dtmf(core: SwitchCore, ch: Channel, digit: str) -> None:
    """A playback stops when a digit of `playback_terminators` (default `*`) arrives."""
    if not ch.apps or ch.apps[-1].msg.app != "playback":
        return
    terminators = ch.variables.get("playback_terminators", "*")
    if terminators == "none" or (terminators != "any" and digit not in terminators):
        return
    run = ch.apps[-1]
    ch.variables["playback_terminator_used"] = digit
    _playback_stop(core, ch, run, "break")
    ch.variables["current_application_response"] = "FILE PLAYED"
    complete(core, ch, run)


APPS: dict[str, App] = {
    "answer": _answer,
    "set": _set,
    "sleep": _sleep,
    "playback": _playback,
    "record_session": _record_session,
    "stop_record_session": _stop_record_session,
    "hangup": _hangup,
    "speak": _speak,
}
