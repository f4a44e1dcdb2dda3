"""POST /api/swml/calls/{call_id}: an account runs a SWML document it sends on its live call
(scripts.run_endpoint), over the daemon's real HTTP port, against the simulator."""

from __future__ import annotations

import copy
import json
import logging

import pytest
import requests
from api.conftest import ACME_LAML, GLOBEX_LAML, basic

from .conftest import Scripted, ScriptedFactory
from .swml_support import states, status_events

SAY = {"version": "1.0.0", "sections": {"main": [
    {"record_call": {"control_id": "api"}}, {"play": {"urls": ["say:hello", "silence:1"]}}]}}


def post(sim: Scripted, call: str, body: str, content_type: str = "application/json",
         auth: tuple[str, str] = ACME_LAML) -> requests.Response:
    port = sim.daemon.app.http.server_port  # type: ignore[union-attr]
    return requests.post(f"http://127.0.0.1:{port}/api/swml/calls/{call}", data=body,
                         headers={"Authorization": basic(*auth),
                                  "Content-Type": content_type}, timeout=10)


@pytest.fixture
def sim(scripted_factory: ScriptedFactory) -> Scripted:
    return scripted_factory({}, run_endpoint=True)


def parked(sim: Scripted) -> str:
    """A call of acme's idle in park (no script of the configuration names it)."""
    b = sim.switch.park_for_script("tone_a", {"esl_recorder_account_id": "acme"})
    sim.daemon.wait_call(b, answered=False)
    return b


def test_a_document_sent_runs_on_the_call(sim: Scripted) -> None:
    doc = copy.deepcopy(SAY)
    doc["sections"]["main"][0]["record_call"]["status_url"] = sim.receiver.url("/status")
    b = parked(sim)
    answer = post(sim, b, json.dumps(doc))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["id"] == b and body["session_id"]
    sim.run(b)
    assert [(app, arg) for app, arg, _ in sim.applications(b)] == [
        ("answer", ""), ("speak", "flite|kal|hello"), ("playback", "silence_stream://1000"),
        ("hangup", "NORMAL_CLEARING")]
    events = status_events(sim.receiver.wait(2))
    assert states(events) == ["recording", "finished"]
    assert {e["event_channel"] for e in events} == {f"swml:{body['session_id']}"}
    [rec] = sim.recordings(b)
    assert rec.control_id == "api" and rec.account == "acme" and rec.source == "swml"


def test_yaml_is_accepted(sim: Scripted) -> None:
    b = parked(sim)
    answer = post(sim, b, "version: 1.0.0\nsections:\n  main:\n    - hangup\n",
                  "application/yaml")
    assert answer.status_code == 202, answer.text
    sim.run(b)
    assert [a[0] for a in sim.applications(b)] == ["hangup"]


@pytest.mark.parametrize("body,content_type,status,message", [
    ('{"version": "1.0.0", "sections": {"main": [{"dance": {}}]}}', "application/json", 422,
     "SWML sections.main[0]: unknown or unsupported verb 'dance'"),
    ("sections: [", "application/yaml", 422, "not valid YAML"),
    ("<swml/>", "text/xml", 400, "unsupported Content-Type"),
])
def test_a_wrong_document_is_refused_before_anything_runs(
        sim: Scripted, body: str, content_type: str, status: int, message: str) -> None:
    b = parked(sim)
    answer = post(sim, b, body, content_type)
    assert answer.status_code == status, answer.text
    [error] = answer.json()["errors"]
    assert message in error["message"]
    assert sim.daemon.app.scripts is not None and sim.daemon.app.scripts.running == 0


def test_another_accounts_call_is_not_found(sim: Scripted) -> None:
    b = parked(sim)
    answer = post(sim, b, json.dumps(SAY), auth=GLOBEX_LAML)
    assert answer.status_code == 404
    assert post(sim, "no-such-call", json.dumps(SAY)).status_code == 404
    assert post(sim, b, json.dumps(SAY), auth=(ACME_LAML[0], "wrong")).status_code == 401


def test_one_script_at_a_time(sim: Scripted) -> None:
    b = parked(sim)
    long = {"version": "1.0.0", "sections": {"main": [{"play": {"url": "silence:5"}}]}}
    assert post(sim, b, json.dumps(long)).status_code == 202
    again = post(sim, b, json.dumps(long))
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "invalid_state"
    sim.run(b)


def test_a_sent_document_cannot_play_local_files(
        sim: Scripted, caplog: pytest.LogCaptureFixture) -> None:
    b = parked(sim)
    doc = {"version": "1.0.0", "sections": {"main": [{"play": {"url": "/etc/secret.wav"}}]}}
    assert post(sim, b, json.dumps(doc)).status_code == 202
    sim.run(b)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(b in e and "cannot play local files" in e for e in errors), errors
    assert [a[0] for a in sim.applications(b)] == ["hangup"]


def test_off_unless_configured(scripted_factory: ScriptedFactory) -> None:
    sim = scripted_factory({"x": "version: 1.0.0"})
    b = parked(sim)
    answer = post(sim, b, json.dumps(SAY))
    assert answer.status_code == 404
    assert "scripts.run_endpoint" in answer.json()["errors"][0]["message"]
