"""Bad input on every route of every dialect, explored with hypothesis.

The routes come from the daemon's own url_map, so a new route is covered without a change
here. Each example is one real HTTP request (http.client: the path goes out byte for byte,
no client-side normalisation of `..`) to a daemon attached to the simulator, with a drawn
method, path ids (the caller's own, another account's, unknown, malformed, traversal-like,
very long), Content-Type, body (random bytes, random JSON, forms and JSON objects using the
operation's real parameter names with wrong values, bodies over http.max_body_bytes) and
credentials (none, wrong, malformed, another account's, right).

Properties: never a 5xx (FreeSWITCH is up); every error is JSON in the exact shape of the
dialect that owns the path; with the right credentials another account's call or recording
answers exactly like one that does not exist (same status, same body but for the id).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from daemon.conftest import FAST_ESL, Daemon
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from store_backends import Backends
from werkzeug.routing import Rule

from esl_recorder.app import build_app
from esl_recorder.dialects.bandwidth_models import Page
from esl_recorder.dialects.base import Operation
from esl_recorder.dialects.compat import PageParams
from esl_recorder.domain.recording import State
from esl_recorder.settings import settings_from_mapping
from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import ACCOUNTS, basic

ACME, GLOBEX = ACCOUNTS
ACCOUNT_ARGS = {"AccountSid", "account_sid", "user_id", "account_id", "device_id"}
CALL_ARGS = {"CallSid", "call_sid", "call_id"}
RECORDING_ARGS = {"Sid", "recording_sid", "recording_id", "name"}
FORM = "application/x-www-form-urlencoded"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# A request line of 8 KiB or more is answered 414 by the server before any dialect sees it
# (tests/edge/test_limits.py): paths and queries here stay below that (ids alone go up to
# 2500 characters).
LINE_MAX = 8000
EXAMPLES = settings(max_examples=350, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- the vendors' identities and error shapes ----------------------------------------------


def account_path_id(acct: dict[str, str], dialect: str) -> str:
    return {"laml": acct["laml_project_id"], "texml": acct["texml_account_sid"],
            "bandwidth": acct["bandwidth_user_id"],
            "calling": acct["laml_project_id"],  # its user name: no account path
            "swml": acct["laml_project_id"],  # the same (SignalWire's REST auth)
            "kazoo": acct.get("kazoo_account_id") or acct["id"]}[dialect]


def credentials(acct: dict[str, str], dialect: str) -> str:
    if dialect in ("laml", "calling", "swml"):
        return basic(acct["laml_project_id"], acct["laml_token"])
    if dialect == "texml":
        return f"Bearer {acct['texml_api_key']}"
    if dialect == "kazoo":  # Crossbar takes the token as a Bearer too
        return f"Bearer {acct['kazoo_auth_token']}"
    return basic(acct["bandwidth_token"], acct["bandwidth_secret"])


def wrong_credentials(dialect: str) -> list[str]:
    user = account_path_id(ACME, dialect)
    return [basic(user, "wrong-secret"), "Bearer wrong-key", "Basic !!!not-base64!!!",
            "Basic " + base64.b64encode(b"no-colon").decode(), "Basic ", "Bearer ",
            "Digest username=x", basic("", ""), basic(user, "")]


def assert_error_shape(dialect: str, status: int, content_type: str, body: bytes) -> None:
    """LaML {code, message, more_info, status}; TeXML {"errors": [{code, title, detail}]};
    Bandwidth {category, code, message, details}; the Calling API {"errors": [{type, code,
    message, attribute, url}]}."""
    assert content_type.startswith("application/json"), (status, content_type, body[:200])
    doc = json.loads(body)
    if dialect == "laml":
        assert set(doc) == {"code", "message", "more_info", "status"}, doc
        assert doc["status"] == status and isinstance(doc["code"], int), doc
        assert isinstance(doc["message"], str) and doc["message"], doc
        assert isinstance(doc["more_info"], str) and doc["more_info"].startswith("https://")
    elif dialect == "texml":
        assert set(doc) == {"errors"} and isinstance(doc["errors"], list) and doc["errors"]
        for err in doc["errors"]:
            assert set(err) == {"code", "title", "detail"}, doc
            assert all(isinstance(v, str) and v for v in err.values()), doc
    elif dialect in ("calling", "swml"):  # SignalWire's REST shape, both
        assert set(doc) == {"errors"} and isinstance(doc["errors"], list) and doc["errors"]
        for err in doc["errors"]:
            assert set(err) == {"type", "code", "message", "attribute", "url"}, doc
            assert all(isinstance(err[k], str) and err[k] for k in ("type", "code", "message",
                                                                    "url")), doc
            assert err["attribute"] is None or isinstance(err["attribute"], str), doc
    elif dialect == "kazoo":  # Crossbar's envelope
        assert set(doc) == {"auth_token", "data", "error", "message", "request_id", "revision",
                            "status", "timestamp"}, doc
        assert doc["status"] == "error" and doc["error"] == str(status), doc
        assert isinstance(doc["message"], str) and doc["message"], doc
    else:
        assert dialect == "bandwidth", dialect
        assert set(doc) == {"category", "code", "message", "details"}, doc
        assert all(isinstance(doc[k], str) and doc[k] for k in ("category", "code", "message"))
        assert isinstance(doc["details"], list), doc


# --- a daemon for the module, with calls and recordings of two accounts ---------------------


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(repr=False)
class World:
    daemon: Daemon
    port: int
    rules: list[Rule]
    calls: dict[str, str]  # acme / globex -> a live answered call
    recordings: dict[str, list[str]]  # acme / globex -> [in progress, completed]

    def send(self, req: Request) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.putrequest(req.method, req.path, skip_accept_encoding=True)
            for name, value in req.headers.items():
                conn.putheader(name, value)
            if req.body or req.method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(req.body)))
            conn.endheaders(req.body or None)
            response = conn.getresponse()
            return Answer(response.status, response.getheader("Content-Type") or "",
                          response.read())
        finally:
            conn.close()

    def __repr__(self) -> str:  # hypothesis prints it with every failing example
        return f"World(calls={self.calls}, recordings={self.recordings})"

    @property
    def max_body(self) -> int:
        return self.daemon.app.settings.http.max_body_bytes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, backends: Backends) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("bad_input")
    switch = FakeSwitch(clock="manual", recordings_root=str(tmp / "fs")).start()
    settings_ = settings_from_mapping({
        "nodes": [{"name": "fs1", "host": switch.address[0], "port": switch.address[1],
                   "password": "ClueCon"}],
        "recording": {"root": str(tmp / "recordings")},
        **backends.sections(tmp),
        "http": {"port": 0}, "esl": FAST_ESL, "accounts": ACCOUNTS,
        "delivery": {"initial_delay": 0.05, "max_delay": 0.2},
    }, source="<test_bad_input>", env={})
    daemon = Daemon(build_app(settings_))
    daemon.app.start()
    try:
        assert daemon.app.clients["fs1"].wait_connected(5)
        assert daemon.app.http is not None
        world = World(daemon, daemon.app.http.server_port,
                      list(daemon.app.api.url_map.iter_rules()), {}, {})
        for acct in (ACME, GLOBEX):
            _populate(world, switch, acct)
        yield world
    finally:
        daemon.stop()
        switch.stop()


def _populate(world: World, switch: FakeSwitch, acct: dict[str, str]) -> None:
    """A live call with a recording in progress and a completed one."""
    variable = world.daemon.app.settings.identity.account_variable
    call = switch.inbound_call("tone_a", {variable: acct["id"]}, answered=True)
    world.daemon.wait_call(call)
    base = f"/api/laml/2010-04-01/Accounts/{acct['laml_project_id']}/Calls/{call}/Recordings"
    auth = {"Authorization": credentials(acct, "laml"), "Content-Type": FORM}
    sids = []
    for _ in range(2):
        answer = world.send(Request("POST", base + ".json", auth, b"RecordingChannels=dual"))
        assert answer.status == 200, answer
        sids.append(json.loads(answer.body)["sid"])
        world.daemon.wait_state(sids[-1], State.IN_PROGRESS)
    switch.advance(2.0)
    answer = world.send(Request("POST", f"{base}/{sids[1]}.json", auth, b"Status=stopped"))
    assert answer.status == 200, answer
    world.daemon.wait_state(sids[1], State.COMPLETED)
    world.calls[acct["id"]] = call
    world.recordings[acct["id"]] = sids


# --- drawing requests ---------------------------------------------------------------------


def owner(rule: Rule) -> str:
    op = rule.endpoint
    assert isinstance(op, Operation)
    return op.dialect.name


def recording_forms(dialect: str, arg: str, sid: str) -> list[str]:
    """The spellings a dialect accepts for a recording in a path."""
    hex_ = sid[2:]
    if arg == "recording_id":
        return [f"rec-{hex_}"]
    if arg == "name":
        return [f"rec-{hex_}.wav", f"rec-{hex_}.mp3"]
    plain = [sid, str(uuid.UUID(hex=hex_))] if dialect == "texml" else [sid]
    return [p + ext for p in plain for ext in ("", ".json", ".wav", ".mp3")]


def own_values(world: World, dialect: str, arg: str, acct: dict[str, str]) -> list[str]:
    if arg in ACCOUNT_ARGS:
        return [account_path_id(acct, dialect)]
    if arg in CALL_ARGS:
        return [world.calls[acct["id"]]]
    if arg in RECORDING_ARGS:
        return [f for sid in world.recordings[acct["id"]]
                for f in recording_forms(dialect, arg, sid)]
    return []


def unknown_values(dialect: str, arg: str) -> list[str]:
    if arg in ACCOUNT_ARGS:
        return [str(uuid.uuid4()), "u-nobody"]
    if arg in CALL_ARGS:
        return [str(uuid.uuid4())]
    return recording_forms(dialect, arg, "RE" + uuid.uuid4().hex)


JUNK_IDS = ["", ".", "..", "../..", "../../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd",
            "%2e%2e%2f%2e%2e", "....//....//", "/etc/passwd", "RE" + "0" * 31 + "/../x",
            "Twilio.CURRENT", "twilio.current", "%00", "a\x00b", "rec-", "rec-.wav",
            "RE" + "g" * 32, "RE" + "A" * 32, "\u00e9\u00e8", "x" * 2500, ";rm -rf /",
            "{uuid}", "00000000-0000-0000-0000-000000000000"]


def path_value(world: World, dialect: str, arg: str) -> st.SearchStrategy[str]:
    known = own_values(world, dialect, arg, ACME) + own_values(world, dialect, arg, GLOBEX)
    return st.one_of(
        st.sampled_from(known or JUNK_IDS),
        st.sampled_from(unknown_values(dialect, arg)),
        st.sampled_from(JUNK_IDS),
        st.text(max_size=30),
        st.integers(200, 2500).map(lambda n: "RE" + "f" * n),
    )


def encoded(value: str, raw: bool) -> str:
    """Percent-encoded, or with `/`, `%` and `.` left raw (`../` reaches the server)."""
    return quote(value, safe="/%.:@" if raw else "")


def fill(rule: Rule, values: dict[str, str]) -> str:
    path = rule.rule
    for arg in rule.arguments:
        path = path.replace(f"<{arg}>", values[arg], 1)
    assert "<" not in path, f"a converter in {rule.rule}: teach this test about it"
    return path


def param_names(rule: Rule) -> list[str]:
    op = rule.endpoint
    assert isinstance(op, Operation)
    names = [f.alias or n for model in (op.request_model, PageParams, Page) if model
             for n, f in model.model_fields.items()]
    return [*names, "Status", "PauseBehavior", "recordingEnabled", "sipHeaders", "command",
            "id", "params", "x"]


WRONG = st.one_of(
    st.text(max_size=20), st.sampled_from(
        ["", "-1", "0", "1e309", "99999999999999999999999", "true", "null", "[]", "{}",
         "http://", "ftp://example.com/x", "javascript:alert(1)", "http://127.0.0.1:1/x y",
         "../../etc/passwd", "\x00", "in-progress completed bogus", "DUAL", "mono,dual",
         "paused", "stopped", "2021-13-45", "PT", "PTzz", "rec-" + "0" * 32]),
    st.text(min_size=300, max_size=3000),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)


@st.composite
def bodies(draw: st.DrawFn, rule: Rule, max_body: int) -> tuple[str | None, bytes]:
    """(Content-Type, body)."""
    names = param_names(rule)
    name = st.one_of(st.sampled_from(names), st.text(max_size=12))
    kind = draw(st.sampled_from(["none", "bytes", "json", "json-params", "form", "big"]))
    if kind == "none":
        body = b""
    elif kind == "bytes":
        body = draw(st.binary(max_size=600))
    elif kind == "json":
        body = json.dumps(draw(JSON_VALUES)).encode()
    elif kind == "json-params":
        doc = draw(st.dictionaries(name, st.one_of(WRONG, JSON_VALUES), max_size=6))
        body = json.dumps(doc).encode()
    elif kind == "form":
        pairs = draw(st.lists(st.tuples(name, WRONG), max_size=8))
        body = urlencode(pairs).encode()
    else:
        body = b"RecordingChannels=" + b"x" * draw(st.integers(max_body, max_body + 4096))
    content_type = draw(st.one_of(
        st.sampled_from([None, FORM, "application/json", "application/json; charset=utf-8",
                         "text/plain", "multipart/form-data; boundary=zzz",
                         "multipart/form-data", "application/xml", "application/x+json",
                         FORM + "; charset=latin-1", "", "*/*", "application/octet-stream"]),
        st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)))
    return content_type, body


@st.composite
def queries(draw: st.DrawFn, rule: Rule) -> str:
    pairs = draw(st.lists(st.tuples(st.sampled_from(param_names(rule)), WRONG), max_size=4))
    return "?" + urlencode(pairs) if pairs else ""


@st.composite
def bad_requests(draw: st.DrawFn, world: World) -> tuple[str, Request]:
    """(owning dialect, request). Half the requests are the right caller's (its credentials,
    its ids, the route's method) with at most one id spoiled, so the bad bodies and queries
    reach the views; the other half draw every part at random."""
    rule = draw(st.sampled_from(world.rules))
    dialect = owner(rule)
    raw = draw(st.booleans())
    if draw(st.booleans()):
        values = {arg: draw(st.sampled_from(own_values(world, dialect, arg, ACME)))
                  for arg in rule.arguments}
        spoiled = draw(st.one_of(st.none(), st.sampled_from(sorted(rule.arguments) or [None])))
        if spoiled is not None:
            values[spoiled] = draw(path_value(world, dialect, spoiled))
        method = draw(st.sampled_from(sorted(rule.methods or ())))
        auth: str | None = credentials(ACME, dialect)
    else:
        values = {arg: draw(path_value(world, dialect, arg)) for arg in rule.arguments}
        method = draw(st.one_of(st.sampled_from(sorted(rule.methods or ())),
                                st.sampled_from(METHODS)))
        auth = draw(st.one_of(
            st.none(), st.sampled_from([credentials(ACME, dialect),
                                        credentials(GLOBEX, dialect)]),
            st.sampled_from(wrong_credentials(dialect)),
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)))
    headers = {} if auth is None else {"Authorization": auth}
    content_type, body = draw(bodies(rule, world.max_body))
    if content_type is not None:
        headers["Content-Type"] = content_type
    path = fill(rule, {arg: encoded(value, raw) for arg, value in values.items()})
    query = draw(queries(rule))
    if len(path) + len(query) > LINE_MAX:
        query = ""  # pywsgi answers a longer request line itself (see LINE_MAX)
    return dialect, Request(method, path + query, headers, body)


# --- the properties -----------------------------------------------------------------------


@EXAMPLES
@given(data=st.data())
def test_every_route_answers_bad_input_in_its_dialects_error_shape(
        world: World, data: st.DataObject) -> None:
    dialect, req = data.draw(bad_requests(world))
    answer = world.send(req)
    event(f"{dialect} {answer.status}")  # pytest --hypothesis-show-statistics
    assert answer.status < 500, (req, answer)
    if answer.status >= 400 and req.method != "HEAD":
        assert_error_shape(dialect, answer.status, answer.content_type, answer.body)


def id_rules(world: World) -> list[Rule]:
    return [r for r in world.rules if set(r.arguments) & (CALL_ARGS | RECORDING_ARGS)]


@EXAMPLES
@given(data=st.data())
def test_another_accounts_call_or_recording_answers_like_one_that_does_not_exist(
        world: World, data: st.DataObject) -> None:
    rule = data.draw(st.sampled_from(id_rules(world)))
    dialect = owner(rule)
    ids = sorted(set(rule.arguments) & (CALL_ARGS | RECORDING_ARGS))
    target = data.draw(st.sampled_from(ids))
    foreign = data.draw(st.sampled_from(own_values(world, dialect, target, GLOBEX)))
    unknown = _same_form(foreign, target)
    values = {arg: data.draw(st.sampled_from(own_values(world, dialect, arg, ACME)))
              for arg in rule.arguments if arg != target}
    method = data.draw(st.sampled_from(sorted((rule.methods or set()) - {"HEAD"})))
    content_type, body = data.draw(bodies(rule, world.max_body))
    headers = {"Authorization": credentials(ACME, dialect)}
    if content_type is not None:
        headers["Content-Type"] = content_type
    query = data.draw(queries(rule))

    def ask(value: str) -> Answer:
        return world.send(Request(method, fill(rule, {**values, target: value}) + query,
                                  headers, body))

    seen, missing = ask(foreign), ask(unknown)
    assert seen.status == missing.status, (rule.rule, method, seen, missing)
    assert seen.content_type == missing.content_type
    assert _without(seen.body, foreign) == _without(missing.body, unknown), (
        foreign, unknown, seen, missing)


PAGE_TOKEN = re.compile(rb"PageToken=PT[0-9a-f]+")


def _same_form(value: str, arg: str) -> str:
    """An id that was never issued, spelled like `value` (same length and form)."""
    if arg in CALL_ARGS:
        return str(uuid.uuid4())
    fresh = uuid.uuid4().hex
    if "-" in value and not value.startswith("rec-"):  # TeXML's UUID spelling of a sid
        return str(uuid.UUID(hex=fresh)) + value[36:]
    prefix = "rec-" if value.startswith("rec-") else "RE"
    return prefix + fresh + value[len(prefix) + 32:]


CROSSBAR_EACH_TIME = re.compile(rb'"(request_id|timestamp)":"[^"]*"')


def _without(body: bytes, value: str) -> bytes:
    """`body` with every spelling of the id in `value` (RE + hex, its UUID form, rec-)
    replaced: a dialect may show the id in its own spelling. A listing's PageToken pins the
    time of the request (a microsecond clock), so two requests never share one: it is
    replaced too, and so are Crossbar's request_id and timestamp (new on every answer)."""
    hex_ = value.removeprefix("rec-").removeprefix("RE").replace("-", "")[:32]
    for spelling in (value, str(uuid.UUID(hex=hex_)), hex_):
        body = body.replace(spelling.encode(), b"<id>")
    body = CROSSBAR_EACH_TIME.sub(rb'"\1":"<each time>"', body)
    return PAGE_TOKEN.sub(b"PageToken=<pin>", body)


def test_the_exploration_reaches_every_dialect(world: World) -> None:
    dialects = {owner(r) for r in world.rules}
    assert dialects == {"laml", "texml", "bandwidth", "calling", "swml", "kazoo"}
    assert all(own_values(world, owner(r), a, ACME) for r in id_rules(world)
               for a in r.arguments), "every id argument has a known value to draw"

