"""Request parameters of the Twilio-like dialects: the callback parameters both take on
create, Status on update, and the paging and date filters of their lists (see compat.py
for how DateCreated and PageToken are read)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from ..delivery.request import check_url
from ..domain.options import PauseBehavior
from .base import RequestModel, events_list

_PAGE_TOKEN = re.compile(r"PT[0-9a-f]{1,16}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # one search, not a Python loop per character
FILTER_NAMES = ("DateCreated", "DateCreated<", "DateCreated>", "CallSid")  # kept in page links


def _callback_url(value: str) -> str:
    """What the outbox accepts (delivery.request.check_url), at most 2000 characters."""
    if len(value) > 2000 or _CONTROL.search(value):
        raise ValueError("must be a URL of at most 2000 printable characters")
    check_url(value)  # InvalidArgument is a ValueError: pydantic reports it
    return value


def _events(value: Any) -> Any:
    names = events_list(value)
    return tuple(names) if names else ("completed",)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


CallbackUrl = Annotated[str, AfterValidator(_callback_url)]
CallbackEvents = Annotated[tuple[Literal["in-progress", "completed", "absent"], ...],
                           BeforeValidator(_events)]
CallbackMethod = Annotated[Literal["GET", "POST"], BeforeValidator(_upper)]
TrackName = Literal["inbound", "outbound", "both"]


class CreateParams(RequestModel):
    """The status-callback parameters both dialects take on create."""

    callback_url: CallbackUrl | None = Field(
        None, alias="RecordingStatusCallback",
        description="URL told about the recording's status changes.")
    callback_events: CallbackEvents = Field(
        ("completed",), alias="RecordingStatusCallbackEvent",
        description="Space-separated (or repeated): in-progress, completed, absent.")
    callback_method: CallbackMethod = Field(
        "POST", alias="RecordingStatusCallbackMethod",
        description="GET (fields in the query) or POST (form body).")

    def callback(self) -> dict[str, Any] | None:
        """What on_recording needs later, JSON-ready (kept in the recording's meta)."""
        if self.callback_url is None:
            return None
        return {"url": self.callback_url, "method": self.callback_method,
                "events": list(self.callback_events)}


class UpdateParams(RequestModel):
    status: Literal["paused", "in-progress", "stopped"] = Field(
        alias="Status", description="paused, in-progress (resume) or stopped.")

    def pause_behavior(self) -> PauseBehavior | None:
        return None  # the recording's own (silence)


def _span(value: Any) -> tuple[float, float]:
    """A DateCreated value as [start, end) in epoch seconds."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("must be YYYY-MM-DD or an ISO 8601 date-time")
    try:
        if _DAY.fullmatch(value):
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
            return day, day + 86400.0
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be YYYY-MM-DD or an ISO 8601 date-time") from None
    start = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return start, start + 1.0


Span = Annotated[tuple[float, float], BeforeValidator(_span)]


class PageParams(RequestModel):
    page_size: int = Field(50, ge=1, le=1000, alias="PageSize")
    page: int = Field(0, ge=0, le=1_000_000, alias="Page")
    page_token: Annotated[str, Field(pattern=_PAGE_TOKEN.pattern)] | None = Field(
        None, alias="PageToken")
    created_on: Span | None = Field(None, alias="DateCreated")
    created_before: Span | None = Field(None, alias="DateCreated<")
    created_after: Span | None = Field(None, alias="DateCreated>")
    call_sid: str | None = Field(None, alias="CallSid", max_length=128)

    def window(self, now: float) -> tuple[float | None, float]:
        """[from, to) of created_at: the filters, and the snapshot of the first page."""
        lows = [s[0] for s in (self.created_on, self.created_after) if s]
        highs = [s[1] for s in (self.created_on, self.created_before) if s]
        highs.append(int(self.page_token[2:], 16) / 1e6 if self.page_token else now)
        return (max(lows) if lows else None), min(highs)
