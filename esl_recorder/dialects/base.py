"""What every dialect shares: the view runner, error mapping, parameter reading, models.

A view is three steps: parse the request (into a pydantic model, then `RecordOptions`), call
the service, render the result in the vendor's shape. Every failure becomes the dialect's own
error body through `Dialect.error_body`; nothing escapes as a bare 500.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from ..delivery.targets import TargetPolicy, TargetRefused
from ..errors import Conflict, EslError, InvalidArgument, NotFound, RecordingError, Unauthorized

if TYPE_CHECKING:
    from ..domain.recording import Recording, State
    from ..metrics import Metrics

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Params = dict[str, Any]
Endpoint = Callable[..., Response]  # endpoint(request, **path_arguments) -> Response

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Where the HTTP server puts the URL clients reach it at (http/links.py works it out).
BASE_URL_KEY = "esl_recorder.base_url"


class UnsupportedMediaType(InvalidArgument):
    """The body is neither a form nor a JSON object."""


class RequestModel(BaseModel):
    """Request parameters: vendor spellings as aliases; unknown names ignored (as vendors
    do, so SDKs that send more than we use keep working); unknown values rejected."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True,
                              str_strip_whitespace=True)


@dataclass(frozen=True)
class Operation:
    """A route's endpoint: who serves it, its metric/OpenAPI name, the view."""

    dialect: Dialect
    name: str
    view: Endpoint
    summary: str = ""
    request_model: type[BaseModel] | None = None
    response_status: int = 200
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)  # unhashable


class Dialect(ABC):
    """Base of the vendor modules. Subclasses set `name`, `prefix`, `security` and define
    `rules()` and `error_body()`; they may override `status_for()`."""

    name: ClassVar[str] = ""
    prefix: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()  # more prefixes serving the same routes
    security: ClassVar[dict[str, Any]] = {}  # OpenAPI security scheme
    auth_challenge: ClassVar[str | None] = None  # WWW-Authenticate value on 401

    def __init__(self, *, metrics: Metrics, public_base_url: str = "",
                 targets: TargetPolicy | None = None) -> None:
        self._metrics = metrics
        self._public_base_url = public_base_url
        self._targets = targets if targets is not None else TargetPolicy()

    # to implement -----------------------------------------------------------------------
    @abstractmethod
    def rules(self) -> list[Rule]:
        """The dialect's routes, made with `rule()`."""

    @abstractmethod
    def error_body(self, status: int, message: str) -> Any:
        """The vendor's JSON error document for `status`."""

    def on_recording(self, rec: Recording, previous: State) -> None:  # noqa: B027 (optional)
        """A recording this dialect started changed state (queue its callbacks here)."""

    # shared -----------------------------------------------------------------------------
    def rule(self, path: str, methods: list[str], name: str, view: Endpoint, *,
             summary: str = "", request_model: type[BaseModel] | None = None,
             response_status: int = 200) -> Rule:
        op = Operation(self, name, view, summary, request_model, response_status)
        return Rule(self.prefix + path, methods=methods, endpoint=op)

    def aliased(self, rules: list[Rule]) -> list[Rule]:
        """`rules` again under each alias prefix (operation names get the alias)."""
        out = []
        for alias in self.aliases:
            tag = "_" + alias.strip("/").replace("/", "_").replace("-", "")
            for rule in rules:
                op = rule.endpoint
                assert isinstance(op, Operation)
                out.append(Rule(alias + rule.rule[len(self.prefix):], methods=rule.methods,
                                endpoint=replace(op, name=op.name + tag)))
        return out

    def owns(self, path: str) -> bool:
        """Whether `path` is under this dialect (its unknown paths get its error shape)."""
        return any(path == p or path.startswith(p + "/") for p in (self.prefix, *self.aliases))

    def check_target(self, name: str, url: str | None) -> None:
        """Refuse, at request time, a callback URL whose literal address or localhost name
        deliveries may not reach (`name` is the parameter as the vendor spells it)."""
        if not url:
            return
        try:
            self._targets.check_url(url)
        except TargetRefused as exc:
            raise InvalidArgument(f"{name}: {exc}") from None

    def run(self, op: Operation, request: Request, args: Mapping[str, Any]) -> Response:
        try:
            return op.view(request, **args)
        except Exception as exc:  # every failure gets this dialect's shape
            return self.failure(exc, request)

    def failure(self, exc: Exception, request: Request | None = None) -> Response:
        status, message = self.status_for(exc)
        if status >= 500 and not isinstance(exc, (RecordingError, EslError)):
            where = f" answering {request.method} {request.path}" if request else ""
            log.exception("%s: unexpected error%s", self.name, where)
        if status == 401:
            self._metrics.api_auth_failures.labels(dialect=self.name).inc()
        response = self.json(self.error_body(status, message), status)
        if status == 401 and self.auth_challenge:
            response.headers["WWW-Authenticate"] = self.auth_challenge
        return response

    def status_for(self, exc: Exception) -> tuple[int, str]:
        """(HTTP status, message) for an exception; the message is safe to show."""
        if isinstance(exc, HTTPException):
            return exc.code or 500, exc.description or exc.name
        if isinstance(exc, Unauthorized):
            return 401, str(exc)
        if isinstance(exc, UnsupportedMediaType):
            return 415, str(exc)
        if isinstance(exc, NotFound):
            return 404, str(exc)
        if isinstance(exc, InvalidArgument):
            return 400, str(exc)
        if isinstance(exc, Conflict):
            return 409, str(exc)
        if isinstance(exc, (RecordingError, EslError)):
            return 503, str(exc)
        return 500, "internal error"

    @staticmethod
    def json(doc: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        body = json.dumps(doc, separators=(",", ":"))
        return Response(body, status=status, headers=dict(headers or {}),
                        content_type="application/json; charset=utf-8")

    def base_url(self, request: Request) -> str:
        """Where clients reach this server: the setting, else what the HTTP server worked
        out (never the request's unchecked Host header), else the server's own name."""
        environ = request.environ
        return (self._public_base_url or environ.get(BASE_URL_KEY)
                or f"{request.scheme}://{environ['SERVER_NAME']}:{environ['SERVER_PORT']}")


# --- parameters --------------------------------------------------------------------------------


def read_params(request: Request) -> Params:
    """Query parameters, then the body (form or JSON object) over them.

    A repeated form key gives a list (Twilio SDKs repeat RecordingStatusCallbackEvent)."""
    params: Params = _flatten(request.args)
    if request.method in ("GET", "HEAD", "DELETE"):
        return params
    mimetype = request.mimetype
    if mimetype in FORM_TYPES:  # parsed from the body as read (http.max_body_bytes: 413)
        params.update(_flatten(request.form))
        return params
    body = request.get_data(cache=True)  # enforces http.max_body_bytes (413)
    if not body:
        return params
    if mimetype == "application/json" or mimetype.endswith("+json"):
        params.update(json_object(body))
    else:
        raise UnsupportedMediaType(f"unsupported Content-Type {mimetype or '(none)'!r}: send "
                                   "application/x-www-form-urlencoded or application/json")
    return params


def _flatten(multi: Any) -> Params:
    out: Params = {}
    for key in multi:
        values = multi.getlist(key)
        out[key] = values[0] if len(values) == 1 else values
    return out


def json_object(body: bytes) -> Params:
    """The request body as a JSON object, or InvalidArgument saying what is wrong with it."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidArgument("the JSON body is nested too deeply") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("the JSON body must be an object")
    return doc


def parse_model(model: type[M], params: Mapping[str, Any]) -> M:
    """Validate `params` into `model`; the first problem becomes an InvalidArgument that
    names the parameter as the vendor spells it."""
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        value = err.get("input")
        shown = f" (got {value!r})" if isinstance(value, (str, int, float, bool)) else ""
        raise InvalidArgument(f"{where}: {err['msg']}{shown}"[:300]) from None


def events_list(value: Any) -> list[str]:
    """`RecordingStatusCallbackEvent`: space- or comma-separated, or repeated."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("must be a string of event names")
        out.extend(x for x in item.replace(",", " ").split() if x)
    return out
