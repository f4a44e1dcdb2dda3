"""Security of the HTTP surface, route by route (the deterministic side of
tests/api/test_bad_input.py, which explores at random and checks shapes and tenancy):

- every route of every dialect, every method, answers 401 in its dialect's shape without
  credentials and with wrong ones;
- traversal in every id and name never reaches the file system (every file the daemon
  opens while answering is watched through a Python audit hook);
- no configured secret appears in any answer or log line, whatever the request carries.
"""

from __future__ import annotations

import base64
import http.client
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api.conftest import ACCOUNTS, ACME_LAML, GLOBEX_LAML, basic
from api.test_bad_input import (
    ACME,
    CALL_ARGS,
    GLOBEX,
    RECORDING_ARGS,
    account_path_id,
    assert_error_shape,
    credentials,
    fill,
    owner,
)
from werkzeug.routing import Rule

from esl_recorder.domain.recording import State

from .conftest import ApiFactory, port_of

SECRETS = [v for acct in ACCOUNTS for k, v in acct.items()
           if k.endswith(("_token", "_key", "_secret"))]
TRAVERSALS = ["..", "%2e%2e", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "..%2F..%2F..%2Fetc%2Fpasswd",
              "..%252F..%252Fetc%252Fpasswd", "....%2F%2F....%2F%2Fsecret.wav",
              "..%5C..%5Csecret.wav", "%2Fetc%2Fpasswd", "rec-..%2F..%2Fsecret.wav",
              "RE..%2F..%2Fsecret", "..%2Fsecret.wav", "%00..%2Fsecret.wav", "../secret.wav",
              "../../secret.wav"]


class Send:
    """Raw requests (http.client sends the path byte for byte: `..` and `%2F` arrive)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def __call__(self, method: str, path: str, auth: str | None = None,
                 body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            if auth is not None:
                conn.putheader("Authorization", auth)
            if method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Type", "application/x-www-form-urlencoded")
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()


def rules_of(api: Any) -> list[Rule]:
    return list(api.daemon.app.api.url_map.iter_rules())


def own_values(rule: Rule, call: str, sid: str) -> dict[str, str]:
    dialect = owner(rule)
    values = {}
    for arg in rule.arguments:
        if arg in CALL_ARGS:
            values[arg] = call
        elif arg in RECORDING_ARGS:
            values[arg] = {"recording_id": "rec-" + sid[2:],
                           "name": f"rec-{sid[2:]}.wav"}.get(arg, sid)
        else:
            values[arg] = account_path_id(ACME, dialect)
    return values


def wrong_credentials(dialect: str) -> list[str | None]:
    user = account_path_id(ACME, dialect)
    wrong: list[str | None] = [None, basic(user, "wrong"), "Bearer wrong",
                               "Basic " + base64.b64encode(b":").decode(), "Basic %%%",
                               "Bearer " + "x" * 500]
    if dialect not in ("calling", "swml"):  # no account in the path: another's secret is right
        other = credentials(GLOBEX, dialect)  # another account's valid secret
        wrong.append(other.replace(account_path_id(GLOBEX, dialect), user))
    return wrong


@pytest.fixture
def world(make_api: ApiFactory) -> Iterator[tuple[Any, str, str, Send]]:
    api = make_api()
    call = api.call()
    r = api.request("POST", f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}/Calls/{call}/"
                    "Recordings.json", auth=ACME_LAML)
    assert r.status_code == 200, r.text
    sid = r.json()["sid"]
    api.daemon.wait_state(sid, State.IN_PROGRESS)
    yield api, call, sid, Send(port_of(api))


def test_every_route_and_method_is_401_without_or_with_wrong_credentials(
        world: tuple[Any, str, str, Send]) -> None:
    api, call, sid, send = world
    checked = 0
    for rule in rules_of(api):
        dialect = owner(rule)
        path = fill(rule, own_values(rule, call, sid))
        for method in sorted((rule.methods or set()) - {"OPTIONS"}):
            for auth in wrong_credentials(dialect):
                status, headers, body = send(method, path, auth, b"Status=stopped")
                assert status == 401, (method, path, auth, status, body[:300])
                if method != "HEAD":
                    assert_error_shape(dialect, status, headers.get("content-type", ""), body)
                checked += 1
    assert checked > 100, checked


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """Every path the process opens (open(), os.open, ...) while the list is watched."""
    seen: list[str] = []
    _WATCHERS.append(seen)
    yield seen
    _WATCHERS.remove(seen)


_WATCHERS: list[list[str]] = []
_LOCK = threading.Lock()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCHERS and event in ("open", "os.listdir", "os.scandir", "os.remove", "os.rename",
                               "shutil.rmtree", "os.unlink") and args:
        target = args[0]
        if isinstance(target, (str, bytes, os.PathLike)):
            with _LOCK:
                for seen in _WATCHERS:
                    seen.append(os.fsdecode(target))


sys.addaudithook(_audit)


def test_traversal_in_every_id_and_name_never_reaches_the_file_system(
        world: tuple[Any, str, str, Send], opened: list[str]) -> None:
    api, call, sid, send = world
    root = Path(api.daemon.app.settings.recording.root).resolve()
    secret = root.parent / "secret.wav"
    secret.write_bytes(b"RIFF-the-secret-file")
    first = len(opened)  # what the daemon opens from here on
    answered = 0
    for rule in rules_of(api):
        ids = set(rule.arguments) & (CALL_ARGS | RECORDING_ARGS)
        auth = credentials(ACME, owner(rule))
        for arg in ids:
            for value in TRAVERSALS:
                path = fill(rule, {**own_values(rule, call, sid), arg: value})
                for method in sorted((rule.methods or set()) - {"OPTIONS", "HEAD"}):
                    status, _, body = send(method, path, auth)
                    assert status < 500, (method, path, status, body[:300])
                    assert b"the-secret-file" not in body, (method, path)
                    answered += 1
    assert answered > 100, answered
    daemon_opened = opened[first:]
    assert secret.read_bytes() == b"RIFF-the-secret-file"
    outside = [p for p in daemon_opened if not _under(Path(p), root)]
    assert outside == [], outside
    assert not [p for p in daemon_opened if ".." in Path(p).parts or "passwd" in p]


def _under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def test_no_secret_reaches_an_answer_or_the_log(world: tuple[Any, str, str, Send],
                                                caplog: pytest.LogCaptureFixture) -> None:
    api, call, sid, send = world
    bodies: list[bytes] = []
    with caplog.at_level(logging.DEBUG):
        for rule in rules_of(api):
            dialect = owner(rule)
            path = fill(rule, own_values(rule, call, sid))
            for secret in SECRETS:  # a real secret of some account, in the wrong place
                for auth in (basic(account_path_id(ACME, dialect), secret + "x"),
                             basic(secret, secret), "Bearer " + secret + "x",
                             basic(GLOBEX_LAML[0], secret)):
                    method = sorted((rule.methods or {"GET"}) - {"HEAD", "OPTIONS"})[0]
                    bodies.append(send(method, f"{path}?token={secret}", auth,
                                       f"x={secret}&Status={secret}".encode())[2])
    assert len(bodies) > 100
    text = b"\n".join(bodies).decode("utf-8", "replace")
    logged = "\n".join(r.getMessage() + str(r.args) for r in caplog.records)
    for secret in SECRETS:
        assert secret not in text, secret
        assert secret not in logged, secret
