"""Requests about a call or recording on a node another daemon owns (several daemons).

Only a node's owner changes its recordings and calls: it alone is connected to the node,
holds its recordings in memory and runs their follow-up. A daemon asked to act on a call or
recording of another daemon's node hands the operation over through the `RemoteOwner` port
(store.commands over PostgreSQL implements it) and answers with what the owner's own
services returned or raised, so the caller cannot tell which daemon it reached.

`Forwarding` is what the services use: whether to hand an operation over, and to which
node(s). An operation being run for another daemon is never handed over again (`here()`):
a call unknown to its owner is missing, not somewhere else.

A call's node is known from the store when the call was recorded or placed; a call the
store does not know (a plain inbound call nobody has recorded yet) is asked of the owner of
every node this daemon does not own: only the one holding the call runs the operation, the
others answer NotFound.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from dataclasses import fields
from typing import Any, Protocol

from ..errors import Conflict, InvalidArgument, NotFound, RecordingError
from .calls import Call, CallState
from .options import RecordOptions
from .ports import (
    CallGone,
    CommandRefused,
    ControlLost,
    ControlTimeout,
    ControlUnavailable,
    MediaUnavailable,
    StoreUnavailable,
)
from .recording import FileFacts, Recording, State, StopReason

Args = dict[str, Any]
Result = dict[str, Any]


class RemoteOwner(Protocol):
    """The daemons owning the other nodes, reached through the shared store."""

    def owns(self, node: str) -> bool:
        """Whether this daemon owns `node` now."""

    def foreign_nodes(self) -> list[str]:
        """The configured nodes this daemon does not own now."""

    def call_home(self, call_uuid: str) -> tuple[str, str] | None:
        """(node, account) of `call_uuid` as the store knows it (recorded or placed);
        None: unknown there."""

    def forward(self, nodes: Sequence[str], operation: str, args: Args) -> Result:
        """Run `operation(args)` on the owner of each of `nodes`; the result of the one
        that did not answer NotFound (or that NotFound). Raises the typed domain error the
        owner raised; ControlUnavailable when a node has no owner or did not take the
        operation in time (it is then never run); ControlTimeout when an owner took it
        but did not finish in time (its outcome is reported as usual)."""


# --- the operations (remote_ops.RemoteOperations carries them out) -------------------------

START = "recording.start"
STOP = "recording.stop"
PAUSE = "recording.pause"
RESUME = "recording.resume"
CALL_GET = "call.get"  # RecordingService.call: a live call of the account
CALL_LIVE = "call.live"  # CallService.live
HANGUP = "call.hangup"
TRANSFER = "call.transfer"
TAKE_CHARGE = "call.take_charge"
PLACE = "call.place"
SCRIPT_START = "script.start"  # ScriptRunner.start (SWML sent over the API)
OPERATIONS = (START, STOP, PAUSE, RESUME, CALL_GET, CALL_LIVE, HANGUP, TRANSFER, TAKE_CHARGE,
              PLACE, SCRIPT_START)


def call_doc(call: Call) -> dict[str, Any]:
    """A Call as JSON-able data (call_from_doc reads it back)."""
    doc = {f.name: getattr(call, f.name) for f in fields(Call)}
    doc["state"] = call.state.value
    return doc


def call_from_doc(doc: dict[str, Any]) -> Call:
    known = {f.name for f in fields(Call)}
    data = {k: v for k, v in doc.items() if k in known}
    data["state"] = CallState(data.get("state", "created"))
    return Call(**data)


def recording_doc(rec: Recording) -> dict[str, Any]:
    """A Recording as JSON-able data, as the owner's service returned it (recording_from_doc
    reads it back): what a forwarded request answers with, not a later state of it."""
    doc = {f.name: getattr(rec, f.name) for f in fields(Recording)}
    doc["options"] = rec.options.to_dict()
    doc["state"] = rec.state.value
    for name in ("stop_requested", "stop_reason"):
        doc[name] = doc[name] and doc[name].value
    doc["file"] = rec.file and {f.name: getattr(rec.file, f.name) for f in fields(FileFacts)}
    return doc


def recording_from_doc(doc: dict[str, Any]) -> Recording:
    data = dict(doc)
    data["options"] = RecordOptions.from_dict(data["options"])
    data["state"] = State(data["state"])
    for name in ("stop_requested", "stop_reason"):
        data[name] = data[name] and StopReason(data[name])
    data["file"] = data["file"] and FileFacts(**data["file"])
    return Recording(**data)


def dial_args(request: Any) -> dict[str, Any]:
    """A call_service.DialRequest (a dataclass of JSON-able fields) as data."""
    return {f.name: getattr(request, f.name) for f in fields(request)}


_running_for_another = contextvars.ContextVar("running_for_another", default=False)


class Forwarding:
    """The services' side of the port (None-free: `Forwarding(None)` forwards nothing)."""

    def __init__(self, remote: RemoteOwner | None = None) -> None:
        self._remote = remote

    def attach(self, remote: RemoteOwner) -> None:
        """Forward through `remote` from now on (wired once the node owners are known)."""
        self._remote = remote

    @property
    def enabled(self) -> bool:
        return self._remote is not None and not _running_for_another.get()

    @contextlib.contextmanager
    def here(self) -> Iterator[None]:
        """Run an operation another daemon handed over: nothing inside forwards again."""
        token = _running_for_another.set(True)
        try:
            yield
        finally:
            _running_for_another.reset(token)

    def node_elsewhere(self, node: str) -> bool:
        """Whether `node` is another daemon's (False when not forwarding)."""
        return self.enabled and self._remote is not None and not self._remote.owns(node)

    def nodes_of_call(self, call_uuid: str, account: str | None = None,
                      held: Call | None = None) -> list[str]:
        """Where to ask about a call: none when it is this daemon's to handle (its node is
        ours, or nothing forwards), else its node (`held`: the copy this daemon has, else
        as the store knows it), else (unknown) every node owned elsewhere. A call known
        under another account than `account` is missing (NotFound) before anything is
        asked."""
        remote = self._remote
        if remote is None or not self.enabled:
            return []
        home = (held.node, held.account) if held is not None else remote.call_home(call_uuid)
        if home is None:
            return remote.foreign_nodes()
        node, owner = home
        if remote.owns(node):
            return []
        if account is not None and owner and owner != account:
            raise NotFound(f"no live call {call_uuid}")
        return [node]

    def foreign_nodes(self) -> list[str]:
        return self._remote.foreign_nodes() if self._remote is not None else []

    def forward(self, nodes: Sequence[str], operation: str, args: Args) -> Result:
        assert self._remote is not None
        return self._remote.forward(nodes, operation, args)


# --- the typed domain errors, across daemons ------------------------------------------------

_ERRORS: dict[str, type[RecordingError] | type[InvalidArgument]] = {
    cls.__name__: cls for cls in (NotFound, CallGone, Conflict, InvalidArgument,
                                  RecordingError, ControlUnavailable, ControlTimeout, ControlLost,
                                  StoreUnavailable, MediaUnavailable)}


def encode_error(exc: Exception) -> Result:
    """A domain error as the owner raised it (its class and words; both safe to show)."""
    if isinstance(exc, CommandRefused):
        return {"type": "CommandRefused", "action": exc.action, "reason": exc.reason}
    for cls in type(exc).__mro__:
        if cls.__name__ in _ERRORS and _ERRORS[cls.__name__] is cls:
            return {"type": cls.__name__, "message": str(exc)}
    return {"type": "RecordingError", "message": "the owning daemon failed to carry it out"}


def decode_error(doc: Result) -> Exception:
    """The exception `encode_error` described (an unknown type: RecordingError)."""
    if doc.get("type") == "CommandRefused":
        return CommandRefused(str(doc.get("action", "")), str(doc.get("reason", "")))
    cls = _ERRORS.get(str(doc.get("type")), RecordingError)
    return cls(str(doc.get("message", "")))
