"""Tenancy in every state (issue 13): another account's call or recording answers exactly
like one that does not exist while FreeSWITCH is unreachable, and after a restart before
FreeSWITCH is back (tests/api/test_bad_input.py explores the connected state at random)."""

from __future__ import annotations

import json
import uuid as uuids

import requests
from api.conftest import ACCOUNTS, ACME_BW, ACME_LAML, ACME_TEXML, GLOBEX_LAML, Api, basic
from api.test_bad_input import _without
from daemon.conftest import DaemonFactory

from esl_recorder.domain.recording import State
from esl_recorder.testing.fakeswitch import FakeSwitch

LAML = f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}"
TEXML = f"/v2/texml/Accounts/{ACME_TEXML[0]}"
BW = f"/v1/users/{ACME_BW[0]}"
KAZOO = f"/v2/accounts/{ACCOUNTS[0]['kazoo_account_id']}"
AUTH = {"laml": basic(*ACME_LAML), "texml": f"Bearer {ACME_TEXML[1]}",
        "bandwidth": basic(*ACME_BW[1:]), "calling": basic(*ACME_LAML),
        "swml": basic(*ACME_LAML), "kazoo": f"Bearer {ACCOUNTS[0]['kazoo_auth_token']}"}
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
SCRIPTS = {"run_endpoint": True}  # POST /api/swml/calls/{call}
SWML = json.dumps({"version": "1.0.0", "sections": {"main": [{"record_call": {}}]}})
# (dialect, method, path with {call} and/or {sid}, body: form, or JSON with {call})
REQUESTS = [
    ("laml", "GET", LAML + "/Recordings/{sid}.json", ""),
    ("laml", "GET", LAML + "/Recordings/{sid}.wav", ""),
    ("laml", "DELETE", LAML + "/Recordings/{sid}.json", ""),
    ("laml", "GET", LAML + "/Calls/{call}/Recordings.json", ""),
    ("laml", "POST", LAML + "/Calls/{call}/Recordings.json", "RecordingChannels=dual"),
    ("laml", "GET", LAML + "/Calls/{call}/Recordings/{sid}.json", ""),
    ("laml", "POST", LAML + "/Calls/{call}/Recordings/{sid}.json", "Status=paused"),
    ("laml", "DELETE", LAML + "/Calls/{call}/Recordings/{sid}.json", ""),
    ("texml", "GET", TEXML + "/Recordings/{sid}.json", ""),
    ("texml", "GET", TEXML + "/Calls/{call}/Recordings.json", ""),
    ("texml", "POST", TEXML + "/Calls/{call}/Recordings.json", ""),
    ("texml", "POST", TEXML + "/Calls/{call}/Recordings/{sid}.json", "Status=stopped"),
    ("bandwidth", "GET", BW + "/calls/{call}", ""),
    ("bandwidth", "POST", BW + "/calls/{call}", '{"recordingEnabled": true}'),
    ("bandwidth", "GET", BW + "/calls/{call}/recordings", ""),
    ("bandwidth", "GET", BW + "/calls/{call}/events", ""),
    ("bandwidth", "GET", BW + "/recordings/{sid}", ""),
    ("bandwidth", "GET", BW + "/media/{sid}.wav", ""),
    ("calling", "POST", "/api/calling/calls",
     '{"command": "calling.record", "id": "{call}", "params": {}}'),
    ("calling", "POST", "/api/calling/calls",
     '{"command": "calling.record.stop", "id": "{call}", "params": {"control_id": "x"}}'),
    ("swml", "POST", "/api/swml/calls/{call}", SWML),
    ("kazoo", "GET", KAZOO + "/recordings/{sid}", ""),
    ("kazoo", "DELETE", KAZOO + "/recordings/{sid}", ""),
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
            if dialect in ("bandwidth", "kazoo"):  # ids in the spelling the dialect uses
                s = "rec-" + s[2:]
            return requests.request(
                method, url + path.format(call=c, sid=s), data=body.replace("{call}", c),
                headers={"Authorization": AUTH[dialect],
                         "Content-Type": JSON if body.startswith("{") else FORM}, timeout=10)

        seen, missing = ask(call, sid), ask(unknown_call, unknown_sid)
        assert seen.status_code == missing.status_code, (path, seen.text, missing.text)
        shown = _without(_without(seen.content, sid), call)
        expected = _without(_without(missing.content, unknown_sid), unknown_call)
        assert shown == expected, (method, path, seen.text, missing.text)


def test_foreign_ids_answer_like_missing_ones_while_freeswitch_is_down_and_after_a_restart(
        daemon_factory: DaemonFactory, switch: FakeSwitch) -> None:
    daemon = daemon_factory(accounts=ACCOUNTS, scripts=SCRIPTS)
    assert daemon.app.clients["fs1"].wait_connected(5) and daemon.app.http is not None
    with requests.Session() as http:
        api = Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)
        call, sid = foreign_world(api)
    api.switch.stop()
    client = api.daemon.app.clients["fs1"]
    api.daemon.wait_until(lambda: not client.connected, what="the node seen down")
    assert_foreign_is_missing(api.url, call, sid)

    api.daemon.stop()  # a restart with FreeSWITCH still down: nothing resynced yet
    again = daemon_factory(accounts=ACCOUNTS, scripts=SCRIPTS)
    assert again.app.http is not None and not again.app.clients["fs1"].connected
    assert_foreign_is_missing(f"http://127.0.0.1:{again.app.http.server_port}", call, sid)
