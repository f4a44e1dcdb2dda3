"""What the domain needs from the world, declared here and implemented outside it.

- `CallControl`: one FreeSWITCH node (esl.control implements it over the Event Socket).
  Every method returns a typed result or raises one of the errors below; no reply text of
  FreeSWITCH ever reaches the domain.
- `RecordingRepository`: the recordings and calls kept across restarts (store.sqlite, or
  store.postgres).
- `MediaStore`: recordings kept in object storage (delivery.media).
- `OutboxStore` / `OutboxItem`: the durable queue of callbacks and uploads (the same stores),
  which `delivery` fills and drains.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from ..errors import NotFound, RecordingError
from .calls import Call, CallRepository
from .facts import LiveCall
from .recording import Recording

__all__ = ["LiveCall"]  # with the rest: a result of CallControl.live_calls

# --- errors of CallControl ------------------------------------------------------------------


class CallGone(NotFound):
    """FreeSWITCH has no such call (any more)."""


class CommandRefused(RecordingError):
    """FreeSWITCH refused the command; `reason` is its own words (safe to show)."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"FreeSWITCH refused {action}: {reason}")
        self.action = action
        self.reason = reason


class ControlUnavailable(RecordingError):
    """The node is not connected (or the connection dropped while waiting)."""


class ControlTimeout(RecordingError):
    """The node did not answer in time: the command may have run."""


class ControlLost(ControlTimeout):
    """The connection to the node dropped after the command was sent: it may have run."""


def command_result(exc: Exception) -> str:
    """The `result` label (metrics.COMMAND_RESULTS) of a command that raised `exc`:
    FreeSWITCH said no, did not answer in time, or the link was down or lost."""
    if isinstance(exc, CallGone | CommandRefused):
        return "error"
    if isinstance(exc, ControlTimeout) and not isinstance(exc, ControlLost):
        return "timeout"
    return "disconnected"


# --- errors of the store --------------------------------------------------------------------


class StoreUnavailable(RecordingError):
    """The store could not be written (disk full, read-only, locked past its timeout):
    whatever the write was part of was rolled back as a whole."""


# --- results of CallControl -----------------------------------------------------------------


class RecordingAction(StrEnum):
    """What can be done to a running recording (named by its path)."""

    STOP = "stop"
    PAUSE = "pause"  # the paused audio is left out
    RESUME = "resume"  # undoes PAUSE
    MASK = "mask"  # silence written while masked: the timeline is kept
    UNMASK = "unmask"  # undoes MASK


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    """An outbound call. `call_uuid` is ours, so the call is known before it rings."""

    call_uuid: str
    dial_string: str  # the endpoint, e.g. sofia/gateway/gw/+15551234567
    application: str  # what the answered call runs: &park() or `<ext> XML <context>`
    variables: Mapping[str, str | int | bool]
    timeout_s: int  # how long it may ring


@dataclass(frozen=True, slots=True)
class Dialed:
    """What became of an originate: answered, or the hangup cause FreeSWITCH gave."""

    call_uuid: str
    cause: str = ""  # empty when answered

    @property
    def answered(self) -> bool:
        return not self.cause


EXECUTE_TIMEOUT_S = 3600.0  # an application may take as long as a call lasts


class CallControl(Protocol):
    """One FreeSWITCH node. Raises CallGone, CommandRefused, ControlUnavailable,
    ControlTimeout, or InvalidArgument for a value that cannot be sent safely."""

    @property
    def connected(self) -> bool: ...

    def start_recording(self, call_uuid: str, path: str, limit_s: int,
                        variables: Mapping[str, str | int | bool]) -> None: ...

    def control_recording(self, call_uuid: str, action: RecordingAction, path: str) -> None: ...

    def play(self, call_uuid: str, media: str, leg: str = "aleg") -> None:
        """Play a tone_stream (the beep) or a file into the call."""

    def originate(self, request: OriginateRequest, timeout_s: float) -> Dialed:
        """Returns once FreeSWITCH reports the result (answered, or failed with a cause)."""

    def hangup(self, call_uuid: str, cause: str = "NORMAL_CLEARING") -> None: ...

    def transfer(self, call_uuid: str, extension: str, dialplan: str = "XML",
                 context: str = "default") -> None: ...

    def variables(self, call_uuid: str, names: Sequence[str]) -> dict[str, str]:
        """The call's channel variables; an unset one is ""."""

    def set_variables(self, call_uuid: str, values: Mapping[str, str]) -> None:
        """Set channel variables (only for what FreeSWITCH reads from the channel alone:
        recording options go in the recording's own variables)."""

    def live_calls(self) -> list[LiveCall]: ...

    def call_exists(self, call_uuid: str) -> bool: ...

    def is_recording(self, call_uuid: str, path: str) -> bool:
        """Whether `path` is among the call's running recordings."""

    def execute(self, call_uuid: str, app: str, arg: str | None = None,
                timeout: float = EXECUTE_TIMEOUT_S) -> str:
        """Run dialplan application `app` on a parked call and return, once it has ended,
        what it left (`FILE PLAYED`, `FILE NOT FOUND`, `_none_`...). Raises CallGone when
        the call hangs up first (the `hangup` application included), ControlTimeout when
        it has not ended within `timeout` seconds."""


# --- state ----------------------------------------------------------------------------------


class RecordingRepository(CallRepository, Protocol):
    """Recordings and the calls they were made on, kept across restarts. Every write raises
    StoreUnavailable when the store cannot take it."""

    def atomic(self) -> AbstractContextManager[None]:
        """One transaction around every write made inside it (the outbox's included): all
        are committed when the block ends, or none when it raises. Nests."""

    @property
    def writable(self) -> bool:
        """Whether the last write succeeded (rechecked with a small probe write at most
        once a second while it did not): the store's health for readiness."""

    def insert_recording(self, rec: Recording, call: Call | None = None) -> None: ...

    def save_recording(self, rec: Recording) -> None: ...

    def get_recording(self, sid: str) -> Recording | None: ...

    def unfinished_recordings(self) -> list[Recording]: ...

    def list_recordings(self, *, account: str | None = None, call_uuid: str | None = None,
                        created_from: float | None = None, created_to: float | None = None,
                        limit: int = 50, offset: int = 0) -> list[Recording]: ...

    def delete_recording(self, sid: str) -> bool: ...


@dataclass(frozen=True)
class OutboxItem:
    id: int
    kind: str
    key: str
    target: str  # the receiver origin, scheme://host:port: its delivery lane
    payload: dict[str, Any]
    attempts: int
    created_at: float
    next_attempt_at: float
    state: str
    last_error: str | None
    finished_at: float | None = None


class OutboxStore(Protocol):
    """The durable outbox rows (see store.sqlite for the semantics of each query)."""

    def enqueue(self, kind: str, key: str, target: str, payload: dict[str, Any],
                now: float) -> int: ...

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once what was written so far can be read by others: when the
        transaction of the current atomic() block commits (never if it rolls back), or at
        once outside a block. (On PostgreSQL other transactions commit meanwhile, and rows
        become visible out of id order.)"""

    def due(self, now: float, limit: int = 100, *, after: tuple[float, int] | None = None,
            target: str | None = None, claim_until: float | None = None,
            besides: Sequence[str] = ()) -> list[OutboxItem]:
        """Due items in scan order (of `target` only, or not of those `besides`). With
        `claim_until`, the items returned are also claimed (as `claim` does, in the same
        statement) until then: a store shared by several daemons returns only items no
        other daemon holds or is claiming; each returned item's next_attempt_at is still
        its scan position."""

    def heads(self, keys: Iterable[str], now: float, *,
              claim_until: float | None = None) -> list[OutboxItem]: ...

    def claim(self, ids: Sequence[int], now: float, until: float) -> set[int]:
        """Take the attempts of items `ids` for this process until `until` (a lease):
        returns those it may attempt now. A store shared by several daemons (PostgreSQL)
        leaves out items another daemon holds, and those whose key has an earlier pending
        item; claiming an item again extends the lease (`until` = `now` gives it back);
        finish_attempts ends it. A store of one daemon (SQLite) returns them all."""

    def give_back(self, positions: Sequence[tuple[int, float]]) -> None:
        """End this process's claims of items (id, next_attempt_at), each due again at that
        time for anyone (a claimed item it will not attempt)."""

    def release_claims(self, now: float) -> int:
        """Every claim ended and its item due at `now`: the attempts of a daemon that
        stopped without storing their results, when no other daemon shares the store (its
        restart sends them again at once, not when their leases run out). Returns how many
        (SQLite: none, it keeps no claims)."""

    def next_attempt_after(self, now: float) -> float | None: ...

    def finish_attempts(self, delivered: Iterable[tuple[int, float]],
                        retried: Iterable[tuple[int, float, str]],
                        dead: Iterable[tuple[int, float, str]]) -> None: ...

    def outbox_count(self, state: str) -> int: ...

    def purge_delivered(self, before: float, limit: int = 10_000) -> int: ...

    def outbox_items(self, state: str | None = None, limit: int = 100, *,
                     newest_first: bool = False) -> list[OutboxItem]: ...


# --- media ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaFile:
    """The recording's file on this machine's disk."""

    path: str


@dataclass(frozen=True)
class MediaStream:
    """The recording's bytes relayed from where they are kept; `close` ends the relay."""

    size: int
    chunks: Iterable[bytes]
    close: Callable[[], None]


@dataclass(frozen=True)
class MediaRedirect:
    """A short-lived URL the client fetches the media from itself."""

    url: str


Media = MediaFile | MediaStream | MediaRedirect


class MediaUnavailable(RecordingError):
    """The media store could not be reached (the answer is a 503)."""


class MediaStore(Protocol):
    """Where finished recordings go once they leave the local disk (object storage):
    delivery.media implements it. Raises NotFound when it holds no media of `rec`."""

    def fetch(self, rec: Recording) -> MediaStream | MediaRedirect:
        """The recording's media as the settings say to serve it."""

    def delete(self, rec: Recording) -> None:
        """Remove the stored media and any upload still pending (durably: part of the
        current store transaction)."""
