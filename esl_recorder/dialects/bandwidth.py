"""Bandwidth Catapult v1: calls with recordingEnabled, recordings and media under /v1/users.

`POST /calls` originates a call through FreeSWITCH (recording from answer when asked);
`POST /calls/{callId}` switches recording on and off, each on→off window one recording.
Call events (answer, hangup) and the `recording` event go as JSON to the call's
callbackUrl through the outbox, keyed by callId so one call's events arrive in order.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import gevent
from werkzeug.routing import Rule
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from ..domain.dialer import Dialer, DialRequest, new_call_uuid
from ..domain.options import AudioFormat, RecordOptions
from ..domain.recording import ACTIVE, TERMINAL, Recording, State
from ..errors import Conflict, EslRecorderError, InvalidArgument, NotFound
from ..esl import events as ev
from ..settings import AccountSettings
from . import bandwidth_render as render
from .bandwidth_calls import ACTIVE as CALL_ACTIVE
from .bandwidth_calls import COMPLETED, STARTED, BwCall, CallBook
from .bandwidth_models import UNSUPPORTED_UPDATE, CreateCall, Page, UpdateCall, refuse
from .base import Dialect, parse_model, read_params

if TYPE_CHECKING:
    from ..context import ApiContext
    from ..domain.calls import Call

log = logging.getLogger(__name__)

USER_AGENT = "BandwidthAPI/v1 (esl_recorder)"
MEDIA_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}

# Catapult v1 error categories (ap-docs methods/errors) and our codes, by HTTP status.
ERRORS = {
    400: ("bad-request", "invalid-request"),
    401: ("authentication", "unauthorized"),
    403: ("authorization", "forbidden"),
    404: ("not-found", "not-found"),
    405: ("bad-request", "method-not-allowed"),
    409: ("conflict", "conflict"),
    413: ("limit", "request-too-large"),
    415: ("bad-request", "unsupported-media-type"),
    503: ("unavailable", "service-unavailable"),
}


class BandwidthDialect(Dialect):
    name = "bandwidth"
    prefix = "/v1/users"
    security = {"type": "http", "scheme": "basic",
                "description": "Bandwidth API token (user) and secret (password)"}
    auth_challenge = 'Basic realm="Bandwidth API"'

    def __init__(self, ctx: ApiContext) -> None:
        super().__init__(ctx)
        self._calls = CallBook(ctx.store)
        self._dialer = Dialer(ctx.nodes, ctx.metrics)

    def rules(self) -> list[Rule]:
        r = self.rule
        call = "/<user_id>/calls/<call_id>"
        return [
            r("/<user_id>/calls", ["POST"], "create_call", self.create_call,
              summary="Create an outbound call (recordingEnabled records it from answer)",
              request_model=CreateCall, response_status=201),
            r(call, ["GET"], "get_call", self.get_call, summary="Fetch a call"),
            r(call, ["POST"], "update_call", self.update_call,
              summary="Turn recording on or off on an active call", request_model=UpdateCall),
            r(f"{call}/events", ["GET"], "call_events", self.call_events,
              summary="A call's events (create, answer, hangup)"),
            r(f"{call}/recordings", ["GET"], "call_recordings", self.call_recordings,
              summary="A call's recordings"),
            r("/<user_id>/recordings", ["GET"], "list_recordings", self.list_recordings,
              summary="The user's recordings, newest first (page, size)"),
            r("/<user_id>/recordings/<recording_id>", ["GET"], "get_recording",
              self.get_recording, summary="Fetch a recording"),
            r("/<user_id>/media/<name>", ["GET"], "get_media", self.get_media,
              summary="Download a recording's media file"),
        ]

    def error_body(self, status: int, message: str) -> Any:
        category, code = ERRORS.get(status, ("unavailable", "internal-error"))
        return {"category": category, "code": code, "message": message, "details": []}

    # views: calls ----------------------------------------------------------------------
    def create_call(self, request: Request, user_id: str) -> Response:
        acct = self._account(request, user_id)
        params = read_params(request)
        spec = parse_model(CreateCall, params)
        spec.refuse_unsupported(params)
        call = self._new_call(acct, user_id, spec, self.base_url(request))
        bw = self.ctx.settings.bandwidth
        dial = DialRequest(
            dial_string=bw.dial_string.replace("{to}", spec.to).replace("{from}", spec.from_),
            application=bw.application, caller_id_number=spec.from_,
            account_variable=self.ctx.settings.identity.account_variable, account=acct.id,
            timeout_s=call.call_timeout)
        prepared = self._dialer.prepare(call.id, dial)
        call.node = prepared.node
        self._calls.save(call)  # before the originate: its events must find the call
        self._dialer.send(prepared, self._originate_failed)
        log.info("call %s: created by user %s to %s", call.id, user_id, spec.to)
        location = render.call_url(call.base, user_id, call.id)
        return Response(status=201, headers={"Location": location})

    def get_call(self, request: Request, user_id: str, call_id: str) -> Response:
        call = self._call(request, user_id, call_id)
        return self.json(render.call_doc(call, self.base_url(request), self.ctx.clock()))

    def update_call(self, request: Request, user_id: str, call_id: str) -> Response:
        acct = self._account(request, user_id)
        params = read_params(request)
        change = parse_model(UpdateCall, params)
        refuse(params, UNSUPPORTED_UPDATE)
        call = self._lookup(acct, user_id, call_id, self.base_url(request))
        if call.state == COMPLETED:
            raise Conflict(f"The call '{call_id}' is completed")
        if change.recording_file_format:
            call.recording_file_format = change.recording_file_format
        if change.recording_enabled is True:
            self._enable(call)
        elif change.recording_enabled is False:
            self._disable(call)
        self._calls.save(call)
        return Response(status=200)

    def call_events(self, request: Request, user_id: str, call_id: str) -> Response:
        call = self._call(request, user_id, call_id)
        return self.json(render.call_events(call))

    def call_recordings(self, request: Request, user_id: str, call_id: str) -> Response:
        call = self._call(request, user_id, call_id)
        recs = self.ctx.service.list(call.account, call_uuid=call.id, limit=1000)
        base = self.base_url(request)
        return self.json([render.recording_doc(r, base, user_id) for r in recs])

    # views: recordings and media -------------------------------------------------------
    def list_recordings(self, request: Request, user_id: str) -> Response:
        acct = self._account(request, user_id)
        page = parse_model(Page, request.args)
        recs = self.ctx.service.list(acct.id, limit=page.size + 1,
                                     offset=page.page * page.size)
        base = self.base_url(request)
        docs = [render.recording_doc(r, base, user_id) for r in recs[:page.size]]
        link = render.page_links(f"{render.user_url(base, user_id)}/recordings", page.page,
                                 page.size, has_next=len(recs) > page.size)
        return self.json(docs, headers={"Link": link})

    def get_recording(self, request: Request, user_id: str, recording_id: str) -> Response:
        acct = self._account(request, user_id)
        rec = self._recording(acct, render.sid_of(recording_id), recording_id)
        return self.json(render.recording_doc(rec, self.base_url(request), user_id))

    def get_media(self, request: Request, user_id: str, name: str) -> Response:
        acct = self._account(request, user_id)
        rec = self._recording(acct, render.sid_of_media(name), name)
        if render.media_name(rec) != name:
            raise NotFound(f"The media '{name}' could not be found")
        try:
            path = self.ctx.service.media_path(rec.sid, acct.id)
        except NotFound:
            raise NotFound(f"The media '{name}' is not available (the recording is "
                           f"{render.resource_state(rec)})") from None
        return send_file(path, request.environ, mimetype=MEDIA_TYPES[rec.options.format.value],
                         download_name=name, conditional=True)

    # notifications (on the ESL dispatcher: never block) ---------------------------------
    def on_call(self, event: str, call: Call) -> None:
        bw = self._calls.open_call(call.uuid)
        if bw is None:
            return
        if event in (ev.CHANNEL_CREATE, ev.CHANNEL_ANSWER) and bw.recording_pending:
            bw.recording_pending = False
            self._calls.save(bw)
            gevent.spawn(self._start_quietly, bw)
        if event == ev.CHANNEL_ANSWER and bw.state == STARTED:
            bw.state, bw.answered_at = CALL_ACTIVE, call.answered_at or self.ctx.clock()
            self._calls.save(bw)
            self._notify(bw, "answer", render.call_event("answer", bw, bw.answered_at))
        elif event in (ev.CHANNEL_HANGUP, ev.CHANNEL_HANGUP_COMPLETE):
            self._complete(bw, call.hangup_cause, call.hungup_at)

    def on_recording(self, rec: Recording, previous: State) -> None:
        if rec.state not in TERMINAL or previous in TERMINAL:
            return
        call = self._calls.find(rec.call_uuid)
        if call is None or call.account != rec.account:
            return
        log.info("recording %s on call %s: %s", rec.sid, rec.call_uuid, rec.state.value)
        self._notify(call, "recording", render.recording_event(rec, call))

    # helpers ---------------------------------------------------------------------------
    def _account(self, request: Request, user_id: str) -> AccountSettings:
        return self.ctx.accounts.bandwidth(user_id, request.headers.get("Authorization"))

    def _call(self, request: Request, user_id: str, call_id: str) -> BwCall:
        acct = self._account(request, user_id)
        return self._lookup(acct, user_id, call_id, self.base_url(request))

    def _lookup(self, acct: AccountSettings, user_id: str, call_id: str, base: str) -> BwCall:
        """The account's call: one placed or recorded through this API, else a live one.
        Another account's call is answered exactly like a missing one."""
        missing = NotFound(f"The call '{call_id}' could not be found")
        if not render.is_call_id(call_id):
            raise missing
        known = self._calls.find(call_id)
        if known is not None:
            if known.account != acct.id:
                raise missing
            return known
        try:
            live = self.ctx.service.call(call_id, acct.id)
        except NotFound:
            raise missing from None
        return BwCall.from_live(live, user_id, base)

    def _recording(self, acct: AccountSettings, sid: str | None, shown: str) -> Recording:
        try:
            if sid is None:
                raise NotFound(shown)
            return self.ctx.service.get(sid, acct.id)
        except NotFound:
            raise NotFound(f"The recording '{shown}' could not be found") from None

    def _new_call(self, acct: AccountSettings, user_id: str, spec: CreateCall,
                  base: str) -> BwCall:
        return BwCall(
            id=new_call_uuid(), account=acct.id, user_id=user_id, base=base, direction="out",
            from_=spec.from_, to=spec.to, created_at=self.ctx.clock(),
            call_timeout=spec.call_timeout or self.ctx.settings.bandwidth.call_timeout,
            callback_url=spec.callback_url or "", callback_method=spec.callback_http_method,
            callback_timeout_ms=spec.callback_timeout, fallback_url=spec.fallback_url or "",
            tag=spec.tag, recording_enabled=spec.recording_enabled,
            recording_max_duration=spec.recording_max_duration,
            recording_file_format=spec.recording_file_format,
            recording_pending=spec.recording_enabled)

    def _enable(self, call: BwCall) -> None:
        call.recording_enabled = True
        if self._running(call.id):
            return
        live = self.ctx.tracker.get(call.id)
        if live is None or live.hungup:
            call.recording_pending = True  # FreeSWITCH has not reported the call yet
            return
        self._start(call)

    def _disable(self, call: BwCall) -> None:
        call.recording_enabled = call.recording_pending = False
        for rec in self._running(call.id):
            self.ctx.service.stop(rec.sid, account=call.account)

    def _running(self, call_id: str) -> list[Recording]:
        return [r for r in self.ctx.service.for_call(call_id)
                if r.source == self.name and (r.state in ACTIVE or r.state is State.QUEUED)]

    def _start(self, call: BwCall) -> Recording:
        options = RecordOptions(format=AudioFormat(call.recording_file_format),
                                max_length_s=call.recording_max_duration, answered_only=True)
        rec = self.ctx.service.start(call.id, options, account=call.account, source=self.name,
                                     meta={"callId": call.id, "userId": call.user_id})
        log.info("recording %s on call %s: recordingEnabled", rec.sid, call.id)
        return rec

    def _start_quietly(self, call: BwCall) -> None:
        try:
            self._start(call)
        except EslRecorderError as exc:
            log.warning("call %s: recording from answer could not start: %s", call.id, exc)

    def _originate_failed(self, call_id: str, cause: str) -> None:
        call = self._calls.open_call(call_id)
        live = self.ctx.tracker.get(call_id)
        if call is None or (live is not None and not live.hungup):
            return  # already ended by its events, or alive: its events will tell
        self._complete(call, cause, None)

    def _complete(self, call: BwCall, cause: str, at: float | None) -> None:
        if call.state == COMPLETED:
            return
        call.state, call.cause = COMPLETED, cause or "NORMAL_CLEARING"
        call.ended_at = at or self.ctx.clock()
        call.recording_pending = False
        self._calls.save(call)
        log.info("call %s: completed (%s)", call.id, call.cause)
        self._notify(call, "hangup", render.call_event("hangup", call, call.ended_at))

    def _notify(self, call: BwCall, kind: str, doc: dict[str, Any]) -> None:
        if not call.callback_url:
            return
        try:
            request = render.callback_request(call, doc, USER_AGENT)
        except InvalidArgument as exc:  # validated at create: only a changed rule gets here
            log.warning("call %s: %s event not sent: %s", call.id, kind, exc)
            return
        self.ctx.outbox.enqueue(request, key=call.id, dialect=self.name, kind=kind)
