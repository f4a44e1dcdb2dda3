"""What the LaML, TeXML and Twilio SDK tests share: paths, credentials, waiting helpers."""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from daemon.test_recording_options import expected_start, start_commands

from esl_recorder.domain.recording import Recording, State

from .conftest import ACME_LAML, ACME_TEXML, GLOBEX_LAML, Api, basic

__all__ = ["expected_start", "start_commands"]

LAML = f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}"
GLOBEX = f"/api/laml/2010-04-01/Accounts/{GLOBEX_LAML[0]}"
TEXML = f"/v2/texml/Accounts/{ACME_TEXML[0]}"
LAML_AUTH = {"Authorization": basic(*ACME_LAML)}
GLOBEX_AUTH = {"Authorization": basic(*GLOBEX_LAML)}
TEXML_AUTH = {"Authorization": f"Bearer {ACME_TEXML[1]}"}
RFC2822 = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000")
OTHER_SID = "RE" + "0" * 32  # well-formed, never issued


def recording(api: Api, sid: str) -> Recording:
    return api.daemon.service.get(sid)


def finish(api: Api, uuid: str, seconds: float = 2.0) -> None:
    """`seconds` of call audio, then a hangup ends every recording of the call."""
    api.switch.advance(seconds)
    api.switch.hangup(uuid)


def wait_done(api: Api, sid: str) -> Recording:
    return api.daemon.wait_state(sid, State.COMPLETED, State.ABSENT, State.FAILED)


def assert_time(text: str | None, near: float) -> None:
    """An RFC 2822 UTC time within a second of `near` (epoch seconds)."""
    assert text is not None and RFC2822.fullmatch(text), text
    assert abs(parsedate_to_datetime(text).timestamp() - near) <= 1.0, (text, near)


def days_from_now(days: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + days * 86400))


def json_of(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    doc = response.json()
    assert isinstance(doc, dict)
    return doc
