"""Running one application on a call (CallControl.execute): the sendmsg it sends, the
Application-Response it returns, CallGone when the call is gone or hangs up first. Against the
simulator over a real socket."""

from __future__ import annotations

import gevent
import pytest

from esl_recorder.domain.ports import CallGone
from esl_recorder.errors import InvalidArgument
from esl_recorder.esl import commands

from .conftest import ScriptedFactory

IDLE = "version: 1.0.0\nsections:\n  main: []\n"


def test_sendmsg_is_the_captured_form() -> None:
    assert commands.sendmsg_execute("b-uuid", "playback", "silence_stream://1000", "e-1") == (
        "sendmsg b-uuid\ncall-command: execute\nexecute-app-name: playback\n"
        "execute-app-arg: silence_stream://1000\nevent-lock: true\nEvent-UUID: e-1")
    assert commands.sendmsg_execute("b-uuid", "answer", None, "e-2") == (
        "sendmsg b-uuid\ncall-command: execute\nexecute-app-name: answer\n"
        "event-lock: true\nEvent-UUID: e-2")


@pytest.mark.parametrize("app,arg", [
    ("playback", "a.wav\nexecute-app-name: system"),  # a header forged by a line break
    ("playback", "x\r"), ("play back", "x"), ("Playback", "x"), ("speak", " padded"),
    ("speak", "x" * 2049)])
def test_unsafe_applications_and_arguments_are_refused(app: str, arg: str) -> None:
    with pytest.raises(InvalidArgument):
        commands.sendmsg_execute("b-uuid", app, arg, "e-1")


def test_execute_returns_the_application_response(scripted_factory: ScriptedFactory) -> None:
    sim = scripted_factory({"idle": IDLE})
    b = sim.switch.park_for_script("&park")  # no script of ours runs on it (no variable)
    sim.daemon.wait_call(b, answered=False)
    control = sim.daemon.app.controls["fs1"]
    answer = gevent.spawn(control.execute, b, "answer")
    sim.run(b, until=lambda: answer.ready())
    assert answer.get() == "_none_"
    missing = gevent.spawn(control.execute, b, "playback", "/no/such/file.wav")
    sim.run(b, until=lambda: missing.ready())
    assert missing.get() == "FILE NOT FOUND"
    played = gevent.spawn(control.execute, b, "playback", "silence_stream://500")
    sim.run(b, until=lambda: played.ready())
    assert played.get() == "FILE PLAYED"
    cut = gevent.spawn(control.execute, b, "playback", "silence_stream://10000")
    sim.run(b, until=lambda: ("playback", "silence_stream://10000") in sim.running(b))
    sim.switch.hangup(b)
    with pytest.raises(CallGone):
        cut.get(timeout=5)
    with pytest.raises(CallGone):  # -ERR invalid session id
        control.execute(b, "answer", timeout=5)
