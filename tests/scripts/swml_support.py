"""What the SWML tests share: seed 003's three examples (with a status_url added, so their
`calling.call.record` events reach a real local receiver), a real HTTP server for script
documents, and readers for the status events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import gevent.event
from gevent.pywsgi import WSGIServer


def mp3_example(status_url: str) -> str:
    """Seed 003 "Start an MP3 recording of the call" (YAML), given 2 s of call to record
    (the seed's document ends there, and the end of a script ends its call)."""
    return f"""version: 1.0.0
sections:
  main:
    - record_call:
        format: mp3
        status_url: '{status_url}'
    - play:
        urls:
          - 'silence:2'
"""


def playback_example(status_url: str) -> str:
    """Seed 003 "Record both sides of the conversation" (JSON), as in the seed."""
    return json.dumps({"version": "1.0.0", "sections": {"main": [
        {"record_call": {"beep": True, "terminators": "#", "status_url": status_url}},
        {"play": {"urls": ["say:Leave your message now", "silence:10"]}},
        {"stop_record_call": {}},
        {"play": {"urls": ["say:Playing back", "${record_call_url}"]}}]}})


def speaker_example(status_url: str) -> str:
    """Seed 003 "Record only the speaker's side" (YAML), as in the seed."""
    return f"""version: 1.0.0
sections:
  main:
    - record_call:
        beep: true
        direction: speak
        status_url: '{status_url}'
    - play:
        urls:
          - 'say:Leave your message now'
          - 'silence:10'
    - stop_record_call: {{}}
    - play:
        urls:
          - 'say:Playing back'
          - '${{record_call_url}}'
"""


@dataclass
class DocumentServer:
    """Serves script documents by path; a path in `hang` is never answered (a document URL
    that times out). Counts requests per path."""

    documents: dict[str, str] = field(default_factory=dict)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # path: body, type
    hang: set[str] = field(default_factory=set)
    requests: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._release = gevent.event.Event()
        self._server = WSGIServer(("127.0.0.1", 0), self._app, log=None)

    def start(self) -> DocumentServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.stop(timeout=1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        self.requests[path] = self.requests.get(path, 0) + 1
        if path in self.hang:
            self._release.wait(30)  # until the test ends: the daemon must give up first
        doc = self.documents.get(path)
        body, content_type = (doc.encode(), "application/yaml") if doc is not None else \
            self.media.get(path, (b"", ""))
        if not content_type:
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        start_response("200 OK", [("Content-Type", content_type),
                                  ("Content-Length", str(len(body)))])
        return [body]


def status_events(received: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in received]


def states(events: list[dict[str, Any]], control_id: str | None = None) -> list[str]:
    return [e["params"]["state"] for e in events
            if control_id is None or e["params"]["control_id"] == control_id]
