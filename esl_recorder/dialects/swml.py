"""SignalWire SWML (seed 003): the script dialect that runs a SWML document on a call.

Verbs: answer, hangup, play (`say:` text to speech, `silence:N`, local files, http(s)
URLs, `${record_call_url}`), record_call / stop_record_call with every property of seed
003, execute / transfer between sections, set / unset, sleep. Variables: record_call_url,
record_call_result, record_control_id, stop_record_call_result, and `${name}` / `%{name}`
substitution in every string. Verbs that need media answer the call first, as SignalWire
does. Recordings start through the RecordingService with source "swml"; their
`calling.call.record` status events are relay.py's (the Calling API's), and
`record_call_url` is the recording's LaML media URL, as in those events. Playing that URL
(or any URL of this daemon's recordings) plays the file itself: the daemon never fetches
its own URLs.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from ..accounts import AccountBook, vendor_id
from ..delivery.request import check_url
from ..domain.options import RecordOptions
from ..domain.recording import ACTIVE, Recording
from ..domain.scripts import ScriptError, ScriptRoute, ScriptSession
from ..domain.service import RecordingService
from ..errors import InvalidArgument, NotFound, RecordingError
from .laml import LamlDialect
from .relay import record_options as signalwire_options
from .relay import record_url, status_meta
from .swml_document import Document, Goto, Play, RecordCall, Step, StopRecordCall, parse
from .swml_fetch import Fetcher

log = logging.getLogger(__name__)

NAME = "swml"
_VARIABLE = re.compile(r"[$%]\{([A-Za-z0-9_.]{1,64})\}")
_MEDIA = re.compile(r"/Accounts/[^/]+/Recordings/(RE[0-9a-f]{32})\.(?:wav|mp3)")
MAX_JUMPS = 100  # execute/transfer hops in one run (a loop between sections ends here)


def record_options(params: RecordCall) -> RecordOptions:
    """record_call's properties as RecordOptions; ScriptError for what cannot be done."""
    if params.format == "mp4":
        raise ScriptError("record_call.format: mp4 cannot be produced by FreeSWITCH's audio "
                          "recorder here; use wav or mp3")
    if params.stereo and params.direction != "both":
        raise ScriptError("record_call: stereo records both directions (one per channel); "
                          f"direction {params.direction!r} cannot be stereo")
    return signalwire_options(
        format=params.format, direction=params.direction, stereo=params.stereo,
        beep=params.beep, terminators=params.terminators,
        initial_timeout=params.initial_timeout,
        end_silence_timeout=params.end_silence_timeout,
        input_sensitivity=params.input_sensitivity,
        max_length=math.ceil(params.max_length) if params.max_length else 0,
        control_id=params.control_id)


class SwmlScripts:
    """The `swml` ScriptDialect: loads a route's document and runs it."""

    name = NAME

    def __init__(self, fetcher: Fetcher, accounts: AccountBook, recordings: RecordingService,
                 base_url: Callable[[], str]) -> None:
        self._fetcher = fetcher
        self._accounts = accounts
        self._recordings = recordings
        self._base_url = base_url  # where clients reach this daemon

    @property
    def base_url(self) -> str:
        return self._base_url()

    def check_status_url(self, url: str) -> None:
        """As the outbox will take it, and to an address deliveries may reach (a literal
        address or a localhost name is refused now; a name at delivery time)."""
        try:
            check_url(url)
            self._fetcher.targets.check_url(url)
        except InvalidArgument as exc:
            raise ScriptError(f"record_call.status_url: {exc}") from None

    def local_media(self, url: str, account: str) -> str:
        """The file to play for an http(s) URL: one of the account's recordings' own, else
        a copy."""
        own = self.recording_of_url(url)
        if own is not None and own.account == account:
            return own.path
        return self._fetcher.media(url)

    def recording_url(self, rec: Recording) -> str:
        """record_call_url: the recording's media, as its status events give it."""
        acct = self._accounts.get(rec.account) if rec.account else None
        return record_url(rec, self.base_url, vendor_id(acct, "laml") if acct else "")

    def recording_of_url(self, url: str) -> Recording | None:
        """The recording a media URL of this daemon names (None: not one of ours)."""
        own, parts = urlsplit(self.base_url), urlsplit(url)
        prefix = own.path.rstrip("/") + LamlDialect.prefix
        if (parts.scheme, parts.netloc) != (own.scheme, own.netloc) or \
                not parts.path.startswith(prefix):
            return None
        match = _MEDIA.fullmatch(parts.path[len(prefix):])
        if match is None:
            return None
        try:
            return self._recordings.get(match.group(1))
        except NotFound:
            return None

    def run(self, route: ScriptRoute, session: ScriptSession) -> None:
        doc = parse(route.text or self._fetcher.document(route.document))
        _Run(self, doc, session).section("main")


class _Run:
    """One document running on one call."""

    def __init__(self, scripts: SwmlScripts, doc: Document, session: ScriptSession) -> None:
        self.scripts = scripts
        self.doc = doc
        self.session = session
        self.vars: dict[str, str] = {}
        self.jumps = 0
        self.ended = False
        self._verbs: dict[str, Callable[[Step], None]] = {
            "answer": lambda step: session.answer(),
            "hangup": self._hangup, "play": self._play, "record_call": self._record_call,
            "stop_record_call": self._stop_record_call, "execute": self._goto,
            "transfer": self._goto, "sleep": self._sleep, "set": self._set,
            "unset": self._unset}

    def section(self, name: str) -> None:
        for step in self.doc[name]:
            if self.ended:
                return
            try:
                self._verbs[step.verb](step)
            except ScriptError as exc:
                raise ScriptError(f"SWML {step.where}: {exc}") from exc
            if step.verb == "transfer":
                self.ended = True  # a transfer does not come back

    def sub(self, text: str) -> str:
        return _VARIABLE.sub(lambda m: self.vars.get(m.group(1), ""), text)

    # verbs ------------------------------------------------------------------------------
    def _hangup(self, step: Step) -> None:
        self.session.hangup({"busy": "USER_BUSY", "decline": "CALL_REJECTED"}.get(
            step.params.reason, "NORMAL_CLEARING"))
        self.ended = True

    def _goto(self, step: Step) -> None:
        params: Goto = step.params
        self.jumps += 1
        if self.jumps > MAX_JUMPS:
            raise ScriptError(f"more than {MAX_JUMPS} execute/transfer steps: a loop?")
        self.section(params.dest)

    def _sleep(self, step: Step) -> None:
        self.session.silence(step.params.duration / 1000)

    def _set(self, step: Step) -> None:
        self.vars.update({k: self.sub(v) for k, v in step.params.items()})

    def _unset(self, step: Step) -> None:
        for name in step.params:
            self.vars.pop(name, None)

    def _play(self, step: Step) -> None:
        params: Play = step.params
        urls = ([params.url] if params.url else []) + list(params.urls)
        if not urls:
            raise ScriptError("play needs url or urls")
        for url in urls:
            self._play_one(self.sub(url).strip(), params)

    def _play_one(self, url: str, params: Play) -> None:
        if url.startswith("say:"):
            self.session.speak(url[4:], voice=params.say_voice)
        elif url.startswith("silence:"):
            try:
                seconds = float(url[8:])
            except ValueError:
                raise ScriptError(f"play: bad silence length {url!r}") from None
            if not 0 <= seconds <= 3600:
                raise ScriptError(f"play: silence length out of range {url!r}")
            self.session.silence(seconds)
        elif url.startswith(("http://", "https://")):
            self._playback(self.scripts.local_media(url, self.session.call.account))
        elif url.startswith("/") and not self.session.route.trusted:
            raise ScriptError("play: a document sent over the API cannot play local files")
        elif url.startswith(("/", "tone_stream://")):
            self._playback(url)
        else:
            raise ScriptError(f"play: cannot play {url[:100]!r} (say:, silence:, an "
                              "http(s) URL or an absolute file path)")

    def _playback(self, path: str) -> None:
        result = self.session.play(path)
        if result.upper() == "FILE NOT FOUND":
            log.warning("call %s: SWML play: FreeSWITCH found no file %s",
                        self.session.call_uuid, path)

    def _record_call(self, step: Step) -> None:
        params: RecordCall = step.params
        options = record_options(params)
        status_url = self.sub(params.status_url)
        if status_url:
            self.scripts.check_status_url(status_url)
        meta = status_meta(status_url or None, self.scripts.base_url,
                           f"swml:{self.session.id}")
        try:
            rec = self.session.record(options, NAME, meta)
        except InvalidArgument as exc:
            raise ScriptError(f"record_call: {exc}") from exc
        except RecordingError as exc:
            log.warning("call %s: SWML record_call failed: %s", self.session.call_uuid, exc)
            self.vars["record_call_result"] = "failed"
            return
        self.vars.update(record_call_url=self.scripts.recording_url(rec),
                         record_call_result="success", record_control_id=rec.control_id)

    def _stop_record_call(self, step: Step) -> None:
        params: StopRecordCall = step.params
        rec = self._target(self.sub(params.control_id))
        if rec is None:
            self.vars["stop_record_call_result"] = "failed"
            return
        try:
            self.session.stop_recording(rec)
        except RecordingError as exc:
            log.warning("call %s: SWML stop_record_call failed: %s", self.session.call_uuid,
                        exc)
            self.vars["stop_record_call_result"] = "failed"
            return
        self.vars["stop_record_call_result"] = "success"

    def _target(self, control_id: str) -> Recording | None:
        """By control id, else the last one started that still runs."""
        started = self.session.started
        if control_id:
            return next((r for r in reversed(started) if r.control_id == control_id), None)
        return next((r for r in reversed(started) if r.state in ACTIVE), None)
