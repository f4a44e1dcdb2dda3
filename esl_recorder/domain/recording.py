"""The Recording and its one state machine, fed by commands and FreeSWITCH events."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import Conflict
from .names import new_sid
from .options import RecordOptions

__all__ = ["ACTIVE", "TERMINAL", "FileFacts", "Recording", "State", "StopReason", "new_sid"]


class State(StrEnum):
    QUEUED = "queued"  # persisted; waiting for answer or for FreeSWITCH to confirm
    IN_PROGRESS = "in-progress"
    PAUSED = "paused"
    STOPPED = "stopped"  # FreeSWITCH closed the file; being finalized
    COMPLETED = "completed"
    ABSENT = "absent"  # too short, silent, or nothing written
    FAILED = "failed"


TERMINAL = frozenset({State.COMPLETED, State.ABSENT, State.FAILED})
ACTIVE = frozenset({State.IN_PROGRESS, State.PAUSED})

_ALLOWED: dict[State, frozenset[State]] = {
    State.QUEUED: frozenset({State.IN_PROGRESS, State.STOPPED, State.ABSENT, State.FAILED}),
    State.IN_PROGRESS: frozenset({State.PAUSED, State.STOPPED, State.FAILED}),
    State.PAUSED: frozenset({State.IN_PROGRESS, State.STOPPED, State.FAILED}),
    State.STOPPED: frozenset(TERMINAL),
    State.COMPLETED: frozenset(),
    State.ABSENT: frozenset(),
    State.FAILED: frozenset(),
}


class StopReason(StrEnum):
    """Why a recording ended. FreeSWITCH says `success-maxtime` both for our stop and
    for a reached limit: we know which because we remember sending the stop."""

    REQUESTED = "requested"
    MAX_LENGTH = "max-length"
    HANGUP = "hangup"
    SILENCE = "silence"
    NO_INPUT = "no-input"
    TERMINATOR = "dtmf-terminator"
    TOO_SHORT = "too-short"
    EMPTY = "empty"
    ERROR = "error"
    LOST = "ended-while-disconnected"


@dataclass(frozen=True)
class FileFacts:
    """What the closed recording file itself says (read by domain.audio.inspect)."""

    duration_ms: int
    channels: int
    sample_rate: int
    size: int
    sha256: str


@dataclass
class Recording:
    sid: str
    call_uuid: str
    node: str
    path: str
    options: RecordOptions
    account: str = ""
    state: State = State.QUEUED
    source: str = ""  # which front end asked (dialect name), for reporting only
    created_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    stop_requested: StopReason | None = None
    stop_reason: StopReason | None = None
    cause: str | None = None  # FreeSWITCH Record-Completion-Cause
    fs_record_ms: int | None = None
    file: FileFacts | None = None
    error: str | None = None
    paused_by: str | None = None  # "pause" or "mask": what resume must undo
    meta: dict[str, Any] = field(default_factory=dict)  # front-end data, opaque here; fixed
    # when the recording is created (saves write only the changing columns)

    @property
    def control_id(self) -> str:
        return self.options.control_id

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def move(self, new: State) -> None:
        if new is self.state:
            return
        if new not in _ALLOWED[self.state]:
            raise Conflict(f"recording {self.sid} cannot go from {self.state.value} "
                           f"to {new.value}")
        self.state = new
