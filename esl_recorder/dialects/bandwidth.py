"""Bandwidth Catapult v1: calls with recordingEnabled, recordings and media under /v1/users.

`POST /calls` originates a call through FreeSWITCH (recording from answer when asked);
`POST /calls/{callId}` switches recording on and off, each on→off window one recording,
hangs the call up (`state` completed) or transfers it (`state` transferring: uuid_transfer
to `transferTo` in the XML dialplan's `bandwidth.transfer_context`, after setting the
call's effective_caller_id_number to `transferCallerId` when given). `GET /calls` lists the
user's calls (page, size, sortOrder, from, to; Link headers). Call events (answer,
transfer, timeout when FreeSWITCH gave up waiting for an answer, hangup) and the
`recording` event go as JSON to the call's callbackUrl through the outbox, keyed by callId
so one call's events arrive in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gevent
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..accounts import AccountBook
from ..delivery.outbox import Outbox
from ..delivery.targets import TargetPolicy
from ..domain.call_service import CallService, DialRequest
from ..domain.calls import Call, CallEvent
from ..domain.options import MEDIA_TYPES, AudioFormat, RecordOptions
from ..domain.recording import ACTIVE, TERMINAL, Recording, State
from ..domain.service import RecordingService
from ..errors import Conflict, EslRecorderError, InvalidArgument, NotFound
from ..metrics import Metrics
from ..settings import AccountSettings, BandwidthSettings
from . import bandwidth_render as render
from .bandwidth_calls import COMPLETED, BwCall, Wishes
from .bandwidth_models import (
    UNSUPPORTED_UPDATE,
    CallQuery,
    CreateCall,
    Page,
    UpdateCall,
    refuse,
)
from .base import Dialect, parse_model, read_params
from .media import media_response

log = logging.getLogger(__name__)

USER_AGENT = "BandwidthAPI/v1 (esl_recorder)"

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

    def __init__(self, *, accounts: AccountBook, recordings: RecordingService,
                 calls: CallService, outbox: Outbox, settings: BandwidthSettings,
                 metrics: Metrics, clock: Callable[[], float],
                 public_base_url: str = "", targets: TargetPolicy | None = None) -> None:
        super().__init__(metrics=metrics, public_base_url=public_base_url, targets=targets)
        self._accounts = accounts
        self._recordings = recordings
        self._calls = calls
        self._outbox = outbox
        self._settings = settings
        self._clock = clock
        calls.subscribe(self.on_call)

    def rules(self) -> list[Rule]:
        r = self.rule
        call = "/<user_id>/calls/<call_id>"
        return [
            r("/<user_id>/calls", ["POST"], "create_call", self.create_call,
              summary="Create an outbound call (recordingEnabled records it from answer)",
              request_model=CreateCall, response_status=201),
            r("/<user_id>/calls", ["GET"], "list_calls", self.list_calls,
              summary="The user's calls, newest first (page, size, sortOrder, from, to)"),
            r(call, ["GET"], "get_call", self.get_call, summary="Fetch a call"),
            r(call, ["POST"], "update_call", self.update_call,
              summary="Turn recording on or off, hang up (state completed) or transfer "
                      "(state transferring, transferTo)", request_model=UpdateCall),
            r(f"{call}/events", ["GET"], "call_events", self.call_events,
              summary="A call's events (create, answer, transfer, timeout, hangup)"),
            r(f"{call}/recordings", ["GET"], "call_recordings", self.call_recordings,
              summary="A call's recordings"),
            r("/<user_id>/recordings", ["GET"], "list_recordings", self.list_recordings,
              summary="The user's recordings, newest first (page, size)"),
            r("/<user_id>/recordings/<recording_id>", ["GET"], "get_recording",
              self.get_recording, summary="Fetch a recording"),
            r("/<user_id>/media/<name>", ["GET"], "get_media", self.get_media,
              summary="Download a recording's media file"),
            r("/<user_id>/media/<name>", ["DELETE"], "delete_media", self.delete_media,
              summary="Delete a finished recording's media (and the recording)",
              response_status=200),
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
        self.check_target("callbackUrl", spec.callback_url)
        self.check_target("fallbackUrl", spec.fallback_url)
        wishes = self._wishes(user_id, spec, self.base_url(request))
        bw = self._settings
        call = self._calls.place(DialRequest(
            dial_string=bw.dial_string.replace("{to}", spec.to).replace("{from}", spec.from_),
            application=bw.application, caller_id_number=spec.from_, destination=spec.to,
            account=acct.id, timeout_s=wishes.call_timeout, source=self.name,
            meta=wishes.to_meta()))
        log.info("call %s: created by user %s to %s", call.uuid, user_id, spec.to)
        location = render.call_url(wishes.base, user_id, call.uuid)
        return Response(status=201, headers={"Location": location})

    def get_call(self, request: Request, user_id: str, call_id: str) -> Response:
        call = self._call(request, user_id, call_id)
        return self.json(render.call_doc(call, self.base_url(request), self._clock()))

    def update_call(self, request: Request, user_id: str, call_id: str) -> Response:
        acct = self._account(request, user_id)
        params = read_params(request)
        change = parse_model(UpdateCall, params)
        refuse(params, UNSUPPORTED_UPDATE)
        call = self._lookup(acct, user_id, call_id, self.base_url(request))
        if call.state == COMPLETED:
            raise Conflict(f"The call '{call_id}' is completed")
        if change.recording_file_format:
            call.wishes.recording_file_format = change.recording_file_format
        if change.recording_enabled is True:
            self._enable(call)
        elif change.recording_enabled is False:
            self._disable(call)
        self._calls.take_charge(call.call, self.name, call.wishes.to_meta())
        if change.state == "completed":
            self._calls.hangup(call.call)
        elif change.state == "transferring" and change.transfer_to:
            self._transfer(call, change.transfer_to, change.transfer_caller_id)
        return Response(status=200)

    def list_calls(self, request: Request, user_id: str) -> Response:
        acct = self._account(request, user_id)
        query = parse_model(CallQuery, read_params(request))
        base = self.base_url(request)
        calls = [] if query.bridge_id or query.conference_id else self._calls.list(
            acct.id, self.name, caller=query.from_, destination=query.to,
            newest_first=query.sort_order == "desc", limit=query.size + 1,
            offset=query.page * query.size)
        now = self._clock()
        docs = [render.call_doc(BwCall.of(c, user_id, base), base, now)
                for c in calls[:query.size]]
        filters = [(k, v) for k in ("from", "to", "sortOrder")
                   if isinstance(v := request.args.get(k), str)]
        link = render.page_links(f"{render.user_url(base, user_id)}/calls", query.page,
                                 query.size, has_next=len(calls) > query.size,
                                 filters=filters)
        return self.json(docs, headers={"Link": link})

    def call_events(self, request: Request, user_id: str, call_id: str) -> Response:
        call = self._call(request, user_id, call_id)
        return self.json(render.call_events(call))

    def call_recordings(self, request: Request, user_id: str, call_id: str) -> Response:
        call = self._call(request, user_id, call_id)
        recs = self._recordings.list(call.account, call_uuid=call.id, limit=1000)
        base = self.base_url(request)
        return self.json([render.recording_doc(r, base, user_id) for r in recs])

    # views: recordings and media -------------------------------------------------------
    def list_recordings(self, request: Request, user_id: str) -> Response:
        acct = self._account(request, user_id)
        page = parse_model(Page, request.args)
        recs = self._recordings.list(acct.id, limit=page.size + 1,
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
            media = self._recordings.media(rec.sid, acct.id)
        except NotFound:
            raise NotFound(f"The media '{name}' is not available (the recording is "
                           f"{render.resource_state(rec)})") from None
        return media_response(media, request.environ, mimetype=MEDIA_TYPES[rec.options.format],
                              download_name=name)

    def delete_media(self, request: Request, user_id: str, name: str) -> Response:
        """The media is the recording's file: deleting it deletes the recording (a running
        one is refused with 409)."""
        acct = self._account(request, user_id)
        rec = self._recording(acct, render.sid_of_media(name), name)
        if render.media_name(rec) != name:
            raise NotFound(f"The media '{name}' could not be found")
        self._recordings.delete(rec.sid, acct.id)
        log.info("recording %s on call %s: media %s deleted", rec.sid, rec.call_uuid, name)
        return Response(status=200)

    # notifications (on the ESL dispatcher: never block) ---------------------------------
    def on_call(self, event: CallEvent, call: Call) -> None:
        if call.source != self.name:
            return
        if event in (CallEvent.CREATED, CallEvent.ANSWERED) and call.meta.get(
                "recording_pending"):
            bw = self._view(call)
            bw.wishes.recording_pending = False
            self._calls.take_charge(call, self.name, bw.wishes.to_meta())
            gevent.spawn(self._start_quietly, bw)
        if event is CallEvent.ANSWERED:
            bw = self._view(call)
            self._notify(bw, "answer", render.call_event("answer", bw, bw.answered_at or
                                                         self._clock()))
        elif event is CallEvent.ENDED:
            self._completed(self._view(call))

    def on_recording(self, rec: Recording, previous: State) -> None:
        if rec.state not in TERMINAL or previous in TERMINAL:
            return
        call = self._calls.find(rec.call_uuid)
        if call is None or call.source != self.name or call.account != rec.account:
            return
        log.info("recording %s on call %s: %s", rec.sid, rec.call_uuid, rec.state.value)
        bw = self._view(call)
        self._notify(bw, "recording", render.recording_event(rec, bw))

    # helpers ---------------------------------------------------------------------------
    def _account(self, request: Request, user_id: str) -> AccountSettings:
        return self._accounts.bandwidth(user_id, request.headers.get("Authorization"))

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
        if known is not None and known.source == self.name:
            if known.account != acct.id:
                raise missing
            return BwCall.of(known, user_id, base)
        try:
            live = self._recordings.call(call_id, acct.id)
        except NotFound:
            raise missing from None
        return BwCall.of(live, user_id, base)

    def _recording(self, acct: AccountSettings, sid: str | None, shown: str) -> Recording:
        try:
            if sid is None:
                raise NotFound(shown)
            return self._recordings.get(sid, acct.id)
        except NotFound:
            raise NotFound(f"The recording '{shown}' could not be found") from None

    def _view(self, call: Call) -> BwCall:
        """A call this dialect placed or took charge of (its wishes name the user)."""
        return BwCall.of(call, str(call.meta.get("user_id", "")), str(call.meta.get("base", "")))

    def _wishes(self, user_id: str, spec: CreateCall, base: str) -> Wishes:
        return Wishes(
            user_id=user_id, base=base,
            call_timeout=spec.call_timeout or self._settings.call_timeout,
            callback_url=spec.callback_url or "", callback_method=spec.callback_http_method,
            callback_timeout_ms=spec.callback_timeout, fallback_url=spec.fallback_url or "",
            tag=spec.tag, recording_enabled=spec.recording_enabled,
            recording_max_duration=spec.recording_max_duration,
            recording_file_format=spec.recording_file_format,
            recording_pending=spec.recording_enabled)

    def _enable(self, call: BwCall) -> None:
        call.wishes.recording_enabled = True
        if self._running(call.id):
            return
        if self._calls.live(call.id) is None:
            call.wishes.recording_pending = True  # FreeSWITCH has not reported the call yet
            return
        self._start(call)

    def _disable(self, call: BwCall) -> None:
        call.wishes.recording_enabled = call.wishes.recording_pending = False
        for rec in self._running(call.id):
            self._recordings.stop(rec.sid, account=call.account)

    def _running(self, call_id: str) -> list[Recording]:
        return [r for r in self._recordings.for_call(call_id)
                if r.source == self.name and (r.state in ACTIVE or r.state is State.QUEUED)]

    def _start(self, call: BwCall) -> Recording:
        wishes = call.wishes
        options = RecordOptions(format=AudioFormat(wishes.recording_file_format),
                                max_length_s=wishes.recording_max_duration, answered_only=True)
        rec = self._recordings.start(call.id, options, account=call.account, source=self.name,
                                     meta={"callId": call.id, "userId": wishes.user_id})
        log.info("recording %s on call %s: recordingEnabled", rec.sid, call.id)
        return rec

    def _start_quietly(self, call: BwCall) -> None:
        try:
            self._start(call)
        except EslRecorderError as exc:
            log.warning("call %s: recording from answer could not start: %s", call.id, exc)

    def _transfer(self, call: BwCall, to: str, caller_id: str | None) -> None:
        self._calls.transfer(call.call, to, self._settings.transfer_context, caller_id)
        at = max(self._clock(), call.answered_at or call.created_at)  # never before answer
        call.wishes.transfers.append([at, to])
        self._calls.take_charge(call.call, self.name, call.wishes.to_meta())
        self._notify(call, "transfer", render.transfer_event(call, to, at))

    def _completed(self, call: BwCall) -> None:
        if call.wishes.recording_pending:
            call.wishes.recording_pending = False
            self._calls.take_charge(call.call, self.name, call.wishes.to_meta())
        log.info("call %s: completed (%s)", call.id, call.cause)
        if call.timed_out:
            self._notify(call, "timeout", render.call_event("timeout", call, call.ended_at))
        self._notify(call, "hangup", render.call_event("hangup", call, call.ended_at))

    def _notify(self, call: BwCall, kind: str, doc: dict[str, Any]) -> None:
        if not call.wishes.callback_url:
            return
        try:
            request = render.callback_request(call, doc, USER_AGENT)
        except InvalidArgument as exc:  # validated at create: only a changed rule gets here
            log.warning("call %s: %s event not sent: %s", call.id, kind, exc)
            return
        self._outbox.enqueue(request, key=call.id, dialect=self.name, kind=kind)
