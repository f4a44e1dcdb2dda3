"""What the two Twilio-like dialects (SignalWire LaML, Telnyx TeXML) share.

Both serve one resource, a call's recordings, under `/Accounts/{account}`:

    POST   .../Calls/{call}/Recordings[.json]        create
    GET    .../Calls/{call}/Recordings[.json]        list the call's recordings
    GET    .../Calls/{call}/Recordings/{sid}[.json]  fetch (.json) or media (none, .wav, .mp3)
    POST   .../Calls/{call}/Recordings/{sid}[.json]  update: Status paused / in-progress / stopped
    DELETE .../Calls/{call}/Recordings/{sid}[.json]  delete (204)
    GET    .../Recordings[.json]                     list the account's recordings
    GET    .../Recordings/{sid}[.json|.wav|.mp3]     fetch or media
    DELETE .../Recordings/{sid}[.json]               delete (204)

A subclass names its path arguments, request models and vendor spellings, and renders the
resource and the status-callback fields; parsing, paging, lookups and callbacks live here,
with the helpers of compat_render.py (renderings) and compat_callbacks.py (callback requests).

Decisions (one place): a recording sid or CallSid that is malformed, unknown or another
account's answers 404 with the same body; a well-formed request the recording's state
refuses (pause a finished recording, delete a running one) answers 422; `DateCreated`
values are a UTC day (YYYY-MM-DD) or an ISO 8601 instant (one second): `=` is within it,
`<` up to its end, `>` from its start; `PageToken` pins the listing to the recordings that
existed when page 0 was served, so new recordings do not shift later pages.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..accounts import AccountBook, vendor_id
from ..delivery.outbox import Outbox
from ..delivery.targets import TargetPolicy
from ..domain.names import RECORDING_SID, check_uuid
from ..domain.options import MEDIA_TYPES, RecordOptions
from ..domain.recording import Recording, State
from ..domain.service import RecordingService
from ..errors import Conflict, InvalidArgument, NotFound
from ..metrics import Metrics
from ..settings import AccountSettings
from .base import Dialect, parse_model, read_params
from .compat_callbacks import callback_event, outbound
from .compat_params import FILTER_NAMES, CreateParams, PageParams, UpdateParams
from .compat_render import View, split_extension
from .media import media_response

log = logging.getLogger(__name__)



class CompatDialect(Dialect):
    """Routes, views and callbacks of a Twilio-like recordings API."""

    args: ClassVar[tuple[str, str, str]]  # path argument names: account, call, recording
    create_model: ClassVar[type[CreateParams]]
    update_model: ClassVar[type[UpdateParams]]
    current_alias: ClassVar[str | None] = None  # sid meaning "the call's active recording"

    def __init__(self, *, accounts: AccountBook, recordings: RecordingService, outbox: Outbox,
                 metrics: Metrics, clock: Callable[[], float], default_format: str,
                 public_base_url: str = "", targets: TargetPolicy | None = None) -> None:
        super().__init__(metrics=metrics, public_base_url=public_base_url, targets=targets)
        self._accounts = accounts
        self._recordings = recordings
        self._outbox = outbox
        self._clock = clock
        self._default_format = default_format

    # to implement ---------------------------------------------------------------------
    @abstractmethod
    def authenticate(self, account_sid: str, request: Request) -> AccountSettings:
        """The account whose credentials the request carries for `account_sid`."""

    @abstractmethod
    def options(self, params: Any) -> RecordOptions:
        """The domain options a validated create request asks for."""

    @abstractmethod
    def render(self, rec: Recording, view: View) -> dict[str, Any]:
        """The vendor's recording resource."""

    @abstractmethod
    def callback_fields(self, rec: Recording, event: str, view: View) -> list[tuple[str, str]]:
        """The vendor's status-callback fields for `event`."""

    def signature_headers(self, acct: AccountSettings, url: str,
                          fields: list[tuple[str, str]]) -> dict[str, str]:
        return {}

    def send_time_signer(self, acct: AccountSettings) -> str:
        """The signature made at each attempt of this account's callbacks (a
        delivery.signing signer name), or "" for none."""
        return ""

    @abstractmethod
    def sid_in(self, text: str) -> str:
        """A sid from a path in our form ('RE' + 32 hex); NotFound when malformed."""

    def sid_out(self, sid: str) -> str:
        return sid

    # shared ---------------------------------------------------------------------------
    def rules(self) -> list[Rule]:
        a, c, s = self.args
        calls = f"/Accounts/<{a}>/Calls/<{c}>/Recordings"
        acct = f"/Accounts/<{a}>/Recordings"
        fetch = "A recording (.json) or its media (.wav, .mp3 or no extension)"
        delete = "Delete a finished recording and its media"
        rules = [
            self.rule(f"{calls}/<{s}>", ["GET"], "fetch_call_recording", self._fetch_call,
                      summary=fetch),
            self.rule(f"{calls}/<{s}>", ["POST"], "update_recording", self._update,
                      summary="Pause, resume or stop a recording",
                      request_model=self.update_model),
            self.rule(f"{calls}/<{s}>", ["DELETE"], "delete_call_recording",
                      self._delete_call, summary=delete, response_status=204),
            self.rule(f"{acct}/<{s}>", ["GET"], "fetch_recording", self._fetch_account,
                      summary=fetch),
            self.rule(f"{acct}/<{s}>", ["DELETE"], "delete_recording", self._delete_account,
                      summary=delete, response_status=204),
        ]
        for suffix, tag in (("", ""), (".json", "_json")):
            rules += [
                self.rule(calls + suffix, ["POST"], "create_recording" + tag, self._create,
                          summary="Start recording a call", request_model=self.create_model),
                self.rule(calls + suffix, ["GET"], "list_call_recordings" + tag,
                          self._list_call, summary="A call's recordings"),
                self.rule(acct + suffix, ["GET"], "list_recordings" + tag, self._list_account,
                          summary="The account's recordings"),
            ]
        return rules

    def status_for(self, exc: Exception) -> tuple[int, str]:
        status, message = (422, str(exc)) if isinstance(exc, Conflict) else (
            super().status_for(exc))
        return status, RECORDING_SID.sub(lambda m: self.sid_out(m[0]), message)  # sids as shown

    def failure(self, exc: Exception, request: Request | None = None) -> Response:
        if isinstance(exc, NotFound) and request is not None:
            # the same words whether it never existed or is another account's
            exc = NotFound(f"The requested resource {request.path[:300]} was not found")
        return super().failure(exc, request)

    # views ------------------------------------------------------------------------------
    def _create(self, request: Request, **args: str) -> Response:
        account_sid, call_sid, _ = self._path(args)
        acct = self.authenticate(account_sid, request)
        call_uuid = self.call_in(call_sid)
        params = parse_model(self.create_model, read_params(request))
        self.check_target("RecordingStatusCallback", params.callback_url)
        view = View(account_sid, self.base_url(request), call_scope=True)
        meta = {"base_url": view.base_url, "callback": params.callback()}
        rec = self._recordings.start(call_uuid, self.options(params), account=acct.id,
                                     source=self.name, meta=meta)
        return self.json(self.render(rec, view))

    def _update(self, request: Request, **args: str) -> Response:
        account_sid, call_sid, sid = self._path(args)
        acct = self.authenticate(account_sid, request)
        rec = self._resource(acct, sid, self.call_in(call_sid))
        params = parse_model(self.update_model, read_params(request))
        service = self._recordings
        if params.status == "paused":
            rec = service.pause(rec.sid, account=acct.id, behavior=params.pause_behavior())
        elif params.status == "in-progress":
            rec = service.resume(rec.sid, account=acct.id)
        else:
            rec = service.stop(rec.sid, account=acct.id)
        return self.json(self.render(rec, View(account_sid, self.base_url(request), True)))

    def _fetch_call(self, request: Request, **args: str) -> Response:
        account_sid, call_sid, sid = self._path(args)
        acct = self.authenticate(account_sid, request)
        return self._fetch(request, acct, account_sid, sid, self.call_in(call_sid))

    def _fetch_account(self, request: Request, **args: str) -> Response:
        account_sid, _, sid = self._path(args)
        return self._fetch(request, self.authenticate(account_sid, request), account_sid, sid)

    def _fetch(self, request: Request, acct: AccountSettings, account_sid: str, text: str,
               call_uuid: str | None = None) -> Response:
        sid, ext = split_extension(text)
        rec = self._recording(acct, sid, call_uuid, media=ext != "json")
        if ext == "json":
            view = View(account_sid, self.base_url(request), call_uuid is not None)
            return self.json(self.render(rec, view))
        fmt = rec.options.format.value
        if ext not in (None, fmt):
            raise NotFound(f"recording {rec.sid} is not {ext} (no transcoding)")
        media = self._recordings.media(rec.sid, acct.id)
        return media_response(media, request.environ, mimetype=MEDIA_TYPES[rec.options.format],
                              download_name=f"{self.sid_out(rec.sid)}.{fmt}")

    def _delete_call(self, request: Request, **args: str) -> Response:
        account_sid, call_sid, sid = self._path(args)
        acct = self.authenticate(account_sid, request)
        return self._delete(acct, sid, self.call_in(call_sid))

    def _delete_account(self, request: Request, **args: str) -> Response:
        account_sid, _, sid = self._path(args)
        return self._delete(self.authenticate(account_sid, request), sid)

    def _delete(self, acct: AccountSettings, text: str, call_uuid: str | None = None
                ) -> Response:
        rec = self._resource(acct, text, call_uuid)
        self._recordings.delete(rec.sid, acct.id)
        return Response(status=204)

    def _list_call(self, request: Request, **args: str) -> Response:
        account_sid, call_sid, _ = self._path(args)
        acct = self.authenticate(account_sid, request)
        return self._list(request, acct, account_sid, self.call_in(call_sid))

    def _list_account(self, request: Request, **args: str) -> Response:
        account_sid, _, _ = self._path(args)
        return self._list(request, self.authenticate(account_sid, request), account_sid)

    def _list(self, request: Request, acct: AccountSettings, account_sid: str,
              call_uuid: str | None = None) -> Response:
        params = parse_model(PageParams, read_params(request))
        view = View(account_sid, self.base_url(request), call_scope=call_uuid is not None)
        if call_uuid is None and params.call_sid is not None:
            call_uuid = self._filter_call(params.call_sid)
        now = self._clock()
        created_from, created_to = params.window(now)
        offset = params.page * params.page_size
        recs = self._recordings.list(acct.id, call_uuid=call_uuid, created_from=created_from,
                                     created_to=created_to, limit=params.page_size + 1,
                                     offset=offset)
        token = params.page_token or f"PT{int(now * 1e6) + 1:x}"
        return self.json(self._page(request, params, recs, view, token))

    def _page(self, request: Request, params: PageParams, recs: list[Recording], view: View,
              token: str) -> dict[str, Any]:
        size, page = params.page_size, params.page
        shown = recs[:size]
        filters = [(k, v) for k in FILTER_NAMES if isinstance(v := request.args.get(k), str)]

        def link(n: int, pinned: bool = True) -> str:
            query = [*filters, ("PageSize", str(size)), ("Page", str(n))]
            return f"{request.path}?{urlencode(query + ([('PageToken', token)] if pinned else []))}"

        return {
            "recordings": [self.render(r, view) for r in shown],
            "page": page, "page_size": size, "start": page * size,
            "end": page * size + max(len(shown) - 1, 0),
            "uri": link(page, params.page_token is not None),
            "first_page_uri": link(0, False),
            "next_page_uri": link(page + 1) if len(recs) > size else None,
            "previous_page_uri": link(page - 1) if page > 0 else None,
        }

    # links ------------------------------------------------------------------------------
    def account_uri(self, rec: Recording, view: View) -> str:
        """`{prefix}/Accounts/{account}/Recordings/{sid}`: + `.json` the resource, else media."""
        return f"{self.prefix}/Accounts/{view.account_sid}/Recordings/{self.sid_out(rec.sid)}"

    def resource_uri(self, rec: Recording, view: View) -> str:
        """The resource's `uri`: under the call when it was addressed there."""
        if view.call_scope:
            return (f"{self.prefix}/Accounts/{view.account_sid}/Calls/{rec.call_uuid}"
                    f"/Recordings/{self.sid_out(rec.sid)}.json")
        return self.account_uri(rec, view) + ".json"

    def transcriptions_uri(self, rec: Recording, view: View) -> str:
        return self.account_uri(rec, view) + "/Transcriptions.json"

    # lookups ----------------------------------------------------------------------------
    def _path(self, args: Mapping[str, str]) -> tuple[str, str, str]:
        a, c, s = self.args
        return args.get(a, ""), args.get(c, ""), args.get(s, "")

    def call_in(self, text: str) -> str:
        """A CallSid from a path: a FreeSWITCH channel UUID, else 404."""
        try:
            return check_uuid(text)
        except InvalidArgument:
            raise NotFound(f"no call {text!r}") from None

    def _filter_call(self, text: str) -> str:
        try:
            return check_uuid(text)
        except InvalidArgument:
            raise InvalidArgument("CallSid: not a call sid") from None

    def _resource(self, acct: AccountSettings, text: str, call_uuid: str | None
                  ) -> Recording:
        """The recording a `{sid}` or `{sid}.json` path segment names (not its media)."""
        sid, ext = split_extension(text)
        if ext not in (None, "json"):
            raise NotFound(f"no recording {text!r}")
        return self._recording(acct, sid, call_uuid, media=False)

    def _recording(self, acct: AccountSettings, text: str, call_uuid: str | None,
                   media: bool) -> Recording:
        if call_uuid is not None and text == self.current_alias and not media:
            return self._recordings.current(call_uuid, acct.id)
        rec = self._recordings.get(self.sid_in(text), acct.id)
        if call_uuid is not None and rec.call_uuid != call_uuid:
            raise NotFound(f"no recording {text} on call {call_uuid}")
        return rec

    # callbacks --------------------------------------------------------------------------
    def on_recording(self, rec: Recording, previous: State) -> None:
        spec = rec.meta.get("callback")
        event = callback_event(rec, previous)
        if not spec or event is None or event not in spec["events"]:
            return
        acct = self._accounts.get(rec.account)
        if acct is None:
            log.warning("recording %s: account %r is no longer configured: no %s callback",
                        rec.sid, rec.account, event)
            return
        view = View(vendor_id(acct, self.name), rec.meta.get("base_url", ""), False)
        fields = self.callback_fields(rec, event, view)
        request = outbound(spec["url"], spec["method"], fields,
                           lambda url, signed: self.signature_headers(acct, url, signed),
                           self.send_time_signer(acct))
        self._outbox.enqueue(request, key=rec.sid, dialect=self.name,
                                kind="recording-status")
        log.info("recording %s on call %s: %s callback queued (%s to %s)", rec.sid,
                 rec.call_uuid, event, spec["method"], urlsplit(spec["url"]).hostname)
