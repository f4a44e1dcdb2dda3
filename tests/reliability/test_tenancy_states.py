"""Item 7 of issue 13: another account's call or recording is answered exactly like a
missing one in every state: FreeSWITCH up, FreeSWITCH unreachable, and a restarted daemon
that has not resynced yet (FreeSWITCH still unreachable), in each dialect."""

from __future__ import annotations

import json
import uuid as uuid_module
from collections.abc import Callable

import pytest
import requests
from api.compat_helpers import GLOBEX, GLOBEX_AUTH, LAML, LAML_AUTH, OTHER_SID, TEXML, TEXML_AUTH
from api.conftest import ACCOUNTS, Api, basic
from daemon.conftest import Daemon, DaemonFactory

from esl_recorder.testing.fakeswitch import FakeSwitch

GLOBEX_TEXML = f"/v2/texml/Accounts/{ACCOUNTS[1]['texml_account_sid']}"
GLOBEX_TEXML_AUTH = {"Authorization": f"Bearer {ACCOUNTS[1]['texml_api_key']}"}
GLOBEX_BW = {"Authorization": basic("t-globex", "s-gx")}
MISSING_CALL = "0b2ec0de-0000-4000-8000-000000000000"
STATES = ["up", "freeswitch-down", "restarted-before-resync", "resynced-then-down"]

Probe = tuple[str, str, dict[str, str], dict[str, str]]  # method, path, headers, form


def probes(dialect: str, call: str, sid: str) -> list[Probe]:
    """Requests globex makes about `call` and `sid` (acme's, or missing ones)."""
    if dialect == "laml":
        return [("POST", f"{GLOBEX}/Calls/{call}/Recordings.json", GLOBEX_AUTH, {}),
                ("GET", f"{GLOBEX}/Calls/{call}/Recordings.json", GLOBEX_AUTH, {}),
                ("GET", f"{GLOBEX}/Recordings/{sid}.json", GLOBEX_AUTH, {}),
                ("POST", f"{GLOBEX}/Calls/{call}/Recordings/{sid}.json", GLOBEX_AUTH,
                 {"Status": "stopped"}),
                ("DELETE", f"{GLOBEX}/Recordings/{sid}.json", GLOBEX_AUTH, {})]
    if dialect == "texml":
        return [("POST", f"{GLOBEX_TEXML}/Calls/{call}/Recordings.json", GLOBEX_TEXML_AUTH, {}),
                ("GET", f"{GLOBEX_TEXML}/Recordings/{sid}.json", GLOBEX_TEXML_AUTH, {}),
                ("POST", f"{GLOBEX_TEXML}/Calls/{call}/Recordings/{sid}.json",
                 GLOBEX_TEXML_AUTH, {"Status": "stopped"})]
    bw_sid = "rec-" + sid[2:]
    return [("GET", f"/v1/users/u-globex/calls/{call}", GLOBEX_BW, {}),
            ("POST", f"/v1/users/u-globex/calls/{call}", GLOBEX_BW, {}),
            ("GET", f"/v1/users/u-globex/calls/{call}/recordings", GLOBEX_BW, {}),
            ("GET", f"/v1/users/u-globex/recordings/{bw_sid}", GLOBEX_BW, {})]


def answer(http: requests.Session, url: str, probe: Probe, *ids: str) -> tuple[int, object]:
    method, path, headers, form = probe
    if method == "POST" and path.startswith("/v1/"):
        r = http.request(method, url + path, headers=headers, timeout=10,
                         json={"recordingEnabled": True})
    else:
        r = http.request(method, url + path, headers=headers, data=form, timeout=10)
    text = r.text
    for i, value in enumerate(ids):
        text = text.replace(value, f"<id{i}>").replace(value[2:], f"<id{i}>")
    return r.status_code, json.loads(text) if text else None


def shown(dialect: str, sid: str) -> str:
    """The recording id as the dialect shows it."""
    return str(uuid_module.UUID(sid[2:])) if dialect == "texml" else sid


def acme_recording(api: Api, dialect: str) -> tuple[str, str]:
    call = api.call("acme")
    path, auth = (f"{LAML}/Calls/{call}/Recordings.json", LAML_AUTH) if dialect != "texml" \
        else (f"{TEXML}/Calls/{call}/Recordings.json", TEXML_AUTH)
    r = api.request("POST", path, headers=auth)
    assert r.status_code == 200, r.text
    sid = r.json()["sid"]
    if dialect == "texml":
        sid = "RE" + uuid_module.UUID(sid).hex
    return call, sid


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("dialect", ["laml", "texml", "bandwidth"])
def test_foreign_is_answered_like_missing_in_every_state(
        api: Api, daemon_factory: DaemonFactory, switch: FakeSwitch, dialect: str,
        state: str) -> None:
    call, sid = acme_recording(api, dialect)
    bare = api.call("acme")  # no recording: after a restart only `show channels` knows it
    daemon: Daemon = api.daemon
    if state == "resynced-then-down":  # calls learned from `show channels`, not yet asked
        daemon.stop()
        daemon = daemon_factory(accounts=ACCOUNTS)
        assert daemon.app.clients["fs1"].wait_connected(5)
        daemon.wait_call(bare)
    if state != "up":
        switch.stop()
        daemon.wait_until(lambda: not daemon.app.clients["fs1"].connected,
                          what="the daemon to see FreeSWITCH gone")
    if state == "restarted-before-resync":  # FreeSWITCH still gone: never resynced
        daemon.stop()
        daemon = daemon_factory(accounts=ACCOUNTS)
    assert daemon.app.http is not None
    url = f"http://127.0.0.1:{daemon.app.http.server_port}"
    ask: Callable[[Probe, str, str], tuple[int, object]]
    with requests.Session() as http:
        def ask(probe: Probe, a: str, b: str) -> tuple[int, object]:
            return answer(http, url, probe, a, b)

        own, other = shown(dialect, sid), shown(dialect, OTHER_SID)
        foreign = [ask(p, call, own) for p in probes(dialect, call, own)]
        missing = [ask(p, MISSING_CALL, other) for p in probes(dialect, MISSING_CALL, other)]
        foreign += [ask(p, bare, own) for p in probes(dialect, bare, own)]
        missing += [ask(p, MISSING_CALL, other) for p in probes(dialect, MISSING_CALL, other)]
    assert foreign == missing
    assert all(status in (200, 404) for status, _ in foreign), foreign
