"""Kazoo callflows: the script dialect that runs a callflow's `flow` on a parked call.

A flow is a tree of nodes `{"module", "data", "children"}`; after a node the flow goes on
with its `_` child (Kazoo's default branch). A node whose module is unknown, or whose data is
wrong, or whose action fails, is an error logged with the call and the module, and the flow
takes that node's `failure` child when it has one; without one the flow (and the call) ends
failed.

Modules: `answer`, `hangup`, `play` (`data.id`: a tone_stream://, silence_stream:// or
absolute .wav/.mp3 path), `tts` (`data.text`, optional `voice`, `engine`), `sleep`
(`data.duration`, seconds, or with `unit` ms/s/m), `bridge` (`data.number` into
kazoo.bridge_dial_string), `record_call` (`action` start/stop and every parameter of
domain.record_params.parse_params: Kazoo's defaults and clamps) and `record_caller` (the
caller's side only, until a DTMF digit, `time_limit` (3600) or the hangup, then on).
Recordings start through the RecordingService with source "kazoo": a `url` gets the
upload (dialects/kazoo.py). `record_on_bridge` starts the recording when the flow reaches
its `bridge` node (FreeSWITCH's bridge then runs with it).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..domain.kazoo_media import call_facts
from ..domain.options import AudioFormat, RecordOptions, Track
from ..domain.record_params import parse_params
from ..domain.recording import ACTIVE, Recording
from ..domain.scripts import ScriptError, ScriptRoute, ScriptSession
from ..errors import InvalidArgument, RecordingError
from .swml_fetch import Fetcher

log = logging.getLogger(__name__)

NAME = "kazoo"
MAX_NODES = 1000  # nodes one run may go through
MAX_DEPTH = 64
ANY_DIGIT = "0123456789*#"
_NUMBER = re.compile(r"[A-Za-z0-9+*#_.-]{1,64}")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}
MODULES = ("answer", "hangup", "play", "tts", "sleep", "bridge", "record_call",
           "record_caller")


def parse_flow(text: str) -> dict[str, Any]:
    """The callflow document (`{"flow": {...}}`, or the flow itself), its shape checked;
    ScriptError for bad JSON or a node that is not {module, data, children}."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ScriptError(f"callflow: not valid JSON: {exc}") from None
    if isinstance(doc, dict) and "flow" in doc:
        doc = doc["flow"]
    _check_node(doc, "flow", 0)
    return doc


def _check_node(node: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ScriptError(f"callflow {where}: nested more than {MAX_DEPTH} deep")
    if not isinstance(node, dict) or not isinstance(node.get("module"), str):
        raise ScriptError(f"callflow {where}: a node is an object with a module name")
    if not isinstance(node.get("data", {}), dict):
        raise ScriptError(f"callflow {where}.data: must be an object")
    children = node.get("children", {})
    if not isinstance(children, dict):
        raise ScriptError(f"callflow {where}.children: must be an object")
    for key, child in children.items():
        _check_node(child, f"{where}.children.{key}", depth + 1)


class KazooCallflows:
    """The `kazoo` ScriptDialect."""

    name = NAME

    def __init__(self, fetcher: Fetcher, default_format: AudioFormat, dial_string: str) -> None:
        self._fetcher = fetcher
        self._default_format = default_format
        self._dial_string = dial_string

    def run(self, route: ScriptRoute, session: ScriptSession) -> None:
        flow = parse_flow(route.text or self._fetcher.document(route.document))
        _Run(self, session).walk(flow)

    def options(self, data: Mapping[str, Any], where: str, session: ScriptSession
                ) -> tuple[RecordOptions, dict[str, Any]]:
        """The recording's options and its Kazoo data (the call's caller id name and
        interaction id when it is uploaded)."""
        try:
            params = parse_params(dict(data), where, self._default_format,
                                  self._fetcher.targets.check_url, follow_default=True)
        except InvalidArgument as exc:
            raise ScriptError(str(exc)) from None
        meta = {"url": params.url, "method": params.method, "media_name": params.media_name,
                "call_id": session.call_uuid,
                "origin": f"callflow : {data.get('label', 'record_call')}"}
        if params.url:
            meta.update(call_facts(session.variables))
        return params.options(), meta

    def dial(self, number: str) -> str:
        return self._dial_string.replace("{to}", number)


class _Run:
    def __init__(self, flows: KazooCallflows, session: ScriptSession) -> None:
        self.flows = flows
        self.session = session
        self.steps = 0
        self.ended = False
        self.on_bridge: list[tuple[RecordOptions, dict[str, Any]]] = []
        self._modules: dict[str, Callable[[dict[str, Any]], None]] = {
            "answer": lambda data: session.answer(), "hangup": self._hangup,
            "play": self._play, "tts": self._tts, "sleep": self._sleep,
            "bridge": self._bridge, "record_call": self._record_call,
            "record_caller": self._record_caller}

    def walk(self, node: dict[str, Any] | None) -> None:
        while node is not None and not self.ended:
            self.steps += 1
            if self.steps > MAX_NODES:
                raise ScriptError(f"callflow: more than {MAX_NODES} nodes run")
            children = node.get("children", {})
            try:
                self._run_node(node)
            except (ScriptError, RecordingError) as exc:
                failure = children.get("failure")
                if failure is None:
                    raise
                log.error("call %s: callflow module %s failed, taking its failure branch: %s",
                          self.session.call_uuid, node["module"], exc)
                node = failure
                continue
            node = children.get("_")

    def _run_node(self, node: dict[str, Any]) -> None:
        module = node["module"]
        action = self._modules.get(module)
        if action is None:
            raise ScriptError(f"callflow: unknown module {module[:64]!r} (known: "
                              f"{', '.join(MODULES)})")
        try:
            action(dict(node.get("data", {})))
        except ScriptError as exc:
            raise ScriptError(f"callflow module {module}: {exc}") from exc

    # modules ----------------------------------------------------------------------------
    def _hangup(self, data: dict[str, Any]) -> None:
        self.session.hangup()
        self.ended = True

    def _play(self, data: dict[str, Any]) -> None:
        media = data.get("id")
        if not isinstance(media, str):
            raise ScriptError("data.id: the media to play is required")
        self.session.play(media)

    def _tts(self, data: dict[str, Any]) -> None:
        text, voice, engine = (data.get(k, "") for k in ("text", "voice", "engine"))
        if not isinstance(text, str) or not isinstance(voice, str) \
                or not isinstance(engine, str):
            raise ScriptError("data.text, data.voice, data.engine: must be strings")
        self.session.speak(text, engine=engine, voice=voice)

    def _sleep(self, data: dict[str, Any]) -> None:
        duration, unit = data.get("duration", 0), data.get("unit", "s")
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) \
                or unit not in _UNITS:
            raise ScriptError("data.duration: a number, data.unit: ms, s or m")
        seconds = duration * _UNITS[unit]
        if not 0 <= seconds <= 3600:
            raise ScriptError("data.duration: 0..3600 seconds")
        self.session.silence(seconds)

    def _bridge(self, data: dict[str, Any]) -> None:
        number = data.get("number")
        if not isinstance(number, str) or not _NUMBER.fullmatch(number):
            raise ScriptError("data.number: 1-64 of A-Z a-z 0-9 + * # _ . -")
        self.session.answer()
        for options, meta in self.on_bridge:
            self.session.record(options, NAME, meta)
        self.on_bridge = []
        self.session.execute("bridge", self.flows.dial(number))

    def _record_call(self, data: dict[str, Any]) -> None:
        action = data.get("action", "start")
        if action == "stop":
            for rec in self._active():
                self.session.stop_recording(rec)
            return
        options, meta = self.flows.options(data, "data", self.session)
        if data.get("record_on_bridge") is True:
            self.on_bridge.append((options, meta))
            return
        self.session.record(options, NAME, meta)

    def _record_caller(self, data: dict[str, Any]) -> None:
        allowed = {"format", "method", "time_limit", "url"}
        extra = sorted(set(data) - allowed)
        if extra:
            raise ScriptError(f"data.{extra[0]}: not a record_caller parameter")
        options, meta = self.flows.options(data, "data", self.session)
        options = RecordOptions(channels=1, track=Track.INBOUND, format=options.format,
                                max_length_s=options.max_length_s, terminators=ANY_DIGIT)
        meta["origin"] = "callflow : record_caller"
        rec = self.session.record(options, NAME, meta)
        self.session.wait_ended(rec, options.max_length_s + 10)

    def _active(self) -> list[Recording]:
        return [r for r in self.session.started if r.state in ACTIVE]
