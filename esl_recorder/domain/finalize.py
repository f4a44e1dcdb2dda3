"""Turn a closed recording file into final facts and a final state."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from . import audio
from .recording import FileFacts, State, StopReason

log = logging.getLogger(__name__)

WRITE_FAILED = "FreeSWITCH could not write the whole file (uri-failure: is its disk full?)"
ABSENT_CAUSES = frozenset({"empty-file", "input-too-short", "no-input-timeout"})
_REASON_BY_CAUSE = {
    "success-maxtime": StopReason.MAX_LENGTH,
    "no-input-timeout": StopReason.NO_INPUT,
    "input-too-short": StopReason.TOO_SHORT,
    "empty-file": StopReason.EMPTY,
    "uri-failure": StopReason.ERROR,
}
# On a local file system a file up to this size is examined where its recording is
# finalized, on the hub, as the store's commits are written there; a larger one, or any on
# a network file system, in a worker thread (it is read whole for its digest).
SMALL_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Outcome:
    state: State
    facts: FileFacts | None
    error: str | None
    repaired: bool = False
    truncated: bool = False  # shorter than FreeSWITCH recorded, by more than the tolerance


def stop_reason(requested: StopReason | None, cause: str | None, hungup: bool) -> StopReason:
    """Why it ended: our own stop wins (FreeSWITCH calls it success-maxtime too)."""
    if requested is not None:
        return requested
    if cause in _REASON_BY_CAUSE:
        return _REASON_BY_CAUSE[cause]
    return StopReason.HANGUP if hungup or cause is None else StopReason.SILENCE


def file_size(path: str) -> int:
    """The size of `path` (0 when it is absent: examine says so without reading it)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def examine(path: str, cause: str | None, trim: bool, expected_ms: int | None = None,
            tolerance_ms: int = 2000) -> Outcome:
    """Read the file (blocking I/O: a long one in a worker thread). `expected_ms` is how long
    FreeSWITCH recorded (its record_ms): a file shorter than that by more than
    `tolerance_ms` was not written whole (a full disk) and the recording failed."""
    if not os.path.exists(path):
        if cause in ABSENT_CAUSES or cause is None:
            return Outcome(State.ABSENT, None, None)
        return Outcome(State.FAILED, None, f"recording file is missing ({cause})")
    try:
        facts = None if trim else audio.sound_facts(path)  # usually the file's one read
        repaired = False
        if facts is None:  # a stale WAV header, or silence to trim
            repaired = path.endswith(".wav") and audio.repair_wav_header(path)
            if trim and cause != "uri-failure":
                audio.trim_wav_silence(path)
            facts = audio.inspect(path)
    except (OSError, audio.AudioError) as exc:
        if cause == "uri-failure":
            return Outcome(State.FAILED, None, WRITE_FAILED)
        return Outcome(State.FAILED, None, f"unreadable recording file: {exc}")
    if cause == "uri-failure":  # the facts say how much was saved before the write failed
        return Outcome(State.FAILED, facts, WRITE_FAILED, repaired)
    absent = cause in ABSENT_CAUSES or facts.duration_ms == 0
    if not absent and expected_ms is not None and (
            facts.duration_ms + tolerance_ms < expected_ms):
        return Outcome(State.FAILED, facts,
                       f"truncated: the file holds {facts.duration_ms / 1000:.1f} s of the "
                       f"{expected_ms / 1000:.1f} s FreeSWITCH recorded", repaired, True)
    return Outcome(State.ABSENT if absent else State.COMPLETED, facts, None, repaired)
