"""Turn a closed recording file into final facts and a final state."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from . import audio
from .recording import FileFacts, State, StopReason

log = logging.getLogger(__name__)

ABSENT_CAUSES = frozenset({"empty-file", "input-too-short", "no-input-timeout"})
_REASON_BY_CAUSE = {
    "success-maxtime": StopReason.MAX_LENGTH,
    "no-input-timeout": StopReason.NO_INPUT,
    "input-too-short": StopReason.TOO_SHORT,
    "empty-file": StopReason.EMPTY,
    "uri-failure": StopReason.ERROR,
}


@dataclass(frozen=True)
class Outcome:
    state: State
    facts: FileFacts | None
    error: str | None
    repaired: bool = False


def stop_reason(requested: StopReason | None, cause: str | None, hungup: bool) -> StopReason:
    """Why it ended: our own stop wins (FreeSWITCH calls it success-maxtime too)."""
    if requested is not None:
        return requested
    if cause in _REASON_BY_CAUSE:
        return _REASON_BY_CAUSE[cause]
    return StopReason.HANGUP if hungup or cause is None else StopReason.SILENCE


def examine(path: str, cause: str | None, trim: bool) -> Outcome:
    """Read the file (blocking I/O: run it in a worker thread)."""
    if cause == "uri-failure":
        return Outcome(State.FAILED, None, "FreeSWITCH could not write the file (uri-failure)")
    if not os.path.exists(path):
        if cause in ABSENT_CAUSES or cause is None:
            return Outcome(State.ABSENT, None, None)
        return Outcome(State.FAILED, None, f"recording file is missing ({cause})")
    try:
        repaired = path.endswith(".wav") and audio.repair_wav_header(path)
        if trim:
            audio.trim_wav_silence(path)
        facts = audio.inspect(path)
    except (OSError, audio.AudioError) as exc:
        return Outcome(State.FAILED, None, f"unreadable recording file: {exc}")
    absent = cause in ABSENT_CAUSES or facts.duration_ms == 0
    return Outcome(State.ABSENT if absent else State.COMPLETED, facts, None, repaired)
