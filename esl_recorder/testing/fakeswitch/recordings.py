"""The uuid_record command and the lifecycle of recordings (start, stop, events)."""

from __future__ import annotations

import logging
import os

from esl_recorder.esl.codec import fs_url_decode
from esl_recorder.testing.fakeswitch.channels import Channel, FrameSet
from esl_recorder.testing.fakeswitch.core import SwitchCore
from esl_recorder.testing.fakeswitch.recorder import (
    RecordError,
    Recording,
    RecordOptions,
    file_format,
    parse_record_vars,
)

log = logging.getLogger(__name__)

USAGE = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
OK = "+OK Success\n"
ACTION_ERRORS = {
    "stop": "-ERR Cannot stop record session!\n",
    "mask": "-ERR Cannot mask recording session!\n",
    "unmask": "-ERR Cannot unmask recording session!\n",
    "pause": "-ERR Cannot pause recording session!\n",
    "resume": "-ERR Cannot resume recording session!\n",
}


def separate(text: str, limit: int) -> list[str]:
    """switch_separate_string: split on spaces (or on X given as a leading `^^X`), max fields."""
    delim = " "
    if text.startswith("^^") and len(text) > 2:
        delim, text = text[2], text[3:]
    parts = [p for p in text.split(delim) if p != ""] if delim == " " else text.split(delim)
    if len(parts) > limit:
        parts = [*parts[: limit - 1], delim.join(parts[limit - 1 :])]
    return parts


def uuid_record(core: SwitchCore, args: str, hangup: object) -> str:
    """`uuid_record <uuid> start|stop|pause|resume|mask|unmask <path> [<limit>] [{vars}]`."""
    argv = separate(args.strip(), 5)
    if len(argv) < 3 or not argv[0]:
        return USAGE
    ch = core.locate(argv[0])
    if ch is None:
        return "-ERR Cannot locate session!\n"
    action, path = argv[1], argv[2]
    if action == "start":
        limit = int(argv[3]) if len(argv) > 3 and argv[3].lstrip("-").isdigit() else 0
        rec_vars = parse_record_vars(fs_url_decode(argv[4])) if len(argv) > 4 else {}
        return start(core, ch, path, limit, rec_vars, hangup)
    if action == "stop":
        return OK if stop_path(core, ch, path) else ACTION_ERRORS["stop"]
    if action in ("mask", "unmask", "pause", "resume"):
        return OK if _flag(ch, path, action) else ACTION_ERRORS[action]
    return USAGE


def expand_path(core: SwitchCore, ch: Channel, path: str) -> str:
    if path.startswith("/") or path.startswith("{"):
        return path
    prefix = ch.variables.get("sound_prefix") or core.sound_prefix
    return os.path.join(prefix, path) if prefix else path


def start(
    core: SwitchCore,
    ch: Channel,
    path: str,
    limit: int,
    rec_vars: dict[str, str],
    hangup: object,
) -> str:
    path = expand_path(core, ch, path)
    options = RecordOptions.resolve(ch, rec_vars)
    existing = find(ch, path)
    if existing is not None:
        if options.toggle:
            stop(core, existing, "success-maxtime")
        return OK
    fmt = file_format(path)
    if fmt is None:
        return _fail(core, ch, None, options, hangup)
    rec = Recording(ch, path, fmt, options, limit, rec_vars, start_wall=core.now(),
                    disk=core.disk)
    try:
        rec.open()
    except RecordError as exc:
        return _fail(core, ch, exc.cause, options, hangup)
    if not ch.answered and not options.answer_req:
        ch.early_media = True  # uuid_record pre-answers an unanswered inbound channel
    ch.recordings.append(rec)
    core.emit(ch, "RECORD_START", extra=_record_headers(rec), overrides=_states(ch))
    return OK


def _fail(
    core: SwitchCore, ch: Channel, cause: str | None, options: RecordOptions, hangup: object
) -> str:
    if cause is None and options.hangup_on_error and callable(hangup):
        hangup(ch, "DESTINATION_OUT_OF_ORDER")  # not when the directory could not be made
    ch.variables["record_completion_cause"] = "uri-failure"
    return "-ERR Cannot record session!\n"


def _states(ch: Channel) -> dict[str, str]:
    return {"Answer-State": ch.answer_state, "Channel-Call-State": ch.call_state}


def _record_headers(rec: Recording) -> list[tuple[str, str]]:
    headers = [("Record-File-Path", rec.path)]
    headers += [(f"Recording-Variable-{k}", v) for k, v in rec.rec_vars.items()]
    return headers


def find(ch: Channel, path: str) -> Recording | None:
    return next((r for r in ch.recordings if r.path == path), None)


def stop_path(core: SwitchCore, ch: Channel, path: str) -> bool:
    targets = list(ch.recordings) if path == "all" else [r for r in ch.recordings if r.path == path]
    for rec in targets:
        stop(core, rec, "success-maxtime")
    return bool(targets)


def _flag(ch: Channel, path: str, action: str) -> bool:
    rec = find(ch, path)
    if rec is None:
        return False
    if action in ("mask", "unmask"):
        rec.masked = action == "mask"
    else:
        rec.paused = action == "pause"
    return True


def stop(core: SwitchCore, rec: Recording, cause: str, variant: str = "") -> None:
    """Close the file, update the channel variables, then send RECORD_STOP."""
    ch = rec.channel
    if rec not in ch.recordings:
        return
    ch.recordings.remove(rec)
    reported, values = rec.finish(cause)
    ch.variables.update(values)
    extra = _record_headers(rec)
    if reported is not None:
        extra.append(("Record-Completion-Cause", reported))
    core.emit(ch, "RECORD_STOP", variant, extra=extra, overrides=_states(ch))


def move(source: Channel, target: Channel) -> None:
    """switch_ivr_transfer_recordings: every recording of `source` goes on on `target`."""
    for rec in source.recordings:
        rec.channel = target
    target.recordings.extend(source.recordings)
    source.recordings.clear()


def stop_for_hangup(core: SwitchCore, ch: Channel) -> None:
    for rec in list(ch.recordings):
        detecting = rec.options.initial_timeout_ms or rec.options.final_timeout_ms
        cause = "no-input-timeout" if detecting and not rec.heard_sound else "success-silence"
        stop(core, rec, cause, "hangup")


def feed_frames(core: SwitchCore, frames: FrameSet, live: list[Channel]) -> None:
    """Media-clock hook: write this tick's audio into every active recording."""
    now = core.now()
    for ch in live:
        if not ch.recordings:
            continue
        read, write = frames.read(ch), frames.write(ch)
        for rec in list(ch.recordings):
            cause = rec.feed(read, write, now)
            if cause is not None:
                stop(core, rec, cause)


def abandon_all(core: SwitchCore) -> None:
    """Crash: leave every open file as it is, no events."""
    for ch in core.channels.values():
        for rec in ch.recordings:
            rec.abandon()
        ch.recordings.clear()
