"""The `bridge` application (sendmsg execute) for a call script: `bridge loopback/<ext>/rectest`
makes a loopback pair (C = `loopback/<ext>-a`, bridged with the scripted channel; D =
`loopback/<ext>-b`, running <ext>), as events_bridge_call.txt shows for B1: CHANNEL_CREATE of
C and D, D's `set`, both answered, then CHANNEL_BRIDGE of the scripted channel. The
application runs until the call hangs up (the new legs belong to the call and end with it).
An extension that does not exist answers like FreeSWITCH's failed bridge: the application
completes at once with `NO_ROUTE_DESTINATION`.
"""

from __future__ import annotations

import re

from esl_recorder.testing.fakeswitch import apps, dialplan
from esl_recorder.testing.fakeswitch.channels import EXTENSIONS, Channel
from esl_recorder.testing.fakeswitch.core import SwitchCore

_TARGET = re.compile(r"^(?:\{[^}]*\})?loopback/(?P<ext>[^/]+)/rectest$")


def bridge(core: SwitchCore, ch: Channel, run: apps.AppRun) -> bool:
    match = _TARGET.match(run.msg.arg.strip())
    ext = match.group("ext") if match else ""
    if ext not in EXTENSIONS:
        ch.variables["current_application_response"] = "NO_ROUTE_DESTINATION"
        return False
    c, d = dialplan._pair(core, ch.call, ext, f"bridged_{ext}_", "park")
    core.emit(c, "CHANNEL_CREATE")
    core.emit(d, "CHANNEL_CREATE")
    core.emit(d, "CHANNEL_EXECUTE_COMPLETE", "set")
    dialplan._answer(core, c)
    dialplan._answer(core, d)
    core.emit(d, "CHANNEL_EXECUTE_COMPLETE", "answer")
    dialplan.bridge(core, ch, c)
    return True  # bridged until the hangup


apps.APPS.setdefault("bridge", bridge)
