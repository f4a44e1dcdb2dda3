"""SWML scripts on simulated calls: the daemon (build_app, its real ESL client) against the
simulator over a socket, a real HTTP receiver for the status events, a real HTTP server for
script documents, and our own ESL connection that watches what each call runs.

The simulator's media clock is manual: `Scripted.run()` advances it one 20 ms frame at a time
while every scripted call has an application queued or running (the daemon is waiting for its
end), and otherwise waits for the daemon's next command; so a 10 s silence takes 10 s of media
time and no wall time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import pytest
from api.conftest import ACCOUNTS
from api.receiver import Receiver
from daemon.conftest import FAST_ESL, Daemon
from fakeswitch.wireclient import WireClient, event_headers

from esl_recorder.app import build_app
from esl_recorder.domain.recording import Recording
from esl_recorder.esl.codec import fs_url_decode
from esl_recorder.testing.fakeswitch import FakeSwitch

from .swml_support import DocumentServer

VARIABLE = "swml_script"  # scripts.variable in these tests: each call names its document
FRAME = 0.02


@dataclass
class Scripted:
    switch: FakeSwitch
    daemon: Daemon
    receiver: Receiver
    documents: DocumentServer
    watch: WireClient
    events: list[dict[str, str]] = field(default_factory=list)

    def call(self, script: str, caller: str = "tone_a") -> str:
        """A call parked for `script` (the B leg's uuid, once the daemon tracks it)."""
        b = self.switch.park_for_script(caller, {VARIABLE: script,
                                                 "esl_recorder_account_id": "acme"})
        self.daemon.wait_call(b, answered=False)
        return b

    def busy(self, uuid: str) -> bool:
        ch = self.switch.core.locate(uuid)
        return ch is not None and bool(ch.app_queue or any(
            run is not ch.dialplan_run for run in ch.apps))

    def running(self, uuid: str) -> list[tuple[str, str]]:
        """(application, argument) of what the call is running now."""
        ch = self.switch.core.locate(uuid)
        return [] if ch is None else [(r.msg.app, r.msg.arg) for r in ch.apps]

    def run(self, *calls: str, media_limit: float = 120.0,
            until: Callable[[], object] | None = None) -> None:
        """Run the media clock until the scripts of `calls` ended and their calls are gone
        (or until `until()` is true)."""
        scripts = self.daemon.app.scripts
        assert scripts is not None
        media = 0.0

        def done() -> bool:
            if until is not None:
                return bool(until())
            return scripts.running == 0 and all(
                self.switch.core.locate(c) is None for c in calls)

        while not done():
            assert media < media_limit, f"scripts still running after {media:.0f} s of media"
            if self._all_busy(calls):
                self.switch.advance(FRAME)
                media += FRAME
                self.switch.flush()
                continue
            self._next_command(len(self.switch.commands), done, calls)
            gevent.idle()

    def _all_busy(self, calls: tuple[str, ...]) -> bool:
        """Every live call among `calls` has an application queued or running: only then may
        media time pass, or a call whose script is between two steps (its daemon still writing
        to the store, say) would find its next application started late."""
        live = [c for c in calls if self.switch.core.locate(c) is not None]
        return bool(live) and all(self.busy(c) for c in live)

    def _next_command(self, seen: int, done: Callable[[], bool], calls: tuple[str, ...]
                      ) -> None:
        self.daemon.wait_until(lambda: done() or len(self.switch.commands) > seen
                               or self._all_busy(calls), 10, "the daemon's next command")

    def recordings(self, uuid: str) -> list[Recording]:
        """The call's recordings, once all are finished (files closed and inspected)."""
        store = self.daemon.app.store
        return self.daemon.wait_until(
            lambda: (recs := store.list_recordings(call_uuid=uuid))
            and all(r.terminal for r in recs) and recs, 10, f"the recordings of {uuid}")

    def applications(self, uuid: str) -> list[tuple[str, str, str]]:
        """(Application, Application-Data, Application-Response) of every application the
        call ran, in order, but the dialplan's set and park."""
        for message in self.watch.pending():
            if message.content_type == "text/event-plain":
                self.events.append({k: fs_url_decode(v) for k, v in event_headers(message)})
        return [(e.get("Application", ""), e.get("Application-Data", ""),
                 e.get("Application-Response", "")) for e in self.events
                if e.get("Event-Name") == "CHANNEL_EXECUTE_COMPLETE"
                and e.get("Unique-ID") == uuid and e.get("Application") not in ("set", "park")]


ScriptedFactory = Callable[..., Scripted]


@pytest.fixture
def scripted_factory(tmp_settings: Callable[..., Any], tmp_path: Path
                     ) -> Iterator[ScriptedFactory]:
    made: list[tuple[FakeSwitch, Daemon, Receiver, DocumentServer, WireClient]] = []

    def make(documents: dict[str, str], **scripts: Any) -> Scripted:
        """`documents`: script name -> its text, served over HTTP (or a `/path` already
        served, or a file path). Extra keyword arguments go into the scripts section."""
        switch = FakeSwitch(clock="manual", heartbeat_interval=None).start()
        receiver = Receiver().start()
        server = DocumentServer().start()
        routes = []
        for name, text in documents.items():
            server.documents[f"/{name}.swml"] = text
            routes.append({"name": name, "document": server.url(f"/{name}.swml")})
        settings = tmp_settings(switch.address, esl=FAST_ESL, accounts=ACCOUNTS,
                                delivery={"initial_delay": 0.05, "max_delay": 0.2},
                                scripts={"variable": VARIABLE, "documents": routes,
                                         "fetch_timeout": 1.0, **scripts})
        daemon = Daemon(build_app(settings))
        daemon.app.start()
        assert daemon.app.clients["fs1"].wait_connected(5), "no connection to the simulator"
        watch = WireClient(switch.address, timeout=5).login()
        watch.command("event plain CHANNEL_EXECUTE_COMPLETE")
        made.append((switch, daemon, receiver, server, watch))
        return Scripted(switch, daemon, receiver, server, watch)

    yield make
    for switch, daemon, receiver, server, watch in made:
        daemon.stop()
        watch.close()
        server.stop()
        receiver.stop()
        switch.stop()
