"""Bandwidth calls: what the API was told about each call (from, to, callbackUrl, recording
wishes) and what became of it (started, active, completed), kept in the store.

A call is one this API placed (`POST /calls`), or a live call of the account whose
recording was switched on through the API (then kept too, direction `in` or `out`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..domain.calls import Call
from ..errors import NotFound
from ..store.sqlite import Store

log = logging.getLogger(__name__)

DIALECT = "bandwidth"
STARTED, ACTIVE, COMPLETED = "started", "active", "completed"


@dataclass
class BwCall:
    id: str  # the FreeSWITCH A-leg uuid
    account: str
    user_id: str  # the account's Bandwidth userId (in every URL we hand out)
    base: str  # our public base URL when the call was made (links in callbacks)
    direction: str  # "out" (placed by the API) or "in"
    from_: str
    to: str
    created_at: float
    call_timeout: int = 60
    state: str = STARTED
    answered_at: float | None = None
    ended_at: float | None = None
    cause: str = ""
    node: str = ""
    callback_url: str = ""
    callback_method: str = "post"
    callback_timeout_ms: int | None = None  # per attempt; None: delivery.timeout
    fallback_url: str = ""  # tried when callback_url fails
    tag: str = ""
    recording_enabled: bool = False
    recording_max_duration: int = 3600
    recording_file_format: str = "wav"
    recording_pending: bool = False  # start recording as soon as FreeSWITCH knows the call

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> BwCall:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_live(cls, call: Call, user_id: str, base: str) -> BwCall:
        """A live call of the account this API did not place."""
        direction = "out" if call.direction == "outbound" else "in"
        return cls(id=call.uuid, account=call.account, user_id=user_id, base=base,
                   direction=direction, from_=call.caller, to=call.destination,
                   created_at=call.created_at, node=call.node,
                   state=ACTIVE if call.answered else STARTED, answered_at=call.answered_at)


class CallBook:
    """BwCalls by id; the ids of those not yet completed are kept in memory so the
    per-event check on the ESL dispatcher costs one set lookup."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._open: set[str] = set(store.open_api_call_ids(DIALECT))

    def save(self, call: BwCall) -> None:
        is_open = call.state != COMPLETED
        self._store.save_api_call(call.id, DIALECT, call.account, is_open=is_open,
                                  created_at=call.created_at, data=call.to_data())
        if is_open:
            self._open.add(call.id)
        else:
            self._open.discard(call.id)

    def find(self, call_id: str) -> BwCall | None:
        data = self._store.get_api_call(call_id, DIALECT)
        return BwCall.from_data(data) if data else None

    def open_call(self, call_id: str) -> BwCall | None:
        """A call not yet completed (None for every other call FreeSWITCH reports)."""
        if call_id not in self._open:
            return None
        return self.find(call_id)

    def get(self, call_id: str, account: str) -> BwCall:
        """The account's call; another account's answers exactly like a missing one."""
        call = self.find(call_id)
        if call is None or call.account != account:
            raise NotFound(f"The call '{call_id}' could not be found")
        return call
