"""The Outbox against real local receivers: what arrives, in which order, and when not."""

from __future__ import annotations

import base64
import io
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest

from esl_recorder.delivery.outbox import USER_AGENT, OutboundRequest
from esl_recorder.store.opener import StateStore as Store

from .conftest import Harness, HarnessFactory, Scripted

Receivers = Callable[..., Scripted]


def states(store: Store) -> dict[str, int]:
    """How many of the outbox's items are in each state."""
    return dict(Counter(item.state for item in store.outbox_items(limit=100_000)))


def body_of(environ: dict[str, Any]) -> dict[str, str]:
    """The form fields of a request, read without consuming the body."""
    raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(raw)
    return dict(parse_qsl(raw.decode()))


def test_the_request_arrives_exactly_as_queued(harness: Harness, receivers: Receivers) -> None:
    r = receivers()
    url = f"http://user%40x:p%3Ass@127.0.0.1:{r.port}/status?AccountSid=AC1&token=t0k"
    harness.send(url, body="RecordingStatus=completed&RecordingSid=RE1", headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "c2ln"})
    harness.send(r.url("/get?RecordingStatus=in-progress"), key="RE2", method="GET")
    got = sorted(r.wait(2), key=lambda x: x.method)
    get, post = got
    assert (post.method, post.path, post.query) == ("POST", "/status",
                                                    "AccountSid=AC1&token=t0k")
    assert post.form == {"RecordingStatus": "completed", "RecordingSid": "RE1"}
    assert post.headers["X-Twilio-Signature"] == "c2ln"
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert post.headers["User-Agent"] == USER_AGENT
    assert post.headers["Authorization"] == "Basic " + base64.b64encode(b"user@x:p:ss").decode()
    assert "user" not in post.url  # credentials travel as a header, not in the URL
    assert (get.method, get.path, get.form, get.body) == (
        "GET", "/get", {"RecordingStatus": "in-progress"}, b"")
    assert "Authorization" not in get.headers


def test_enqueue_is_committed_before_it_returns(harness_factory: HarnessFactory) -> None:
    h = harness_factory(start=False)
    item_id = h.send("http://127.0.0.1:9/cb", body="a=1")
    other = h.open_store()  # another connection sees it: it is committed
    [item] = other.outbox_items()
    assert (item.id, item.key, item.state, item.target) == (
        item_id, "RE1", "pending", "http://127.0.0.1:9")
    assert h.metric("callbacks_enqueued_total", dialect="laml", kind="recording") == 1


def test_items_of_one_key_go_out_in_order(harness: Harness, receivers: Receivers) -> None:
    """Each item is refused once: its successor must wait until it is delivered."""
    seen: set[str] = set()
    delivered: dict[str, int] = {}
    early: list[str] = []

    def answer(environ: dict[str, Any]) -> int:
        form = body_of(environ)
        key, n = form["key"], int(form["n"])
        if n != delivered.get(key, -1) + 1:
            early.append(f"{key}#{n}")
        if f"{key}#{n}" not in seen:
            seen.add(f"{key}#{n}")
            return 503
        delivered[key] = n
        return 200

    r = receivers(answer=answer)
    for n in range(6):
        for k in range(5):
            harness.send(r.url(), key=f"RE{k}", body=f"key=RE{k}&n={n}")
    got = r.wait(30)
    assert early == []
    for k in range(5):
        assert [g.form["n"] for g in got if g.form["key"] == f"RE{k}"] == list("012345")
    assert r.hits == 60


def test_a_receiver_down_for_a_while_then_back_gets_everything(
        harness: Harness, receivers: Receivers) -> None:
    r = receivers()
    r.stop()  # the port is closed: connections are refused
    for i in range(30):
        harness.send(r.url(), key=f"RE{i % 10}", body=f"i={i}")
    harness.wait_for(lambda: harness.count("retry") >= 30, what="a failed attempt each")
    assert harness.count("delivered") == 0
    r.start()
    got = r.wait(30)
    assert sorted(int(g.form["i"]) for g in got) == list(range(30))
    harness.wait_for(lambda: harness.count("delivered") == 30)
    assert states(harness.store) == {"delivered": 30}
    assert harness.metric("callback_attempts_total", result="delivered") == 30
    assert harness.metric("callback_attempts_total", result="retry") >= 30
    first = harness.store.outbox_items("delivered", 1)[0]
    assert first.attempts >= 2 and "Connection refused" in (first.last_error or "")


def test_a_slow_receiver_does_not_hold_up_the_others(
        harness_factory: HarnessFactory, receivers: Receivers) -> None:
    h = harness_factory(per_host=2, concurrency=4)
    slow, fast = receivers(delay=1.0), receivers()
    for i in range(200):  # more than a lane holds: most stay in the store meanwhile
        h.send(slow.url(), key=f"slow{i}")
    for i in range(20):
        h.send(fast.url(), key=f"fast{i}")
    fast.wait(20)
    assert len(slow.received) <= 2 and slow.max_in_flight == 2
    assert h.outbox.items("pending", 1000) and h.store.outbox_count("pending") >= 198


def test_a_backlog_bigger_than_memory_is_delivered_once_and_in_order(
        harness_factory: HarnessFactory, receivers: Receivers) -> None:
    """600 items on 40 keys, then 200 more on new keys while the first are going out,
    through a lane of 16: the lane reads what it left in the store back in order, new
    items arrive meanwhile, successors are chained (no_safety_nets: nothing may wait for
    a rescan from the start, so nothing may be skipped over)."""
    h = harness_factory(start=False, per_host=2, concurrency=2)
    r = receivers()
    for n in range(15):
        for k in range(40):
            h.send(r.url(), key=f"RE{k}", body=f"key=RE{k}&n={n}")
    h.outbox.start()
    r.wait(50, timeout=30)
    for n in range(5):
        for k in range(40, 80):
            h.send(r.url(), key=f"RE{k}", body=f"key=RE{k}&n={n}")
    got = r.wait(800, timeout=30)
    assert len(got) == 800
    for k in range(80):
        sent = list(range(15 if k < 40 else 5))
        assert [int(g.form["n"]) for g in got if g.form["key"] == f"RE{k}"] == sent
    h.wait_for(lambda: h.count("delivered") == 800)
    assert states(h.store) == {"delivered": 800}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 302])
def test_a_refusal_that_means_never_is_given_up_at_once(
        harness: Harness, receivers: Receivers, status: int) -> None:
    r = receivers(status=status)
    harness.send(r.url(), key="RE1", body="n=1")
    harness.wait_for(lambda: harness.count("dead") == 1)
    assert r.hits == 1
    [dead] = harness.outbox.dead()
    assert (dead.key, dead.attempts, dead.last_error) == ("RE1", 1,
                                                          f"HTTP {status} (not retried)")
    assert harness.metric("callback_attempts_total", result="dead") == 1
    assert harness.metric("callbacks_dead") == 1
    r.status = 200  # the key is not stuck behind its dead item
    harness.send(r.url(), key="RE1", body="n=2")
    assert r.wait(1)[0].form == {"n": "2"}


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_answers_that_mean_later_are_retried(harness: Harness, receivers: Receivers,
                                             status: int) -> None:
    answers = iter([status, status])
    r = receivers(answer=lambda environ: next(answers, 200))
    harness.send(r.url(), key="RE1")
    r.wait(1)
    harness.wait_for(lambda: harness.count("delivered") == 1)
    assert [res for _, res in harness.results] == ["retry", "retry", "delivered"]
    [item] = harness.store.outbox_items("delivered")
    assert (item.attempts, item.last_error) == (3, f"HTTP {status}")


def test_a_timeout_is_retried(harness_factory: HarnessFactory, receivers: Receivers) -> None:
    h = harness_factory(timeout=0.2)
    r = receivers(delay=1.0)

    def slow_once(environ: dict[str, Any]) -> int:
        if r.hits > 1:
            r.delay = 0.0  # only the first request is slow
        return 200

    r.answer = slow_once
    h.send(r.url(), key="RE1")
    h.wait_for(lambda: h.count("delivered") == 1)
    assert [res for _, res in h.results] == ["retry", "delivered"]
    [item] = h.store.outbox_items("delivered")
    assert item.last_error == "timeout after 0.2s"


def test_a_request_timeout_overrides_the_setting(harness: Harness, receivers: Receivers) -> None:
    r = receivers(delay=1.0)
    harness.send(r.url(), key="RE1", timeout=0.1)
    harness.wait_for(lambda: harness.count("retry") == 1)
    assert harness.results[0][0].id == 1
    assert harness.store.outbox_items("pending")[0].last_error == "timeout after 0.1s"


def test_expired_items_are_dead_and_logged_once(harness_factory: HarnessFactory,
                                                receivers: Receivers,
                                                caplog: pytest.LogCaptureFixture) -> None:
    h = harness_factory(max_age=0.3)
    r = receivers(status=503)
    caplog.set_level(logging.INFO, logger="esl_recorder.delivery")
    h.send(r.url("/cb?token=s3cret"), key="RE77")
    h.wait_for(lambda: h.count("dead") == 1)
    [dead] = h.outbox.dead()
    assert dead.attempts == r.hits >= 2
    assert dead.last_error == f"HTTP 503 (expired after {r.hits} attempts)"
    warnings = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1 and "RE77" in warnings[0].getMessage()
    assert all("s3cret" not in rec.getMessage() for rec in caplog.records)
    assert h.metric("callbacks_dead") == 1 and h.metric("callbacks_pending") == 0


def test_delivered_items_are_forgotten_after_max_age_dead_ones_kept(
        harness_factory: HarnessFactory, receivers: Receivers,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("esl_recorder.delivery.outbox.PURGE_EVERY", 0.1)
    h = harness_factory(max_age=0.3)
    ok, gone = receivers(), receivers(status=410)
    h.send(ok.url(), key="RE1")
    h.send(gone.url(), key="RE2")
    h.wait_for(lambda: h.count("delivered") == 1 and h.count("dead") == 1)
    assert states(h.store) == {"delivered": 1, "dead": 1}
    h.wait_for(lambda: states(h.store) == {"dead": 1}, what="the purge")


def test_the_fallback_url_is_tried_when_the_url_fails(harness: Harness,
                                                      receivers: Receivers) -> None:
    down, fallback = receivers(), receivers()
    down.stop()
    harness.send(down.url(), key="RE1", fallback_url=fallback.url("/fallback"), body="a=1")
    assert fallback.wait(1)[0].path == "/fallback"
    harness.wait_for(lambda: harness.count("delivered") == 1)
    assert [res for _, res in harness.results] == ["delivered"]


def test_pending_items_are_delivered_after_a_restart(harness_factory: HarnessFactory,
                                                     receivers: Receivers) -> None:
    r = receivers()
    first = harness_factory(start=False)
    for i in range(5):
        first.send(r.url(), key=f"RE{i}", body=f"i={i}")
    first.close()
    second = harness_factory()
    assert sorted(g.form["i"] for g in r.wait(5)) == list("01234")
    second.wait_for(lambda: second.count("delivered") == 5)


def test_an_attempt_cut_short_by_a_stop_is_made_again(harness_factory: HarnessFactory,
                                                      receivers: Receivers) -> None:
    r = receivers(delay=0.5)
    first = harness_factory()
    first.send(r.url(), key="RE1", body="i=1")
    first.wait_for(lambda: r.in_flight == 1, what="the attempt in flight")
    first.outbox.stop(timeout=0)  # killed mid-request: nothing stored about it
    assert first.store.outbox_items("pending")[0].attempts == 0
    first.close()
    r.delay = 0.0
    second = harness_factory()
    second.wait_for(lambda: second.count("delivered") == 1)
    assert r.hits == 2  # at least once: the receiver saw it twice
    first_copy, again = r.wait(2)
    assert first_copy.body == again.body == b"i=1"  # the same callback, and it says so:
    assert first_copy.headers["Idempotency-Key"] == again.headers["Idempotency-Key"] != ""


def test_each_callback_carries_its_own_idempotency_key_on_every_attempt(
        harness: Harness, receivers: Receivers) -> None:
    answers = iter([500])
    seen: list[str] = []  # the key of every request, answered or not

    def answer(environ: dict[str, Any]) -> int:
        seen.append(environ.get("HTTP_IDEMPOTENCY_KEY", ""))
        return next(answers, 200)

    r = receivers(answer=answer)
    harness.send(r.url(), key="RE1", body="n=1")
    harness.wait_for(lambda: harness.count("delivered") == 1)
    harness.send(r.url(), key="RE1", body="n=2")
    harness.send(r.url(), key="RE2", body="n=1", headers={"X-Other": "kept"})
    harness.wait_for(lambda: harness.count("delivered") == 3)
    first, retried, *others = seen
    assert first == retried != ""  # a retry is the same callback
    assert len({first, *others}) == 3  # every other callback has its own
    assert [g.headers["X-Other"] for g in r.received if "X-Other" in g.headers] == ["kept"]


def test_a_new_item_wakes_an_idle_deliverer(harness: Harness, receivers: Receivers) -> None:
    r = receivers()
    harness.send(r.url(), key="RE1")
    r.wait(1)
    harness.wait_for(lambda: harness.count("delivered") == 1)
    harness.send(r.url(), key="RE2")  # the loop sleeps (no_safety_nets: an hour) unless woken
    r.wait(2)


@pytest.mark.parametrize("method, url, headers", [
    ("POST", "ftp://example.com/x", {}),
    ("POST", "/relative/path", {}),
    ("POST", "http://:80/x", {}),
    ("POST", "http://example.com:99999/x", {}),
    ("DELETE", "http://example.com/x", {}),
    ("POST", "http://example.com/x", {"X-A": "1\r\nX-Injected: 1"}),
    ("POST", "http://example.com/x", {"Bad Name": "1"}),
])
def test_requests_that_cannot_be_sent_are_refused_at_enqueue(
        harness: Harness, method: str, url: str, headers: dict[str, str]) -> None:
    from esl_recorder.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        OutboundRequest(method, url, headers=headers)
    assert states(harness.store) == {}
