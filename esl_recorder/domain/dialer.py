"""Place outbound calls through FreeSWITCH (`bgapi originate`) with a caller-chosen uuid.

The A leg's uuid is ours (`origination_uuid`), so the call can be known before FreeSWITCH
answers; it carries the account channel variable, so the engine's tenancy applies to it
like to any other call. The originate result comes back when the call is answered or has
failed: it is awaited in its own greenlet, never by the API request.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import gevent

from ..errors import EslError, EslTimeout, RecordingError
from ..esl import commands as cmd
from ..metrics import Metrics
from .service import CommandChannel

log = logging.getLogger(__name__)

FailureHandler = Callable[[str, str], None]  # (call uuid, FreeSWITCH cause)
RESULT_MARGIN_S = 15.0  # beyond the answer timeout, for FreeSWITCH to report the outcome


@dataclass(frozen=True)
class DialRequest:
    """One outbound call: everything here ends up in the originate command, validated."""

    dial_string: str  # the endpoint, e.g. sofia/gateway/gw/+15551234567
    application: str  # what the answered call runs: &park() or `<ext> XML <context>`
    caller_id_number: str
    account_variable: str
    account: str
    timeout_s: int


def new_call_uuid() -> str:
    return str(uuid_module.uuid4())


@dataclass(frozen=True)
class PreparedCall:
    call_uuid: str
    node: str
    command: str
    timeout_s: float


class Dialer:
    def __init__(self, nodes: Mapping[str, CommandChannel], metrics: Metrics) -> None:
        self._nodes = nodes
        self._metrics = metrics

    def prepare(self, call_uuid: str, request: DialRequest) -> PreparedCall:
        """Build the originate and choose a connected node; nothing is sent yet.

        Raises InvalidArgument (an unsafe value) or RecordingError (no node connected)."""
        command = cmd.originate(request.dial_string, request.application, {
            "origination_uuid": cmd.check_uuid(call_uuid),
            "origination_caller_id_number": request.caller_id_number,
            request.account_variable: request.account,
            "originate_timeout": request.timeout_s,
        })
        node = next((name for name, n in self._nodes.items() if n.connected), None)
        if node is None:
            raise RecordingError("no FreeSWITCH node is connected: cannot place the call")
        return PreparedCall(call_uuid, node, command, request.timeout_s + RESULT_MARGIN_S)

    def send(self, call: PreparedCall, on_failure: FailureHandler) -> None:
        """Send it in the background; a failure (busy, no answer, node lost) is reported
        to `on_failure` with FreeSWITCH's cause."""
        gevent.spawn(self._run, call, on_failure)
        log.info("call %s: originate queued for node %s", call.call_uuid, call.node)

    def _run(self, call: PreparedCall, on_failure: FailureHandler) -> None:
        call_uuid, name = call.call_uuid, call.node
        result = "ok"
        try:
            reply = self._nodes[name].bgapi(call.command, timeout=call.timeout_s)
        except EslError as exc:
            result = "timeout" if isinstance(exc, EslTimeout) else "disconnected"
            log.warning("call %s: no originate result from node %s: %s", call_uuid, name, exc)
            reply = "-ERR RESULT_UNKNOWN"
        if cmd.is_error_reply(reply):
            result = "error" if result == "ok" else result
            cause = _cause(reply)
            log.info("call %s: originate failed on node %s: %s", call_uuid, name, cause)
            try:
                on_failure(call_uuid, cause)
            except Exception:
                log.exception("call %s: handling the failed originate failed", call_uuid)
        self._metrics.fs_commands.labels(action="originate", result=result).inc()


def _cause(reply: str) -> str:
    """`-ERR NO_ANSWER` → NO_ANSWER (FreeSWITCH's hangup cause name)."""
    words = reply.strip().split()
    cause = words[1] if len(words) > 1 and words[0] == "-ERR" else "DESTINATION_OUT_OF_ORDER"
    return cause if cause.replace("_", "").isalnum() else "DESTINATION_OUT_OF_ORDER"
