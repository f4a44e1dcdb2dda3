"""Call flows: originate through the `rectest` dialplan, answer, hangup, bridge, DTMF."""

from __future__ import annotations

import functools
import logging
import re

from esl_recorder.testing.fakeswitch import apps, media
from esl_recorder.testing.fakeswitch.channels import (
    APPLICATION,
    EXTENSIONS,
    SCRIPT_EXTENSIONS,
    Call,
    Channel,
    new_uuid,
)
from esl_recorder.testing.fakeswitch.core import SwitchCore
from esl_recorder.testing.fakeswitch.recordings import stop_for_hangup

log = logging.getLogger(__name__)

_DIAL = re.compile(r"^(?:\{(?P<vars>[^}]*)\})?(?P<tech>[^/]+)/(?P<dest>[^/]+)(?:/(?P<rest>.*))?$")
STATE_OVERRIDES = ("Answer-State", "Channel-Call-State")


class OriginateError(Exception):
    """Originate failed; the message is FreeSWITCH's cause (e.g. NO_ROUTE_DESTINATION)."""


def parse_vars(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            out[name.strip()] = value
    return out


def state_overrides(ch: Channel) -> dict[str, str]:
    return {"Answer-State": ch.answer_state, "Channel-Call-State": ch.call_state}


def _new_leg(
    core: SwitchCore, call: Call, role: str, name: str, direction: str, ext: str
) -> Channel:
    ch = Channel(
        uuid=new_uuid(),
        name=name,
        role=role,
        direction=direction,
        ext=ext,
        call=call,
        created_us=core.now_us(),
    )
    call.legs[role] = ch
    core.channels[ch.uuid] = ch
    core.sessions_since_start += 1
    return ch


def _pair(
    core: SwitchCore, call: Call, dest: str, prefix: str, a_ext: str
) -> tuple[Channel, Channel]:
    a_role, b_role = (f"{prefix}a", f"{prefix}b")
    a = _new_leg(core, call, a_role, f"loopback/{dest}-a", "outbound", a_ext)
    b = _new_leg(core, call, b_role, f"loopback/{dest}-b", "inbound", dest)
    a.peer, b.peer = b, a
    return a, b


def _answer(core: SwitchCore, ch: Channel, emit: bool = True) -> None:
    ch.answered = True
    ch.state = "CS_EXECUTE"
    ch.answered_us = core.now_us()
    if emit:
        core.emit(ch, "CHANNEL_ANSWER")


NO_ANSWER = "no_answer"  # an extension that never answers (the originate times out)


def originate(
    core: SwitchCore, dial: str, target: str, variables: dict[str, str] | None = None
) -> tuple[Channel, list[Channel]]:
    """Create the legs and run the dialplan; return the A leg and legs with deferred events.

    Raises OriginateError (after the failed legs' events) when the extension does not exist.
    """
    dest, chan_vars = _destination(core, dial, variables or {})
    a_ext = target.lstrip("&") if target.lstrip("&") in EXTENSIONS else "park"
    kind = "bridge" if dest == "bridge_tone_b" else "loopback"
    call = Call(kind="script" if dest in SCRIPT_EXTENSIONS else kind)
    prefix = "" if dest == "tone_b" else f"{dest}_"
    a, b = _pair(core, call, dest, prefix, a_ext)
    if call.kind == "script" and target.startswith("&"):
        a.role = f"{prefix}inline_a"  # an inline application: no transfer in its profile
    _use_origination_uuid(core, a, chan_vars.get("origination_uuid"))
    a.variables.update(chan_vars)
    b.variables.update(chan_vars)  # mod_loopback gives the B leg the A leg's variables
    core.emit(a, "CHANNEL_CREATE")
    core.emit(b, "CHANNEL_CREATE")
    if call.kind == "script":
        _park_for_script(core, b, dest)
        return a, [a]
    core.emit(b, "CHANNEL_EXECUTE_COMPLETE", "set")
    if call.kind == "bridge":
        _bridge_inner(core, call, b)
    _answer(core, a)
    _answer(core, b)
    if call.kind == "loopback":
        core.emit(b, "CHANNEL_EXECUTE_COMPLETE", "answer")
    return a, [a]


def _destination(core: SwitchCore, dial: str, variables: dict[str, str]
                 ) -> tuple[str, dict[str, str]]:
    """The loopback extension `dial` reaches and the legs' variables (`{...}` and
    `variables`); OriginateError, after the failed legs' events, when it reaches none."""
    match = _DIAL.match(dial.strip())
    if not match or match.group("tech") != "loopback":
        raise OriginateError("CHAN_NOT_IMPLEMENTED")
    dest = match.group("dest")
    chan_vars = parse_vars(match.group("vars") or "")
    chan_vars.update(variables)
    if dest == NO_ANSWER:  # rings past originate_timeout: FreeSWITCH gives up
        _no_route(core, dest, chan_vars, "NO_ANSWER")
        raise OriginateError("NO_ANSWER")
    if dest not in EXTENSIONS:
        _no_route(core, dest, chan_vars)
        raise OriginateError("NO_ROUTE_DESTINATION")
    return dest, chan_vars


def _park_for_script(core: SwitchCore, b: Channel, dest: str) -> None:
    """The extension sets its variables and parks, unanswered: the script answers."""
    b.state = "CS_EXECUTE"
    for name, value in SCRIPT_EXTENSIONS[dest].items():
        apps.dialplan_step(core, b, "set", f"{name}={value}")
    apps.dialplan_app(core, b, "park")


def _script_caller(core: SwitchCore, a: Channel) -> None:
    """Once the script answered, the caller leg runs its own extension."""
    if a.hungup:
        return
    app, data = APPLICATION.get(a.ext, ("park", ""))
    a.variables["endpoint_disposition"] = "ANSWER"
    if a.ext != "park":
        apps.dialplan_step(core, a, "answer")
    apps.dialplan_app(core, a, app if app in ("playback", "park") else "park", data)


def _use_origination_uuid(core: SwitchCore, a: Channel, uuid: str | None) -> None:
    """FreeSWITCH gives the A leg the caller-chosen `origination_uuid`."""
    if uuid and uuid not in core.channels:
        core.channels.pop(a.uuid, None)
        a.uuid = uuid
        core.channels[uuid] = a


def _bridge_inner(core: SwitchCore, call: Call, outer_b: Channel) -> None:
    inner_a, inner_b = _pair(core, call, "tone_b", "inner_", "park")
    core.emit(inner_a, "CHANNEL_CREATE")
    core.emit(inner_b, "CHANNEL_CREATE")
    core.emit(inner_b, "CHANNEL_EXECUTE_COMPLETE", "set")
    _answer(core, inner_a)
    _answer(core, inner_b)
    core.emit(inner_b, "CHANNEL_EXECUTE_COMPLETE", "answer")
    outer_b.bridged, inner_a.bridged = inner_a, outer_b


def after_originate(core: SwitchCore, legs: list[Channel]) -> None:
    """Events FreeSWITCH sends after the originate result (BACKGROUND_JOB) is out."""
    for a in legs:
        if a.call.kind == "script":
            _script_caller(core, a)
            continue
        if a.call.kind == "bridge" and a.peer is not None:
            outer_b = a.peer
            outer_b.bridged_us = core.now_us()
            if outer_b.bridged is not None:
                outer_b.bridged.bridged_us = outer_b.bridged_us
            core.emit(outer_b, "CHANNEL_BRIDGE")
        core.emit(a, "CHANNEL_EXECUTE_COMPLETE", "set")
        core.emit(a, "CHANNEL_EXECUTE_COMPLETE", "answer")
        if a.peer is not None and a.peer.ext == "outbound_esl" and core.outbound is not None:
            a.peer.variables["endpoint_disposition"] = "ANSWER"
            apps.entered(a.peer, *APPLICATION["outbound_esl"])
            core.outbound(a.peer)


def _no_route(core: SwitchCore, dest: str, chan_vars: dict[str, str],
              why: str = "NO_ROUTE_DESTINATION") -> None:
    call = Call()
    a, b = _pair(core, call, dest, "no_such_extension_", "park")
    a.name, b.name = f"loopback/{dest}-a", f"loopback/{dest}-b"
    _use_origination_uuid(core, a, chan_vars.get("origination_uuid"))
    for ch in (a, b):
        ch.variables.update(chan_vars)
    core.emit(a, "CHANNEL_CREATE")
    core.emit(b, "CHANNEL_CREATE")
    cause = {"Hangup-Cause": why}
    for ch in (b, a):
        ch.hungup = True
        ch.hangup_us = core.now_us()
        ch.hangup_cause = why
        core.emit(ch, "CHANNEL_HANGUP", overrides=cause)
    for ch in (b, a):
        core.emit(ch, "CHANNEL_HANGUP_COMPLETE", overrides=cause)
    for ch in (b, a):
        core.emit(ch, "CHANNEL_DESTROY")
        core.channels.pop(ch.uuid, None)


def inbound_call(
    core: SwitchCore, ext: str, variables: dict[str, str] | None, answered: bool
) -> Channel:
    """A single ringing inbound leg (like a SIP call) that runs `ext` once answered."""
    call = Call(kind="inbound")
    ch = _new_leg(core, call, "inbound_b", f"sofia/internal/{ext}@127.0.0.1", "inbound", ext)
    ch.variables.update(variables or {})
    core.emit(ch, "CHANNEL_CREATE")
    if answered:
        answer(core, ch)
    return ch


def answer(core: SwitchCore, ch: Channel) -> None:
    if ch.answered or ch.hungup:
        return
    if ch.call.kind == "script" and ch.peer is not None and not ch.peer.answered:
        _answer(core, ch.peer)  # the loopback pair answers together, caller leg first
    _answer(core, ch)
    _originate_done(core, ch.call, "")


def _originate_done(core: SwitchCore, call: Call, cause: str) -> None:
    """The originate waiting for this call returns (one tick later, as captured)."""
    waiting, call.on_answer = call.on_answer, []
    for done in waiting:
        core.later(functools.partial(done, cause))


def _hangup_one(core: SwitchCore, ch: Channel, cause: str) -> None:
    ch.hungup = True
    ch.state = "CS_HANGUP"
    ch.hangup_us = core.now_us()
    ch.hangup_cause = cause
    core.emit(ch, "CHANNEL_HANGUP", overrides=_cause_overrides(cause))


def _cause_overrides(cause: str) -> dict[str, str] | None:
    if cause == "NORMAL_CLEARING":
        return None
    return {"Hangup-Cause": cause, "variable_hangup_cause": cause}


def hangup(core: SwitchCore, ch: Channel, cause: str = "NORMAL_CLEARING") -> None:
    """Hang up `ch` now (CHANNEL_HANGUP); the rest of the call ends on the next media tick."""
    if ch.hungup:
        return
    _hangup_one(core, ch, cause)
    if ch.call.kind == "script":
        _originate_done(core, ch.call, cause)
        if not ch.executing:  # else the application completes first, then finish_script_leg
            finish_script_leg(core, ch)
        return
    core.later(lambda: _finish_call(core, ch, cause))


def finish_script_leg(core: SwitchCore, first: Channel) -> None:
    """A script call's hangup: the leg that hung up ends now (its applications, the park,
    CHANNEL_HANGUP_COMPLETE) and hangs up the other leg, which ends on the next tick."""
    if first.state == "CS_REPORTING":
        return
    others = [leg for leg in first.call.legs.values() if leg is not first]
    _end_leg(core, first)
    for leg in others:
        if not leg.hungup:
            _hangup_one(core, leg, first.hangup_cause)
    core.later(lambda: _finish_others(core, first, others))


def _end_leg(core: SwitchCore, ch: Channel) -> None:
    ch.executing += 1
    try:
        stop_for_hangup(core, ch)
        apps.unwind(core, ch)
    finally:
        ch.executing -= 1
    _note_last_app(ch)
    for state in ("CS_HANGUP", "CS_REPORTING"):
        ch.state = state
        core.emit(ch, "CHANNEL_STATE", state)
    core.emit(ch, "CHANNEL_HANGUP_COMPLETE", overrides=_cause_overrides(ch.hangup_cause))


def _note_last_app(ch: Channel) -> None:
    """last_app / last_arg, reported by CHANNEL_HANGUP_COMPLETE."""
    last_app = ch.variables.get("current_application")
    if ch.scripted and last_app:
        ch.variables["last_app"] = last_app
        data = ch.variables.get("current_application_data")
        if data:
            ch.variables["last_arg"] = data


def _finish_others(core: SwitchCore, first: Channel, others: list[Channel]) -> None:
    for leg in others:
        if leg.state != "CS_REPORTING":
            _end_leg(core, leg)
    for leg in reversed([first, *others]):
        core.emit(leg, "CHANNEL_DESTROY")
        core.channels.pop(leg.uuid, None)


def _finish_call(core: SwitchCore, first: Channel, cause: str) -> None:
    others = [leg for leg in first.call.legs.values() if leg is not first]
    stop_for_hangup(core, first)
    _exec_complete(core, first)
    for leg in others:
        if not leg.hungup:
            _hangup_one(core, leg, cause)
        stop_for_hangup(core, leg)
        if leg.bridged is not None and leg.role.endswith("_b") and leg.call.kind == "bridge":
            core.emit(leg, "CHANNEL_UNBRIDGE")
        _exec_complete(core, leg)
    ordered = [first, *others]
    for leg in ordered:
        _note_last_app(leg)
        core.emit(leg, "CHANNEL_STATE", "CS_HANGUP")
        core.emit(leg, "CHANNEL_STATE", "CS_REPORTING")
        core.emit(leg, "CHANNEL_HANGUP_COMPLETE", overrides=_cause_overrides(leg.hangup_cause))
    for leg in reversed(ordered):
        core.emit(leg, "CHANNEL_DESTROY")
        core.channels.pop(leg.uuid, None)


def _exec_complete(core: SwitchCore, ch: Channel) -> None:
    apps.abort_running(core, ch)
    app = APPLICATION.get(ch.ext, ("park", ""))[0]
    if ch.parked:
        ch.parked = False
        core.emit(ch, "CHANNEL_UNPARK")
    if ch.answered and app in ("playback", "bridge", "socket"):
        core.emit(ch, "CHANNEL_EXECUTE_COMPLETE", app)


def park(core: SwitchCore, ch: Channel) -> None:
    """The channel parks (after `socket ... async` returned): CHANNEL_PARK."""
    if not ch.hungup and not ch.parked:
        ch.parked = True
        core.emit(ch, "CHANNEL_PARK")


def kill_everything(core: SwitchCore) -> None:
    """Crash: forget all channels without events."""
    core.channels.clear()


def bridge(core: SwitchCore, a: Channel, b: Channel) -> None:
    a.bridged, b.bridged = b, a
    a.bridged_us = b.bridged_us = core.now_us()
    core.emit(a, "CHANNEL_BRIDGE", extra=[])


def transfer(ch: Channel, dest: str) -> bool:
    if dest not in EXTENSIONS:
        return False
    ch.ext = dest
    ch.bridged = None
    return True


def parse_dtmf(digits: str) -> list[tuple[str, int]]:
    """`123` or `9@400` (ms) into (digit, duration in samples) pairs."""
    text, _, ms = digits.partition("@")
    duration = int(ms) * media.RATE // 1000 if ms.isdigit() else 2000
    return [(d, duration) for d in text if d.strip()]


def dtmf(core: SwitchCore, ch: Channel, digits: str, source: str) -> None:
    for digit, duration in parse_dtmf(digits):
        extra = {"DTMF-Digit": digit, "DTMF-Duration": str(duration), "DTMF-Source": source}
        core.emit(ch, "DTMF", overrides={**extra, **state_overrides(ch)})
        apps.break_on_dtmf(core, ch, digit)
