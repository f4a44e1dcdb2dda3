"""Kazoo's Crossbar API, the parts about recording (2600hz/kazoo applications/crossbar):

- `GET` / `PATCH /v2/accounts/{account_id}`, `.../users/{user_id}`, `.../devices/{device_id}`:
  the recording policy documents (`record_call`, `call_recording`; domain.policies). A PATCH
  body is `{"data": {...}}`, merged into the document (JSON merge patch: `null` removes a
  key), checked whole before it is kept (a bad one changes nothing), in force for the next
  call. Users and devices exist here as their recording policies: a PATCH makes one.
- `GET /v2/accounts/{account_id}/recordings` and `.../users/{user_id}/recordings`: the
  recordings, newest first, paginated (`page_size`, `start_key` -> `next_start_key`),
  `created_from` / `created_to` in Gregorian seconds as Kazoo counts time.
- `GET /v2/accounts/{account_id}/recordings/{recording_id}`: its `call_recording` document,
  or its media with `Accept: audio/mpeg|audio/wav` or `?accept=` (`inline=true` to show
  it); `DELETE` removes the recording and its file.

Auth: the account's `X-Auth-Token` (accounts[].kazoo_auth_token). Every answer is Crossbar's
envelope (`data`, `status`, `request_id`, `revision`, `timestamp`, `auth_token` (never
echoed)); errors `{"status": "error", "error": "<code>", "message", "data"}`.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from pydantic import ConfigDict
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..accounts import AccountBook
from ..delivery.request import origin
from ..delivery.targets import TargetPolicy
from ..delivery.uploads import KIND as UPLOAD
from ..domain.kazoo_media import stored_name
from ..domain.options import MEDIA_TYPES
from ..domain.policies import Key, PolicyBook
from ..domain.record_params import Level
from ..domain.recording import Recording, State
from ..domain.service import RecordingService
from ..errors import InvalidArgument, NotFound
from ..metrics import Metrics
from ..settings import ACCOUNT_ID, AccountSettings
from .base import Dialect, Operation, RequestModel, read_params
from .media import media_response

if TYPE_CHECKING:
    from ..delivery.outbox import Outbox

log = logging.getLogger(__name__)

SOURCE = "kazoo"
GREGORIAN_OFFSET = 62167219200  # seconds from year 0 (Kazoo's clock) to 1970
PAGE_SIZE, MAX_PAGE_SIZE = 50, 500
# Crossbar's system errors (cb_context:add_system_error/2): the error's name is the
# envelope's `message`, its text the `data.message`.
_ERRORS = {400: ("invalid_request", "invalid request"),
           401: ("invalid_credentials", "invalid credentials"),
           404: ("bad_identifier", "bad identifier"),
           405: ("invalid_method", "method not allowed"),
           409: ("datastore_conflict", "conflicting documents"),
           413: ("request_entity_too_large", "request entity too large"),
           415: ("unsupported_media_type", "unsupported media type"),
           500: ("unspecified_fault", "unspecified fault"),
           503: ("datastore_fault", "datastore fatal error")}
_MEDIA_ACCEPT = {"audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/wav": "wav",
                 "audio/x-wav": "wav", "audio/*": ""}


class ValidationFailed(InvalidArgument):
    """A document that does not pass: Crossbar's 400 `validation error`."""


class PatchBody(RequestModel):
    """`{"data": {...}}`: the fields to change."""

    model_config = ConfigDict(extra="allow")
    data: dict[str, Any]


def envelope(data: Any, *, revision: str = "", status: str = "success",
             **more: Any) -> dict[str, Any]:
    return {"auth_token": "", "data": data, "request_id": uuid.uuid4().hex,
            "revision": revision or "undefined", "status": status,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **more}


def gregorian(at: float | None) -> int | None:
    return None if at is None else int(at) + GREGORIAN_OFFSET


def call_id(rec: Recording) -> str:
    """The call the recording was made for (it keeps that id when it followed a transfer
    to another leg, as Kazoo's listener keeps its call)."""
    return str(rec.meta.get("call_id") or rec.call_uuid)


def media_name(rec: Recording) -> str:
    """The recording's stored name: its `media_name` (with the extension), else Kazoo's
    upload name of it."""
    ext = rec.options.format.value
    name = str(rec.meta.get("media_name") or "")
    return stored_name(name, ext) if name else f"call_recording_{call_id(rec)}.{ext}"


def upload_url(base: str, rec: Recording) -> str:
    """Where Kazoo sends a finished recording (kzc_recording.erl, handler_fields): the file
    name `call_recording_<call id>.<ext>` after the URL, then the call's fields as query
    parameters. When the URL has a query already the name becomes the value of its last
    parameter if that one is `name` or `name=`, else of an added `recording=`."""
    meta = rec.meta
    call = call_id(rec)
    name = f"call_recording_{call}.{rec.options.format.value}"
    query = urlsplit(base).query
    if not query:
        head, sep = "", "?"
    else:
        _, eq, value = query.split("&")[-1].partition("=")
        head, sep = ("=" if not eq else "" if not value else "&recording="), "&"
    month = time.strftime("%Y%m", time.gmtime(rec.created_at))
    duration_ms = rec.file.duration_ms if rec.file else (rec.fs_record_ms or 0)
    fields = [("from", meta.get("from", "")), ("to", meta.get("to", "")),
              ("caller_id_name", meta.get("caller_id_name", "")),
              ("caller_id_number", meta.get("from", "")), ("call_id", call),
              ("cdr_id", f"{month}-{call}"),
              ("interaction_id", meta.get("interaction_id", "")),
              ("owner_id", meta.get("user_id", "")), ("account_id", rec.account),
              ("start", gregorian(rec.started_at or rec.created_at)),
              ("duration_ms", duration_ms), ("recording_id", rec.sid)]
    tail = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in fields)
    return f"{base}{head}{name}{sep}{tail}"


def recording_doc(rec: Recording) -> dict[str, Any]:
    """Kazoo's `call_recording` document (kzc_recording.erl's fields)."""
    meta = rec.meta
    ext = rec.options.format.value
    duration_ms = rec.file.duration_ms if rec.file else (rec.fs_record_ms or 0)
    name = media_name(rec)
    return {
        "id": rec.sid, "_id": rec.sid, "name": name, "description": f"recording {name}",
        "content_type": MEDIA_TYPES[rec.options.format].replace("x-wav", "wav"),
        "media_type": ext, "media_source": "recorded", "source_type": SOURCE,
        "from": meta.get("from", ""), "to": meta.get("to", ""),
        "caller_id_number": meta.get("from", ""), "callee_id_number": meta.get("to", ""),
        "caller_id_name": meta.get("caller_id_name", ""),
        "interaction_id": meta.get("interaction_id", ""),
        "direction": meta.get("direction", ""), "call_id": call_id(rec),
        "start": gregorian(rec.started_at or rec.created_at),
        "duration": duration_ms // 1000, "duration_ms": duration_ms,
        "owner_id": meta.get("user_id", ""), "endpoint_id": meta.get("device_id", ""),
        "origin": meta.get("origin", ""), "url": meta.get("url", ""),
        "status": rec.state.value, "custom_channel_vars": {
            "account_id": rec.account, "policy_owner_id": meta.get("owner_id", ""),
            "policy_level": meta.get("level", ""),
            "Call-Interaction-ID": meta.get("interaction_id", "")},
    }


class KazooDialect(Dialect):
    name = SOURCE
    prefix = "/v2/accounts"
    security = {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}

    def __init__(self, *, accounts: AccountBook, recordings: RecordingService,
                 policies: PolicyBook, outbox: Outbox, metrics: Metrics,
                 targets: TargetPolicy | None = None) -> None:
        super().__init__(metrics=metrics, targets=targets)
        self._accounts = accounts
        self._recordings = recordings
        self._policies = policies
        self._outbox = outbox

    def on_recording(self, rec: Recording, previous: State) -> None:
        """A completed recording with a `url` is queued for upload there (in the
        transaction of the change that completed it)."""
        base = rec.meta.get("url")
        if (rec.state is not State.COMPLETED or previous is State.COMPLETED or not base
                or rec.file is None):
            return
        url = upload_url(str(base), rec)
        payload = {"sid": rec.sid, "path": rec.path, "size": rec.file.size,
                   "sha256": rec.file.sha256, "url": url,
                   "method": str(rec.meta.get("method", "put")).upper(),
                   "content_type": MEDIA_TYPES[rec.options.format]}
        self._outbox.put(UPLOAD, f"upload:{rec.sid}", origin(url), payload, dialect=SOURCE)
        log.info("recording %s: upload queued (%s)", rec.sid, payload["method"])

    def rules(self) -> list[Rule]:
        patch = {"content_types": ("application/json",),
                 "errors": {"400": "validation error: the document is left as it was"}}
        doc = "The recording policy of the {}: record_call, call_recording"
        return [
            self.rule("/<account_id>", ["GET"], "get_account", self._get_account,
                      summary=doc.format("account")),
            self._patch_rule("/<account_id>", "patch_account", self._patch_account,
                             doc.format("account"), patch),
            self.rule("/<account_id>/users/<user_id>", ["GET"], "get_user", self._get_user,
                      summary=doc.format("user")),
            self._patch_rule("/<account_id>/users/<user_id>", "patch_user", self._patch_user,
                             doc.format("user"), patch),
            self.rule("/<account_id>/devices/<device_id>", ["GET"], "get_device",
                      self._get_device, summary=doc.format("device")),
            self._patch_rule("/<account_id>/devices/<device_id>", "patch_device",
                             self._patch_device, doc.format("device"), patch),
            self.rule("/<account_id>/recordings", ["GET"], "list_recordings",
                      self._list, summary="The account's recordings, newest first"),
            self.rule("/<account_id>/users/<user_id>/recordings", ["GET"],
                      "list_user_recordings", self._list,
                      summary="A user's recordings, newest first"),
            self.rule("/<account_id>/recordings/<recording_sid>", ["GET"], "get_recording",
                      self._get_recording,
                      summary="A recording's call_recording document, or its media (Accept: "
                              "audio/mpeg or audio/wav, or ?accept=)"),
            self.rule("/<account_id>/recordings/<recording_sid>", ["DELETE"],
                      "delete_recording", self._delete_recording,
                      summary="Delete a recording and its file"),
        ]

    def _patch_rule(self, path: str, name: str, view: Any, summary: str,
                    extra: dict[str, Any]) -> Rule:
        op = Operation(self, name, view, summary, PatchBody, extra=extra)
        return Rule(self.prefix + path, methods=["PATCH"], endpoint=op)

    # errors -----------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        """Crossbar's error envelope. A 401 says no more than Crossbar's (nothing about
        which of the account or the token was wrong); other errors keep the problem as
        `data.cause`."""
        name, text = _ERRORS.get(status, ("unspecified_fault", "error"))
        data = {"message": text} if status == 401 else {"message": text, "cause": message}
        return envelope(data, status="error", error=str(status), message=name)

    def failure(self, exc: Exception, request: Request | None = None) -> Response:
        if isinstance(exc, ValidationFailed):
            field, _, problem = str(exc).partition(": ")
            body = envelope({field: {"validation": {"message": problem or str(exc)}}},
                            status="error", error="400", message="validation error")
            return self.json(body, 400)
        return super().failure(exc, request)

    # policies ---------------------------------------------------------------------------
    def _get_account(self, request: Request, account_id: str) -> Response:
        acct = self._auth(request, account_id)
        return self._policy_answer((acct.id, Level.ACCOUNT, acct.id), account_id, True)

    def _patch_account(self, request: Request, account_id: str) -> Response:
        acct = self._auth(request, account_id)
        key = (acct.id, Level.ACCOUNT, acct.id)
        self._patch(request, key)
        return self._policy_answer(key, account_id, True)

    def _get_user(self, request: Request, account_id: str, user_id: str) -> Response:
        return self._endpoint(request, account_id, Level.USER, user_id, patch=False)

    def _patch_user(self, request: Request, account_id: str, user_id: str) -> Response:
        return self._endpoint(request, account_id, Level.USER, user_id, patch=True)

    def _get_device(self, request: Request, account_id: str, device_id: str) -> Response:
        return self._endpoint(request, account_id, Level.DEVICE, device_id, patch=False)

    def _patch_device(self, request: Request, account_id: str, device_id: str) -> Response:
        return self._endpoint(request, account_id, Level.DEVICE, device_id, patch=True)

    def _endpoint(self, request: Request, account_id: str, level: Level, owner_id: str, *,
                  patch: bool) -> Response:
        acct = self._auth(request, account_id)
        key = (acct.id, level, _owner(owner_id))
        if patch:
            self._patch(request, key)
        return self._policy_answer(key, owner_id, False)

    def _patch(self, request: Request, key: Key) -> None:
        params = read_params(request)
        data = params.get("data")
        if not isinstance(data, dict):
            raise InvalidArgument("the body must be {\"data\": {...}}")
        try:
            self._policies.patch(key, data, check_url=self._targets.check_url)
        except InvalidArgument as exc:
            raise ValidationFailed(str(exc)) from None

    def _policy_answer(self, key: Key, shown_id: str, always: bool) -> Response:
        self._policies.refresh()  # another daemon on the same store may have changed it
        doc = self._policies.get(key)
        if doc is None and not always:
            raise NotFound(f"no {key[1].value} {key[2]}")
        body = dict(doc.doc if doc is not None else {})
        body["id"] = shown_id
        revision = f"{self._policies.revision(key)}-{doc.revision}" if doc else "0-new"
        return self.json(envelope(body, revision=revision))

    # recordings -------------------------------------------------------------------------
    def _list(self, request: Request, account_id: str, user_id: str | None = None) -> Response:
        acct = self._auth(request, account_id)
        args = request.args
        size = _int_arg(args.get("page_size"), PAGE_SIZE, "page_size", 1, MAX_PAGE_SIZE) or 1
        start = _int_arg(args.get("start_key"), 0, "start_key", 0, 10**9) or 0
        created = [_int_arg(args.get(n), None, n, 0, 10**12)
                   for n in ("created_from", "created_to")]
        bounds = [None if c is None else float(c - GREGORIAN_OFFSET) for c in created]
        recs, next_key = self._page(acct.id, user_id and _owner(user_id), size, start,
                                    bounds[0], bounds[1])
        more: dict[str, Any] = {"page_size": len(recs), "start_key": str(start)}
        if next_key is not None:
            more["next_start_key"] = str(next_key)
        return self.json(envelope([recording_doc(r) for r in recs], **more))

    def _page(self, account: str, user: str | None, size: int, start: int,
              created_from: float | None, created_to: float | None
              ) -> tuple[list[Recording], int | None]:
        """One page (and where the next starts); a user's are filtered from the account's."""
        out: list[Recording] = []
        offset = start
        while len(out) <= size:
            batch = self._recordings.list(account, created_from=created_from,
                                          created_to=created_to, limit=MAX_PAGE_SIZE,
                                          offset=offset)
            for i, rec in enumerate(batch):
                if user is None or rec.meta.get("user_id") == user:
                    if len(out) == size:
                        return out, offset + i
                    out.append(rec)
            if len(batch) < MAX_PAGE_SIZE:
                return out, None
            offset += len(batch)
        return out, None

    def _get_recording(self, request: Request, account_id: str, recording_sid: str) -> Response:
        acct = self._auth(request, account_id)
        rec = self._recordings.get(_owner(recording_sid), acct.id)
        wanted = (request.args.get("accept") or request.headers.get("Accept", "")).lower()
        kind = next((k for k in _MEDIA_ACCEPT if k in wanted), None)
        if kind is None:
            return self.json(envelope(recording_doc(rec)))
        media = self._recordings.media(rec.sid, acct.id)
        response = media_response(media, request.environ,
                                  mimetype=MEDIA_TYPES[rec.options.format],
                                  download_name=media_name(rec))
        if request.args.get("inline") == "true":
            response.headers["Content-Disposition"] = "inline"
        return response

    def _delete_recording(self, request: Request, account_id: str,
                          recording_sid: str) -> Response:
        acct = self._auth(request, account_id)
        rec = self._recordings.get(_owner(recording_sid), acct.id)
        doc = recording_doc(rec)
        self._recordings.delete(rec.sid, acct.id)
        return self.json(envelope(doc))

    def _auth(self, request: Request, account_id: str) -> AccountSettings:
        """`X-Auth-Token`, else `Authorization: Bearer <token>` (Crossbar takes both)."""
        token = request.headers.get("X-Auth-Token")
        if token is None:
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else None
        return self._accounts.kazoo(account_id, token)


def _owner(value: str) -> str:
    if not ACCOUNT_ID.fullmatch(value):
        raise NotFound(f"bad identifier {value[:64]!r}")
    return value


def _int_arg(value: str | None, default: int | None, name: str, low: int,
             high: int) -> int | None:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidArgument(f"{name}: must be a whole number") from None
    if not low <= number <= high:
        raise InvalidArgument(f"{name}: must be {low}..{high}")
    return number
