"""The Bandwidth call resource: a view of the domain call (its state, times and cause) plus
what the API was told about it (callbackUrl, tag, recording wishes), which the domain keeps
with the call as this dialect's `meta`.

A call is one this API placed (`POST /calls`), or a live call of the account whose
recording was switched on through the API (the dialect takes charge of it then).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..domain.calls import Call

DIALECT = "bandwidth"
STARTED, ACTIVE, COMPLETED = "started", "active", "completed"
# hangup causes of a call FreeSWITCH stopped ringing because no one answered in time
# (originate_timeout gives NO_ANSWER; a progress or allotted timeout the others)
TIMEOUT_CAUSES = frozenset({"NO_ANSWER", "PROGRESS_TIMEOUT", "ALLOTTED_TIMEOUT"})


@dataclass
class Wishes:
    """What the API was told about a call (kept in the domain call's meta)."""

    user_id: str  # the account's Bandwidth userId (in every URL we hand out)
    base: str  # our public base URL when the call was made (links in callbacks)
    call_timeout: int = 60
    callback_url: str = ""
    callback_method: str = "post"
    callback_timeout_ms: int | None = None  # per attempt; None: delivery.timeout
    fallback_url: str = ""  # tried when callback_url fails
    tag: str = ""
    recording_enabled: bool = False
    recording_max_duration: int = 3600
    recording_file_format: str = "wav"
    recording_pending: bool = False  # start recording as soon as FreeSWITCH knows the call
    transfers: list[list[Any]] = field(default_factory=list)  # [time, transferTo] each

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_meta(cls, data: dict[str, Any], user_id: str, base: str) -> Wishes:
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in data.items() if k in known}
        return cls(**{"user_id": user_id, "base": base, **kept})


@dataclass
class BwCall:
    """A call as Bandwidth shows it."""

    call: Call
    wishes: Wishes

    @classmethod
    def of(cls, call: Call, user_id: str, base: str) -> BwCall:
        """The view of `call`; `user_id` and `base` serve a call the API did not place."""
        meta = call.meta if call.source == DIALECT else {}
        return cls(call, Wishes.from_meta(meta, user_id, base))

    @property
    def id(self) -> str:  # the FreeSWITCH A-leg uuid
        return self.call.uuid

    @property
    def account(self) -> str:
        return self.call.account

    @property
    def direction(self) -> str:
        return "out" if self.call.direction == "outbound" else "in"

    @property
    def from_(self) -> str:
        return self.call.caller

    @property
    def to(self) -> str:
        return self.call.destination

    @property
    def state(self) -> str:
        if self.call.hungup:
            return COMPLETED
        return ACTIVE if self.call.answered else STARTED

    @property
    def created_at(self) -> float:
        return self.call.created_at

    @property
    def answered_at(self) -> float | None:
        return self.call.answered_at

    @property
    def ended_at(self) -> float | None:
        if not self.call.hungup:
            return None
        return self.call.hungup_at or self.call.answered_at or self.call.created_at

    @property
    def timed_out(self) -> bool:
        """Ended unanswered because no one answered within its callTimeout."""
        return (self.call.hungup and not self.call.answered
                and self.call.hangup_cause in TIMEOUT_CAUSES)

    @property
    def cause(self) -> str:
        return self.call.hangup_cause or "NORMAL_CLEARING"
