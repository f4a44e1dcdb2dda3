"""/readyz over a real port against the simulator: ready with a per-node body, unready within
2 s of the FreeSWITCH connection dropping, ready again after the reconnect; /healthz stays
200 throughout."""

from __future__ import annotations

from typing import Any

import gevent
import requests
from daemon.conftest import Daemon

from esl_recorder.testing.fakeswitch import FakeSwitch


def url(daemon: Daemon, path: str) -> str:
    assert daemon.app.http is not None
    return f"http://127.0.0.1:{daemon.app.http.server_port}{path}"


def wait_ready(daemon: Daemon, ready: bool, within: float) -> dict[str, Any]:
    with gevent.Timeout(within, AssertionError(f"/readyz not {'ready' if ready else 'unready'} "
                                               f"within {within} s")):
        while True:
            got = requests.get(url(daemon, "/readyz"), timeout=5)
            if got.status_code == (200 if ready else 503):
                doc: dict[str, Any] = got.json()
                return doc
            gevent.sleep(0.02)


def test_readyz_follows_the_freeswitch_connection(daemon: Daemon, switch: FakeSwitch) -> None:
    doc = wait_ready(daemon, True, 2)
    assert doc == {"ready": True, "store": {"writable": True},
                   "nodes": {"fs1": {"connected": True}}}
    switch.stop()
    doc = wait_ready(daemon, False, 2)
    assert doc["nodes"] == {"fs1": {"connected": False}} and doc["ready"] is False
    assert requests.get(url(daemon, "/healthz"), timeout=5).status_code == 200
    switch.start()
    assert wait_ready(daemon, True, 5)["nodes"] == {"fs1": {"connected": True}}


def test_readyz_turns_unready_when_connections_drop(daemon: Daemon,
                                                    switch: FakeSwitch) -> None:
    wait_ready(daemon, True, 2)
    switch.crash(restart=False)
    wait_ready(daemon, False, 2)
    switch.start()
    wait_ready(daemon, True, 5)

