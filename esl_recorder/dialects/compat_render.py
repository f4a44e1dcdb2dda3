"""What the LaML and TeXML renderings share: the view a rendering needs, Twilio's conventions
for a recording's status, duration, error code and dates, and the path's extension."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from ..domain.options import AudioFormat
from ..domain.recording import Recording, State

TOO_SHORT, SILENT = "16101", "16102"  # Twilio's ErrorCode of an absent recording
_EXTENSIONS = ("json", "wav", "mp3")


@dataclass(frozen=True)
class View:
    """What a rendering needs besides the recording."""

    account_sid: str  # as the vendor spells the account (the authenticated path value)
    base_url: str  # where clients reach this server
    call_scope: bool  # addressed under /Calls/{call} (its `uri` says so)


def rfc2822(ts: float | None) -> str | None:
    return None if ts is None else format_datetime(datetime.fromtimestamp(ts, tz=UTC))


def vendor_status(rec: Recording) -> str:
    """Both vendors know no `failed`: a recording that produced nothing is `absent`."""
    return State.ABSENT.value if rec.state is State.FAILED else rec.state.value


def duration_s(rec: Recording) -> int:
    """Whole seconds of the file; -1 while it is still being made (Twilio's convention)."""
    if not rec.terminal:
        return -1
    return round(rec.file.duration_ms / 1000) if rec.file else 0


def error_code(rec: Recording) -> str | None:
    """Twilio's code of an absent recording; a failed one (the file could not be written
    whole, FreeSWITCH refused it) has none of its own: not "too short"."""
    if rec.state is not State.ABSENT:
        return None
    return SILENT if rec.cause == "no-input-timeout" else TOO_SHORT


def channels(rec: Recording) -> int:
    return rec.file.channels if rec.file else rec.options.channels


def updated_at(rec: Recording) -> float:
    return max(t for t in (rec.created_at, rec.started_at, rec.ended_at) if t is not None)


def default_format(trim: bool, configured: str) -> AudioFormat:
    """Neither dialect names a format: the configured one, WAV when trimming (trimming is
    done on WAV files only)."""
    return AudioFormat.WAV if trim else AudioFormat(configured)


def split_extension(text: str) -> tuple[str, str | None]:
    """`RE….json` → (`RE…`, `json`); no known extension → (text, None)."""
    head, dot, ext = text.rpartition(".")
    return (head, ext) if dot and head and ext in _EXTENSIONS else (text, None)
