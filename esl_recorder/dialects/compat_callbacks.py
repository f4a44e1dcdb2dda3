"""The status callbacks of the LaML and TeXML dialects: which state change is which
RecordingStatusCallbackEvent, and the request that carries it."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..delivery.outbox import OutboundRequest
from ..domain.recording import Recording, State

FORM = "application/x-www-form-urlencoded"


def callback_event(rec: Recording, previous: State) -> str | None:
    """Which RecordingStatusCallbackEvent a state change is, if any."""
    if rec.state is State.IN_PROGRESS and previous is State.QUEUED:
        return "in-progress"
    if rec.state is State.COMPLETED:
        return "completed"
    if rec.state in (State.ABSENT, State.FAILED) and previous is not rec.state:
        return "absent"
    return None


def outbound(url: str, method: str, fields: list[tuple[str, str]],
             sign: Callable[[str, list[tuple[str, str]]], dict[str, str]],
             signer: str = "") -> OutboundRequest:
    """The callback request: GET puts the fields in the query (signed as the full URL),
    POST in a form body (signed as URL + fields). Credentials in the URL (`user:pw@`) go
    out as Basic auth, so the URL the receiver sees, and checks, is the one without them.
    `signer` names a signature made at each attempt instead (see delivery.signing)."""
    parts = urlsplit(url)
    if method == "GET":
        query = "&".join(q for q in (parts.query, urlencode(fields)) if q)
        full = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
        return OutboundRequest("GET", full, sign(_without_credentials(full), []),
                               signer=signer)
    return OutboundRequest("POST", url, {"Content-Type": FORM,
                                         **sign(_without_credentials(url), fields)},
                           urlencode(fields), signer=signer)


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
