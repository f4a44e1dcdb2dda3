"""A SWML script that cannot run fails its own call alone: one ERROR line with the call's uuid
and what is wrong where, the call hung up (NORMAL_TEMPORARY_FAILURE) without being answered
when the document itself is wrong, `script_runs{outcome="failed"}` counted; other calls go on.
A hangup ends a script cleanly at whatever step it is."""

from __future__ import annotations

import logging

import pytest

from esl_recorder.domain.recording import State

from .conftest import VARIABLE, Scripted, ScriptedFactory
from .swml_support import states, status_events

FAILED = ("hangup", "NORMAL_TEMPORARY_FAILURE", "_none_")

BAD_DOCUMENTS = {
    "bad-yaml": ("version: 1.0.0\nsections:\n  main:\n    - play: {url: 'say:hi'\n",
                 "not valid YAML (line 5"),
    "bad-json": ('{"version": "1.0.0", "sections": {"main": [{"answer": {}},]}}',
                 "not valid JSON"),
    "unknown-verb": ("version: 1.0.0\nsections:\n  main:\n    - answer: {}\n    - dance: {}\n",
                     "sections.main[1]: unknown or unsupported verb 'dance'"),
    "wrong-type": ("version: 1.0.0\nsections:\n  main:\n    - record_call: {beep: 'yes'}\n",
                   "sections.main[0]: record_call.beep: Input should be a valid boolean"),
    "misspelt": ("version: 1.0.0\nsections:\n  main:\n    - record_call: {formatt: mp3}\n",
                 "record_call.formatt: Extra inputs are not permitted"),
    "no-main": ("version: 1.0.0\nsections:\n  start:\n    - answer: {}\n",
                "`sections` must be an object with a `main` section"),
    "bad-section": ("version: 1.0.0\nsections:\n  main:\n    - transfer: {dest: nowhere}\n",
                    "transfer to unknown section 'nowhere'"),
    "status-url": ("version: 1.0.0\nsections:\n  main:\n"
                   "    - record_call: {status_url: 'http://10.0.0.5/hook'}\n",
                   "record_call.status_url: address 10.0.0.5 is not public"),
    "status-url-ftp": ("version: 1.0.0\nsections:\n  main:\n"
                       "    - record_call: {status_url: 'ftp://hooks.example/x'}\n",
                       "must be an absolute http or https URL"),
    "not-a-list": ("version: 1.0.0\nsections:\n  main: {answer: {}}\n",
                   "section 'main' must be a list of steps"),
}


def failures(sim: Scripted) -> float:
    value = sim.daemon.app.prometheus.get_sample_value(
        "esl_recorder_script_runs_total", {"dialect": "swml", "outcome": "failed"})
    return value or 0.0


def error_lines(caplog: pytest.LogCaptureFixture, uuid: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.ERROR and uuid in r.getMessage()]


@pytest.mark.parametrize("name", sorted(BAD_DOCUMENTS))
def test_a_malformed_document_fails_its_call_before_answering(
        scripted_factory: ScriptedFactory, caplog: pytest.LogCaptureFixture,
        name: str) -> None:
    text, problem = BAD_DOCUMENTS[name]
    sim = scripted_factory({name: text})
    b = sim.call(name)
    sim.run(b)
    assert sim.applications(b) == [FAILED]
    [line] = error_lines(caplog, b)
    assert f"swml script {name} failed" in line and problem in line, line
    assert failures(sim) == 1
    assert sim.daemon.app.store.list_recordings(call_uuid=b) == []


def test_mp4_is_a_clear_script_error(scripted_factory: ScriptedFactory,
                                     caplog: pytest.LogCaptureFixture) -> None:
    doc = "version: 1.0.0\nsections:\n  main:\n    - record_call: {format: mp4}\n"
    sim = scripted_factory({"mp4": doc})
    b = sim.call("mp4")
    sim.run(b)
    [line] = error_lines(caplog, b)
    assert "record_call.format: mp4 cannot be produced" in line
    assert sim.applications(b) == [FAILED]


def test_a_document_url_that_times_out(scripted_factory: ScriptedFactory,
                                       caplog: pytest.LogCaptureFixture) -> None:
    sim = scripted_factory({"slow": "version: 1.0.0"})
    sim.documents.hang.add("/slow.swml")
    b = sim.call("slow")
    sim.run(b)
    [line] = error_lines(caplog, b)
    assert "document http://127.0.0.1:" in line and "no answer within 1 s" in line, line
    assert sim.applications(b) == [FAILED]
    assert sim.documents.requests["/slow.swml"] == 1


def test_a_document_larger_than_the_limit(scripted_factory: ScriptedFactory,
                                          caplog: pytest.LogCaptureFixture) -> None:
    big = "version: 1.0.0\n#" + "x" * 4096 + "\nsections: {main: [answer]}\n"
    sim = scripted_factory({"big": big}, max_document_bytes=1024)
    b = sim.call("big")
    sim.run(b)
    [line] = error_lines(caplog, b)
    assert "larger than 1024 bytes" in line
    assert sim.applications(b) == [FAILED]


def test_good_and_bad_calls_together(scripted_factory: ScriptedFactory,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """Two calls that record and three that fail, all at once: each bad one fails alone."""
    good = """version: 1.0.0
sections:
  main:
    - record_call: {status_url: '%s'}
    - play: {urls: ['silence:3']}
"""
    sim = scripted_factory({"good": "version: 1.0.0", "verb": BAD_DOCUMENTS["unknown-verb"][0],
                            "yaml": BAD_DOCUMENTS["bad-yaml"][0], "slow": "version: 1.0.0"})
    sim.documents.documents["/good.swml"] = good % sim.receiver.url("/status")
    sim.documents.hang.add("/slow.swml")
    calls = [sim.call(name) for name in ("good", "verb", "slow", "yaml", "good")]
    sim.run(*calls)
    for bad in calls[1:4]:
        assert sim.applications(bad) == [FAILED]
        assert len(error_lines(caplog, bad)) == 1
    for ok in (calls[0], calls[4]):
        assert [a[0] for a in sim.applications(ok)] == ["answer", "playback", "hangup"]
        [rec] = sim.recordings(ok)
        assert rec.state is State.COMPLETED and rec.file is not None
        assert rec.file.duration_ms == pytest.approx(3000, abs=100)
    events = status_events(sim.receiver.wait(4))
    assert sorted(e["params"]["call_id"] for e in events) == sorted([calls[0]] * 2
                                                                     + [calls[4]] * 2)
    assert states(events, events[0]["params"]["control_id"]) == ["recording", "finished"]
    assert failures(sim) == 3
    completed = sim.daemon.app.prometheus.get_sample_value(
        "esl_recorder_script_runs_total", {"dialect": "swml", "outcome": "completed"})
    assert completed == 2


def test_a_hangup_ends_the_script_at_whatever_step(scripted_factory: ScriptedFactory) -> None:
    doc = """version: 1.0.0
sections:
  main:
    - record_call: {status_url: '%s'}
    - play: {urls: ['silence:10']}
    - play: {urls: ['say:never said']}
"""
    sim = scripted_factory({"cut": "version: 1.0.0"})
    sim.documents.documents["/cut.swml"] = doc % sim.receiver.url("/status")
    b = sim.call("cut")
    sim.run(b, until=lambda: ("playback", "silence_stream://10000") in sim.running(b))
    sim.switch.advance(2.0)
    sim.switch.hangup(b)
    sim.run(b)
    assert [a[0] for a in sim.applications(b)] == ["answer", "playback"]  # cut short
    [rec] = sim.recordings(b)
    assert rec.state is State.COMPLETED and rec.file is not None
    assert states(status_events(sim.receiver.wait(2))) == ["recording", "finished"]
    hungup = sim.daemon.app.prometheus.get_sample_value(
        "esl_recorder_script_runs_total", {"dialect": "swml", "outcome": "hungup"})
    assert hungup == 1 and failures(sim) == 0


def test_a_call_parked_while_the_daemon_was_away_gets_its_script(
        scripted_factory: ScriptedFactory) -> None:
    """On reconnect, a call idle in park that names a script is picked up (its CHANNEL_PARK
    went by while no one listened)."""
    doc = "version: 1.0.0\nsections:\n  main:\n    - play: {url: 'silence:1'}\n"
    sim = scripted_factory({"later": doc})
    client = sim.daemon.app.clients["fs1"]
    client.stop()
    b = sim.switch.park_for_script("tone_a", {VARIABLE: "later"})
    other = sim.switch.park_for_script("tone_a", {VARIABLE: "not-configured"})
    client.start()
    assert client.wait_connected(5)
    sim.run(b)
    assert [(a[0], a[1]) for a in sim.applications(b)] == [
        ("answer", ""), ("playback", "silence_stream://1000"), ("hangup", "NORMAL_CLEARING")]
    assert sim.applications(other) == []  # its script is not ours: left parked
    assert sim.switch.core.locate(other) is not None
