"""Callback targets refused at request time, in each dialect's error shape, with nothing
stored and nothing sent to FreeSWITCH; and LaML under both of SignalWire's prefixes.

The daemon here has an empty `delivery.allowed_networks` (the suite's default allows
loopback for its receivers). No packet goes anywhere: the refusals happen before any
delivery is queued."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import ACCOUNTS, ACME_LAML, ACME_TEXML, Api, DaemonFactory, basic
from .test_bandwidth import ACME, USERS

REFUSED = ["http://127.0.0.1:8021/cb", "http://localhost/cb", "http://[::1]:80/cb",
           "http://0x7f000001/cb", "http://2130706433/cb",
           "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/cb"]
LAML_AUTH = {"Authorization": basic(*ACME_LAML)}
TEXML_AUTH = {"Authorization": f"Bearer {ACME_TEXML[1]}"}


@pytest.fixture
def closed(daemon_factory: DaemonFactory, switch: FakeSwitch) -> Iterator[Api]:
    daemon = daemon_factory(
        accounts=ACCOUNTS, delivery={"allowed_networks": []},
        bandwidth={"dial_string": "loopback/{to}/rectest", "application": "&park()"})
    assert daemon.app.clients["fs1"].wait_connected(5)
    assert daemon.app.http is not None
    with requests.Session() as http:
        yield Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)


@pytest.mark.parametrize("url", REFUSED)
def test_laml_refuses_the_callback_target(closed: Api, url: str) -> None:
    uuid = closed.call()
    r = closed.request("POST", f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}/Calls/{uuid}"
                       "/Recordings.json", data={"RecordingStatusCallback": url},
                       headers=LAML_AUTH)
    assert r.status_code == 400, r.text
    doc = r.json()
    assert (doc["code"], doc["status"]) == (70002, 400)
    assert "RecordingStatusCallback" in doc["message"]
    assert closed.daemon.service.list("acme", call_uuid=uuid) == []
    assert not [c for c in closed.switch.commands if c.startswith("uuid_record")]


@pytest.mark.parametrize("url", REFUSED)
def test_texml_refuses_the_callback_target(closed: Api, url: str) -> None:
    uuid = closed.call()
    r = closed.request("POST", f"/v2/texml/Accounts/{ACME_TEXML[0]}/Calls/{uuid}"
                       "/Recordings.json", data={"RecordingStatusCallback": url},
                       headers=TEXML_AUTH)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["code"] == "10015"
    assert closed.daemon.service.list("acme", call_uuid=uuid) == []
    assert not [c for c in closed.switch.commands if c.startswith("uuid_record")]


@pytest.mark.parametrize("field", ["callbackUrl", "fallbackUrl"])
@pytest.mark.parametrize("url", REFUSED)
def test_bandwidth_refuses_the_callback_target(closed: Api, url: str, field: str) -> None:
    r = closed.request("POST", f"{USERS}/calls", headers=ACME,
                       json={"from": "+15551230001", "to": "tone_b", field: url})
    assert r.status_code == 400, r.text
    doc = r.json()
    assert (doc["category"], doc["code"]) == ("bad-request", "invalid-request")
    assert doc["message"].startswith(field)
    assert closed.daemon.app.store.list_calls(account="acme", source="bandwidth") == []
    assert not [c for c in closed.switch.commands if c.startswith("originate")]


def test_a_public_callback_target_is_accepted(closed: Api) -> None:
    uuid = closed.call()
    r = closed.request("POST", f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}/Calls/{uuid}"
                       "/Recordings.json", data={"RecordingStatusCallback":
                                                 "https://hooks.example.com/cb"},
                       headers=LAML_AUTH)
    assert r.status_code == 200, r.text


# --- LaML under both prefixes -----------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api/laml/2010-04-01", "/2010-04-01"])
def test_laml_serves_both_prefixes(api: Api, prefix: str) -> None:
    uuid = api.call()
    base = f"{prefix}/Accounts/{ACME_LAML[0]}"
    r = api.request("POST", f"{base}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH)
    assert r.status_code == 200, r.text
    sid = r.json()["sid"]
    listed = api.request("GET", f"{base}/Recordings.json", headers=LAML_AUTH).json()
    assert [x["sid"] for x in listed["recordings"]] == [sid]
    assert api.request("GET", f"{base}/Recordings/{sid}.json",
                       headers=LAML_AUTH).json()["sid"] == sid


@pytest.mark.parametrize("path", [
    "/2010-04-01/Accounts/x/Nothing", "/2010-04-01/nope", "/api/laml/2010-04-01/nope",
    f"/2010-04-01/Accounts/{ACME_LAML[0]}/Calls", "/api/laml",
    f"/api/laml/2010-04-02/Accounts/{ACME_LAML[0]}/Recordings.json"])
def test_unknown_laml_paths_answer_in_lamls_error_shape(api: Api, path: str) -> None:
    r = api.request("GET", path, headers=LAML_AUTH)
    assert r.status_code == 404
    doc = r.json()
    assert set(doc) == {"code", "message", "more_info", "status"}
    assert (doc["code"], doc["status"]) == (20404, 404)


def test_the_daemons_own_ports_are_refused_although_loopback_is_allowed(
        daemon_factory: DaemonFactory, switch: FakeSwitch) -> None:
    """Loopback allowed (a receiver on the same host), the daemon's own listeners are not:
    the API's port picked at start (`http.port: 0`), the metrics port, the event socket."""
    with socket.socket() as probe:  # a free port for http.metrics_port
        probe.bind(("127.0.0.1", 0))
        metrics_port = probe.getsockname()[1]
    daemon = daemon_factory(accounts=ACCOUNTS, http={"metrics_port": metrics_port})
    assert daemon.app.clients["fs1"].wait_connected(5) and daemon.app.http is not None
    with requests.Session() as http:
        api = Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)
        uuid = api.call()
        for port in (daemon.app.http.server_port, metrics_port, switch.address[1]):
            r = api.request("POST", f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}/Calls/"
                            f"{uuid}/Recordings.json", headers=LAML_AUTH,
                            data={"RecordingStatusCallback": f"http://127.0.0.1:{port}/cb"})
            assert r.status_code == 400, (port, r.text)
            assert "own endpoint" in r.json()["message"], r.text
        assert daemon.service.list("acme", call_uuid=uuid) == []
