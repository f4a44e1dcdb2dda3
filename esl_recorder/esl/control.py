"""CallControl (domain.ports) over one node's Event Socket: the one place that reads what
FreeSWITCH answers (`-ERR ...`, `-USAGE ...`, `_undef_`, `uuid_exists`'s `true`, the
`show channels` JSON, the media-bug XML) and turns it into typed results and errors.

FreeSWITCH runs an `api` command in the connection's own thread: its reply, and every
event and reply behind it on that socket, wait until it ends. Commands that end at once
(`uuid_record`, `uuid_getvar`, `uuid_kill`, `uuid_broadcast`: each sets a flag or a media
bug on a channel and returns) go out as `api`: one reply, no BACKGROUND_JOB event to read.
`originate`, which waits for the far end up to its timeout, goes out as `bgapi` (run in a
thread of FreeSWITCH's own; the reply is the BACKGROUND_JOB body). `show channels` stays
`api` although it walks every channel of the node: its JSON (about 1.5 KB a call) may be
larger than an event may be (esl.frames.MAX_EVENT_BYTES), and it runs at a (re)connect,
before the node's recordings are followed again.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import gevent
import gevent.pool

from ..domain.ports import (
    EXECUTE_TIMEOUT_S,
    CallGone,
    CommandRefused,
    ControlLost,
    ControlTimeout,
    ControlUnavailable,
    Dialed,
    LiveCall,
    OriginateRequest,
    RecordingAction,
)
from ..domain.scripts_waits import Executions
from ..errors import EslError, EslLinkLost, EslTimeout
from . import commands as cmd

log = logging.getLogger(__name__)

# What FreeSWITCH says when the uuid names no channel: uuid_record says "Cannot locate
# session!", uuid_broadcast "invalid uuid", uuid_kill/uuid_getvar/uuid_transfer "No such
# channel!" (each checked against the live server by tests/differential).
# sendmsg to a channel that is gone: "-ERR invalid session id [<uuid>]".
_GONE = ("cannot locate session", "invalid uuid", "no such channel", "invalid session id")
_CAUSE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")  # hangup cause names: NO_ANSWER, USER_BUSY...
UNKNOWN_CAUSE = "DESTINATION_OUT_OF_ORDER"  # an originate -ERR without a cause name
EXISTS_CHECKS = 32  # uuid_exists commands out at once when checking `show channels`


class Connection(Protocol):
    """What is used of esl.client.EslClient."""

    node_name: str

    @property
    def connected(self) -> bool: ...

    def api(self, command: str, timeout: float | None = None) -> str: ...

    def bgapi(self, command: str, timeout: float | None = None,
              job_uuid: str | None = None) -> str: ...

    def message(self, text: str, timeout: float | None = None) -> str: ...


class EslCallControl:
    """One node's CallControl."""

    def __init__(self, client: Connection, executions: Executions | None = None) -> None:
        self._client = client
        self._executions = executions if executions is not None else Executions()

    @property
    def node(self) -> str:
        return self._client.node_name

    @property
    def connected(self) -> bool:
        return self._client.connected

    # recordings ------------------------------------------------------------------------
    def start_recording(self, call_uuid: str, path: str, limit_s: int,
                        variables: Mapping[str, str | int | bool]) -> None:
        self._run("uuid_record start", cmd.uuid_record_start(call_uuid, path, limit_s, variables))

    def control_recording(self, call_uuid: str, action: RecordingAction, path: str) -> None:
        self._run(f"uuid_record {action.value}",
                  cmd.uuid_record(call_uuid, action.value, path))

    def play(self, call_uuid: str, media: str, leg: str = "aleg") -> None:
        self._run("uuid_broadcast", cmd.uuid_broadcast(call_uuid, media, leg))

    # calls -----------------------------------------------------------------------------
    def originate(self, request: OriginateRequest, timeout_s: float) -> Dialed:
        variables = {"origination_uuid": cmd.check_uuid(request.call_uuid),
                     **request.variables, "originate_timeout": request.timeout_s}
        command = cmd.originate(request.dial_string, request.application, variables)
        try:
            reply = self._client.bgapi(command, timeout=timeout_s).strip()
        except EslError as exc:
            log.warning("call %s: no originate result from node %s: %s", request.call_uuid,
                        self.node, exc)
            raise _unavailable(exc, "originate") from exc
        if not reply.startswith("-"):
            return Dialed(request.call_uuid)
        return Dialed(request.call_uuid, cause_of(reply))

    def hangup(self, call_uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        self._run("uuid_kill", cmd.uuid_kill(call_uuid, cause))

    def transfer(self, call_uuid: str, extension: str, dialplan: str = "XML",
                 context: str = "default") -> None:
        self._run("uuid_transfer", cmd.uuid_transfer(call_uuid, extension, dialplan, context))

    def execute(self, call_uuid: str, app: str, arg: str | None = None,
                timeout: float = EXECUTE_TIMEOUT_S) -> str:
        """sendmsg execute with event-lock, then the CHANNEL_EXECUTE_COMPLETE whose
        Application-UUID is the Event-UUID sent (esl.ingest hands it to `executions`)."""
        app_uuid = str(uuid.uuid4())
        message = cmd.sendmsg_execute(call_uuid, app, arg, app_uuid)
        done = self._executions.expect(call_uuid, app_uuid, self.node)
        try:
            reply = self._send(app, message, self._client.message)
            refused(reply, app, call_uuid)
            try:
                return str(done.get(timeout=timeout))
            except gevent.Timeout:
                raise ControlTimeout(f"{app} on call {call_uuid} did not end within "
                                     f"{timeout:g} s") from None
        finally:
            self._executions.forget(app_uuid)

    # queries ---------------------------------------------------------------------------
    def variables(self, call_uuid: str, names: Sequence[str]) -> dict[str, str]:
        values = {}
        for name in names:
            reply = self._ask("uuid_getvar", cmd.uuid_getvar(call_uuid, name)).strip()
            refused(reply, "uuid_getvar", call_uuid)
            values[name] = "" if reply == "_undef_" else reply
        return values

    def set_variables(self, call_uuid: str, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            self._run("uuid_setvar", cmd.uuid_setvar(call_uuid, name, value))

    def live_calls(self) -> list[LiveCall]:
        """`show channels` reads FreeSWITCH's core database, which its SQL thread updates
        behind the sessions: a channel destroyed a moment ago (its hangup gone out before
        this connection subscribed) is still listed, and one whose recording began during
        its hangup stays listed for good. Only the rows `uuid_exists` confirms are live;
        the checks go out together, as a reconnect may find thousands of calls."""
        rows = channel_rows(self._ask("show channels", cmd.show_channels_json()))
        exists = gevent.pool.Pool(EXISTS_CHECKS).imap(lambda row: self.call_exists(row.uuid),
                                                      rows)
        return [row for row, alive in zip(rows, exists, strict=True) if alive]

    def call_exists(self, call_uuid: str) -> bool:
        return self._ask("uuid_exists", cmd.uuid_exists(call_uuid)).strip() == "true"

    def is_recording(self, call_uuid: str, path: str) -> bool:
        """A gone call records nothing: its -ERR answers False."""
        buglist = self._ask("uuid_buglist", cmd.uuid_buglist(call_uuid))
        return f"<target>{cmd.check_path(path)}</target>" in buglist

    # helpers ---------------------------------------------------------------------------
    def _run(self, action: str, command: str) -> None:
        reply = self._send(action, command, self._client.api)
        refused(reply, action, command.split(" ", 2)[1])

    def _ask(self, action: str, command: str) -> str:
        return self._send(action, command, self._client.api)

    def _send(self, action: str, command: str, send: Callable[[str], str]) -> str:
        try:
            return send(command)
        except EslError as exc:
            raise _unavailable(exc, action) from exc


def refused(reply: str, action: str, call_uuid: str) -> None:
    """Raise the error a `-ERR ...` / `-USAGE ...` reply stands for (nothing for +OK)."""
    text = reply.strip()
    if not text.startswith("-"):
        return
    if any(words in text.lower() for words in _GONE):
        raise CallGone(f"call {call_uuid} is gone")
    raise CommandRefused(action, text.removeprefix("-ERR").strip() or text)


def cause_of(reply: str) -> str:
    """`-ERR NO_ANSWER` -> NO_ANSWER (FreeSWITCH's hangup cause name)."""
    words = reply.strip().split()
    cause = words[1] if len(words) > 1 and words[0] == "-ERR" else UNKNOWN_CAUSE
    return cause if _CAUSE.fullmatch(cause) else UNKNOWN_CAUSE


def channel_rows(reply: str) -> list[LiveCall]:
    """`show channels as json`: {"row_count": N, "rows": [...]}, or {"row_count": 0}."""
    try:
        doc = json.loads(reply or "{}")
    except ValueError:
        raise CommandRefused("show channels", reply.strip()[:200]) from None
    rows = doc.get("rows") or [] if isinstance(doc, dict) else []
    return [LiveCall(uuid=row["uuid"], direction=row.get("direction", ""),
                     answered=row.get("callstate") == "ACTIVE",
                     caller=row.get("cid_num", ""), destination=row.get("dest", ""),
                     application=row.get("application", ""))
            for row in rows if isinstance(row, dict) and row.get("uuid")]


def _unavailable(exc: EslError, action: str) -> ControlUnavailable | ControlTimeout:
    if isinstance(exc, EslTimeout):
        return ControlTimeout(f"FreeSWITCH did not answer {action} in time")
    if isinstance(exc, EslLinkLost):
        return ControlLost(f"the connection to FreeSWITCH dropped before it answered {action}")
    return ControlUnavailable(f"FreeSWITCH is not connected ({exc})")
