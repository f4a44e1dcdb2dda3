"""Tenancy in every state (issue 13): another account's call or recording answers exactly
like one that does not exist while FreeSWITCH is unreachable, and after a restart before
FreeSWITCH is back (tests/api/test_bad_input.py explores the connected state at random)."""

from __future__ import annotations

import uuid as uuids

import requests
from api.conftest import ACCOUNTS, ACME_BW, ACME_LAML, ACME_TEXML, GLOBEX_LAML, Api, basic
from api.test_bad_input import _without
from daemon.conftest import DaemonFactory

from esl_recorder.domain.recording import State

from .conftest import ApiFactory

LAML = f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}"
TEXML = f"/v2/texml/Accounts/{ACME_TEXML[0]}"
BW = f"/v1/users/{ACME_BW[0]}"
AUTH = {"laml": basic(*ACME_LAML), "texml": f"Bearer {ACME_TEXML[1]}",
        "bandwidth": basic(*ACME_BW[1:])}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# (dialect, method, path with {call} and/or {sid}, body)
REQUESTS = [
    ("laml", "GET", LAML + "/Recordings/{sid}.json", ""),
    ("laml", "DELETE", LAML + "/Recordings/{sid}.json", ""),
    ("laml", "GET", LAML + "/Calls/{call}/Recordings.json", ""),
    ("laml", "POST", LAML + "/Calls/{call}/Recordings.json", "RecordingChannels=dual"),
    ("laml", "POST", LAML + "/Calls/{call}/Recordings/{sid}.json", "Status=paused"),
    ("texml", "GET", TEXML + "/Recordings/{sid}.json", ""),
    ("texml", "POST", TEXML + "/Calls/{call}/Recordings.json", ""),
    ("bandwidth", "GET", BW + "/calls/{call}", ""),
    ("bandwidth", "GET", BW + "/calls/{call}/recordings", ""),
]


def foreign_world(api: Api) -> tuple[str, str]:
    """Globex's live call with a recording in progress."""
    call = api.call("globex")
    r = api.request("POST", f"/api/laml/2010-04-01/Accounts/{GLOBEX_LAML[0]}/Calls/{call}/"
                    "Recordings.json", auth=GLOBEX_LAML)
    assert r.status_code == 200, r.text
    api.daemon.wait_state(r.json()["sid"], State.IN_PROGRESS)
    return call, r.json()["sid"]


def assert_foreign_is_missing(url: str, call: str, sid: str) -> None:
    unknown_call, unknown_sid = str(uuids.uuid4()), "RE" + uuids.uuid4().hex
    for dialect, method, path, body in REQUESTS:
        def ask(c: str, s: str, dialect: str = dialect, method: str = method,
                path: str = path, body: str = body) -> requests.Response:
            return requests.request(method, url + path.format(call=c, sid=s), data=body,
                                    headers={"Authorization": AUTH[dialect], **FORM},
                                    timeout=10)

        seen, missing = ask(call, sid), ask(unknown_call, unknown_sid)
        assert seen.status_code == missing.status_code, (path, seen.text, missing.text)
        shown = _without(_without(seen.content, sid), call)
        expected = _without(_without(missing.content, unknown_sid), unknown_call)
        assert shown == expected, (method, path, seen.text, missing.text)


def test_foreign_ids_answer_like_missing_ones_while_freeswitch_is_down_and_after_a_restart(
        make_api: ApiFactory, daemon_factory: DaemonFactory) -> None:
    api = make_api()
    call, sid = foreign_world(api)
    api.switch.stop()
    client = api.daemon.app.clients["fs1"]
    api.daemon.wait_until(lambda: not client.connected, what="the node seen down")
    assert_foreign_is_missing(api.url, call, sid)

    api.daemon.stop()  # a restart with FreeSWITCH still down: nothing resynced yet
    again = daemon_factory(accounts=ACCOUNTS)
    assert again.app.http is not None and not again.app.clients["fs1"].connected
    assert_foreign_is_missing(f"http://127.0.0.1:{again.app.http.server_port}", call, sid)
