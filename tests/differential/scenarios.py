"""The scenarios the differential test plays against both servers.

Together they send every command esl_recorder sends (esl_recorder/esl/commands.py and the
ESL client): `auth`, `event plain ...`, `bgapi originate {vars}...`, `uuid_exists`,
`uuid_getvar`, `show channels as json`, `uuid_buglist`, `uuid_record start` with the variables
block and a limit, `uuid_record stop|pause|resume|mask|unmask`, `uuid_broadcast` of the beep,
`uuid_transfer`, `uuid_kill` with a cause, `uuid_setvar`, `api status` (the liveness probe),
`sendmsg` execute with `event-lock` and `Event-UUID` (a call script's `answer`, `playback`,
`speak` and `hangup`) and `exit`, with the error replies the daemon must recognise.
The command lines are written out here as the daemon writes them (the wire format is the
contract, not the daemon's internal builders).
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Callable

from .transcript import EVENTS, SCRIPT_EVENTS, Session

Scenario = Callable[[Session, str], None]
NO_CALL = "0b2ec0de-0000-4000-8000-00000000dead"


def record_vars(sid: str, stereo: bool = False, read: bool = False, write: bool = False,
                min_sec: int = 0, **extra: object) -> str:
    """The `{}` block esl_recorder puts on every `uuid_record start`."""
    def flag(value: bool) -> str:
        return "true" if value else "false"
    parts = [f"RECORD_STEREO={flag(stereo)}", "RECORD_STEREO_SWAP=false",
             f"RECORD_READ_ONLY={flag(read)}", f"RECORD_WRITE_ONLY={flag(write)}",
             "RECORD_ANSWER_REQ=true", "RECORD_APPEND=false", "RECORD_TOGGLE_ON_REPEAT=false",
             f"RECORD_MIN_SEC={min_sec}"]
    parts += [f"{k}={v}" for k, v in extra.items()]
    parts.append(f"esl_recorder_sid={sid}")
    return "{" + ",".join(parts) + "}"


def originate(s: Session, uuid: str, ext: str = "tone_a", leg: str = "tone_b") -> None:
    """The call of the captures, placed as the daemon places calls: bgapi with its own
    Job-UUID header, our uuid for the A leg."""
    job = str(uuid_module.uuid5(uuid_module.NAMESPACE_OID, uuid))
    s.send("originate", f"bgapi originate {{origination_uuid={uuid},"
           f"esl_recorder_account_id=acme}}loopback/{leg}/rectest {ext} XML rectest\n"
           f"Job-UUID: {job}")
    s.wait_event("BACKGROUND_JOB", lambda h: h.get("Job-UUID") == job)
    s.wait_event("CHANNEL_ANSWER", lambda h: h.get("Unique-ID") == uuid)


def is_call(uuid: str) -> Callable[[dict[str, str]], bool]:
    return lambda h: h.get("Unique-ID") == uuid


def auth(s: Session, _: str) -> None:
    """Greeting, good password (main), wrong password, a command before auth, exit."""
    s.send("main: subscribe", f"event plain {EVENTS}")
    s.api("status", "status")  # the liveness probe: its framing, not its counters
    bad = s.connect("wrong password", password="not-the-password")
    s.closed_by_server("wrong password", bad)
    early = s.connect("before auth")
    s.send("before auth: api", "api status", early)
    s.send("before auth: auth", f"auth {s.password}", early)
    s.send("before auth: exit", "exit", early)
    s.closed_by_server("before auth", early)


def record_call(s: Session, uuid: str) -> None:
    """Every recording option on one call, pause/mask, the queries, then the hangup."""
    s.send("subscribe", f"event plain {EVENTS}")
    originate(s, uuid)
    s.api("uuid_exists", f"uuid_exists {uuid}")
    s.api("uuid_exists unknown", f"uuid_exists {NO_CALL}")
    s.api("uuid_getvar", f"uuid_getvar {uuid} esl_recorder_account_id")
    s.api("uuid_getvar unset", f"uuid_getvar {uuid} esl_recorder_no_such_variable")
    s.api("uuid_getvar unknown call", f"uuid_getvar {NO_CALL} esl_recorder_account_id")
    starts = {
        "mono": record_vars("RE01"), "stereo": record_vars("RE02", stereo=True),
        "inbound": record_vars("RE03", read=True), "outbound": record_vars("RE04", write=True),
        "rate16k": record_vars("RE05", record_sample_rate=16000),
        "skip": record_vars("RE06"), "mask": record_vars("RE07"),
    }
    paths = {}
    for label, block in starts.items():
        paths[label] = s.path(label, f"{label}.wav")
        s.api(f"uuid_record start {label}", f"uuid_record {uuid} start {paths[label]} 0 {block}")
    paths["mp3"] = s.path("mp3", "call.mp3")
    s.api("uuid_record start mp3", f"uuid_record {uuid} start {paths['mp3']} 0 "
          f"{record_vars('RE08')}")
    s.settle("RECORD_START", len(paths))
    s.api("uuid_buglist", f"uuid_buglist {uuid}")
    s.audio(1.0)
    # FreeSWITCH answers `show` from its database, written a moment after the call's events
    s.api("show channels", "show channels as json")
    s.api("uuid_record pause", f"uuid_record {uuid} pause {paths['skip']}")
    s.api("uuid_record mask", f"uuid_record {uuid} mask {paths['mask']}")
    s.audio(1.0)
    s.api("uuid_record resume", f"uuid_record {uuid} resume {paths['skip']}")
    s.api("uuid_record unmask", f"uuid_record {uuid} unmask {paths['mask']}")
    s.audio(1.0)
    for label in ("mono", "stereo", "inbound", "outbound", "rate16k", "skip", "mask", "mp3"):
        s.api(f"uuid_record stop {label}", f"uuid_record {uuid} stop {paths[label]}")
    s.settle("RECORD_STOP", len(paths))
    s.api("uuid_record stop again", f"uuid_record {uuid} stop {paths['mono']}")
    s.api("uuid_record pause not recording", f"uuid_record {uuid} pause {paths['mono']}")
    s.api("uuid_broadcast beep", f"uuid_broadcast {uuid} tone_stream://%(250,0,1000) aleg")
    s.api("uuid_kill", f"uuid_kill {uuid} NORMAL_CLEARING")
    s.settle("CHANNEL_HANGUP_COMPLETE", 2)


def limits_and_hangup(s: Session, uuid: str) -> None:
    """A limit that stops the recording, RECORD_MIN_SEC not reached, a hangup mid-recording."""
    s.send("subscribe", f"event plain {EVENTS}")
    originate(s, uuid)
    limited = s.path("limited", "limited.wav")
    short = s.path("short", "short.wav")
    hung = s.path("hangup", "hangup.wav")
    s.align_to_second(0.05)  # FreeSWITCH counts the limit in whole wall-clock seconds
    s.api("uuid_record start limit", f"uuid_record {uuid} start {limited} 1 {record_vars('RE11')}")
    s.api("uuid_record start min", f"uuid_record {uuid} start {short} 0 "
          f"{record_vars('RE12', min_sec=3)}")
    s.api("uuid_record start hangup", f"uuid_record {uuid} start {hung} 0 {record_vars('RE13')}")
    s.settle("RECORD_START", 3)
    s.settle("RECORD_STOP", 1, timeout=5)  # the limit
    s.api("uuid_record stop short", f"uuid_record {uuid} stop {short}")
    s.settle("RECORD_STOP", 2)
    s.audio(0.5)
    s.api("uuid_kill", f"uuid_kill {uuid} NORMAL_CLEARING")
    s.settle("RECORD_STOP", 3)
    s.settle("CHANNEL_HANGUP_COMPLETE", 2)


def transfer(s: Session, uuid: str) -> None:
    """uuid_transfer of a parked call to another extension, then the hangup."""
    s.send("subscribe", f"event plain {EVENTS}")
    originate(s, uuid, ext="silence")
    s.api("uuid_transfer", f"uuid_transfer {uuid} tone_b XML rectest")
    s.api("uuid_transfer unknown", f"uuid_transfer {NO_CALL} tone_b XML rectest")
    s.audio(0.5)  # the transferred leg runs tone_b: it sends 880 Hz now
    path = s.path("after transfer", "transfer.wav")
    s.api("uuid_record start", f"uuid_record {uuid} start {path} 0 {record_vars('RE21')}")
    s.audio(1.0)
    s.api("uuid_record stop", f"uuid_record {uuid} stop {path}")
    s.settle("RECORD_STOP", 1)
    s.api("uuid_kill", f"uuid_kill {uuid} NORMAL_CLEARING")
    s.settle("CHANNEL_HANGUP_COMPLETE", 2)


def errors(s: Session, uuid: str) -> None:
    """What the daemon must recognise as failures."""
    s.send("subscribe", f"event plain {EVENTS}")
    s.api("uuid_exists unknown", f"uuid_exists {NO_CALL}")
    s.api("uuid_record unknown call", f"uuid_record {NO_CALL} start {s.root}/x.wav 0")
    s.api("uuid_kill unknown", f"uuid_kill {NO_CALL} NORMAL_CLEARING")
    s.api("uuid_broadcast unknown", f"uuid_broadcast {NO_CALL} tone_stream://%(250,0,1000) aleg")
    s.api("uuid_buglist unknown", f"uuid_buglist {NO_CALL}")
    s.api("unknown command", "no_such_command now")
    s.send("bgapi unknown extension", f"bgapi originate {{origination_uuid={uuid}}}"
           "loopback/no_such_extension/rectest tone_a XML rectest")
    s.wait_event("BACKGROUND_JOB")
    s.settle("CHANNEL_HANGUP_COMPLETE", 2)


def script(s: Session, uuid: str) -> None:
    """A call handed to a script, driven as the daemon drives it: the B leg parks unanswered
    (script_park), then sendmsg execute with event-lock and an Event-UUID for each application,
    each answered by a CHANNEL_EXECUTE_COMPLETE carrying it as Application-UUID; the
    follow-transfer flag set on the channel; the silence detection variables on a silent leg
    (no-input-timeout); a hangup with a cause. (RECORD_FINAL_TIMEOUT_MS is left out: where
    FreeSWITCH's clock of the silence runs behind its frames, it writes 20-60 ms more than the
    simulator, more than the 50 ms compared.)"""
    s.send("subscribe", f"event plain {EVENTS} {SCRIPT_EVENTS}")
    job = str(uuid_module.uuid5(uuid_module.NAMESPACE_OID, uuid))
    s.send("originate", f"bgapi originate {{origination_uuid={uuid},"
           f"esl_recorder_account_id=acme}}loopback/script_park/rectest &park\n"
           f"Job-UUID: {job}")
    b = s.wait_event("CHANNEL_PARK", lambda h: h.get("variable_loopback_leg") == "B")["Unique-ID"]

    def execute(app: str, arg: str | None = None) -> None:
        event_uuid = str(uuid_module.uuid5(uuid_module.NAMESPACE_OID, f"{uuid}/{app}/{arg}"))
        lines = [f"sendmsg {b}", "call-command: execute", f"execute-app-name: {app}",
                 *([f"execute-app-arg: {arg}"] if arg is not None else []),
                 "event-lock: true", f"Event-UUID: {event_uuid}"]
        s.send(f"sendmsg {app}", "\n".join(lines))
        s.wait_event("CHANNEL_EXECUTE_COMPLETE",
                     lambda h: h.get("Application-UUID") == event_uuid, timeout=15)

    execute("answer")
    s.wait_event("BACKGROUND_JOB", lambda h: h.get("Job-UUID") == job)
    s.wait_event("CHANNEL_ANSWER", is_call(uuid))
    s.api("uuid_setvar", f"uuid_setvar {b} recording_follow_transfer true")
    s.api("uuid_getvar set", f"uuid_getvar {b} recording_follow_transfer")
    s.api("uuid_setvar unknown call", f"uuid_setvar {NO_CALL} recording_follow_transfer true")
    # silence detection: nothing is said (the caller is parked, B plays nothing yet) ...
    quiet = s.path("no input", "no_input.wav")
    s.api("uuid_record start no input", f"uuid_record {b} start {quiet} 0 " + record_vars(
        "RE32", RECORD_INITIAL_TIMEOUT_MS=1000, RECORD_SILENCE_THRESHOLD=200))
    s.settle("RECORD_STOP", 1, timeout=5)
    # ... and a plain two-channel recording of a second of tone
    path = s.path("scripted", "scripted.wav")
    s.api("uuid_record start", f"uuid_record {b} start {path} 0 {record_vars('RE31', stereo=True)}")
    s.settle("RECORD_START", 2)
    execute("playback", "tone_stream://%(1000,0,880)")  # B sends 880 Hz
    s.api("uuid_record stop", f"uuid_record {b} stop {path}")
    s.settle("RECORD_STOP", 2)
    execute("speak", "flite|kal|Hello")
    execute("hangup", "USER_BUSY")
    s.settle("CHANNEL_HANGUP_COMPLETE", 2)


SCENARIOS: dict[str, Scenario] = {
    "auth": auth, "record_call": record_call, "limits_and_hangup": limits_and_hangup,
    "transfer": transfer, "errors": errors, "script": script,
}


def new_uuid() -> str:
    return str(uuid_module.uuid4())
