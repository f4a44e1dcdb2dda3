"""Retry policy and request checks: pure functions, exact values."""

from __future__ import annotations

import base64
import email.utils

import pytest

from esl_recorder.delivery.policy import (
    Attempt,
    Verdict,
    decide,
    parse_retry_after,
    retry_delay,
    verdict_for,
)
from esl_recorder.delivery.request import OutboundRequest, origin, safe_url, wire_form
from esl_recorder.settings import DeliverySettings

S = DeliverySettings(max_age=3600.0, initial_delay=1.0, max_delay=300.0)


@pytest.mark.parametrize("status, verdict", [
    (200, Verdict.DELIVERED), (204, Verdict.DELIVERED), (299, Verdict.DELIVERED),
    (None, Verdict.RETRY), (500, Verdict.RETRY), (503, Verdict.RETRY), (599, Verdict.RETRY),
    (408, Verdict.RETRY), (425, Verdict.RETRY), (429, Verdict.RETRY),
    (301, Verdict.REJECTED), (302, Verdict.REJECTED), (400, Verdict.REJECTED),
    (401, Verdict.REJECTED), (404, Verdict.REJECTED), (410, Verdict.REJECTED),
    (100, Verdict.REJECTED),
])
def test_what_an_answer_means(status: int | None, verdict: Verdict) -> None:
    assert verdict_for(status) is verdict


@pytest.mark.parametrize("attempts, ceiling", [(0, 1.0), (1, 2.0), (3, 8.0), (8, 256.0),
                                               (9, 300.0), (10_000, 300.0)])
def test_full_jitter_between_nothing_and_the_capped_exponential(attempts: int,
                                                                ceiling: float) -> None:
    assert retry_delay(attempts, S, lambda: 1.0) == ceiling
    assert retry_delay(attempts, S, lambda: 0.5) == ceiling / 2
    assert retry_delay(attempts, S, lambda: 0.0) == ceiling / 1000  # never a busy loop


def test_retry_after_is_the_least_delay_within_max_delay() -> None:
    assert retry_delay(0, S, lambda: 0.5, retry_after=30.0) == 30.0
    assert retry_delay(5, S, lambda: 1.0, retry_after=3.0) == 32.0  # jitter already longer
    assert retry_delay(0, S, lambda: 0.5, retry_after=86400.0) == 300.0


def test_decisions() -> None:
    def at(attempt: Attempt, now: float, attempts: int = 0) -> tuple[str, str, float | None]:
        d = decide(attempt, created_at=1000.0, attempts_before=attempts, now=now, settings=S,
                   rand=lambda: 1.0)
        return d.result, d.error, d.next_at

    assert at(Attempt(200), 1001.0) == ("delivered", "", None)
    assert at(Attempt(404), 1001.0) == ("dead", "HTTP 404 (not retried)", None)
    assert at(Attempt(503), 1001.0, attempts=2) == ("retry", "HTTP 503", 1005.0)
    assert at(Attempt(None, "ConnectionRefusedError: Connection refused"), 1001.0) == (
        "retry", "ConnectionRefusedError: Connection refused", 1002.0)
    # the last retry is made at the expiry, not after it; then the item is dead
    assert at(Attempt(503), 4500.0, attempts=20) == ("retry", "HTTP 503", 4600.0)
    assert at(Attempt(503), 4600.0, attempts=21) == (
        "dead", "HTTP 503 (expired after 22 attempts)", None)
    assert at(Attempt(429, retry_after=60.0), 1001.0) == ("retry", "HTTP 429", 1061.0)


def test_retry_after_values() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 7 ", now) == 7.0
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now) == 90.0
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now) == 0.0
    for bad in (None, "", "soon", "-5", "1.5e3", "Mon, 99 Foo 2023 99:99:99 GMT"):
        assert parse_retry_after(bad, now) is None


def test_urls_for_logs_and_lanes() -> None:
    url = "HTTPS://User:Pa%40ss@Example.COM/cb/path?token=s3cret&x=1"
    assert safe_url(url) == "https://example.com/cb/path?…"
    assert safe_url("http://h.test:8080/a") == "http://h.test:8080/a"
    assert origin(url) == "https://example.com:443"
    assert origin("http://h.test/x") == "http://h.test:80"
    assert origin("http://[::1]:9000/x") == "http://[::1]:9000"
    assert safe_url("http://u@[::1]:9000/x?q") == "http://[::1]:9000/x?…"


def test_credentials_in_the_url_go_out_as_basic_auth() -> None:
    sent, headers = wire_form("https://us%3Aer:p%40ss@example.com/cb?a=1", {"X-A": "1"})
    assert sent == "https://example.com/cb?a=1"
    assert headers == {"Authorization": "Basic " + base64.b64encode(b"us:er:p@ss").decode(),
                       "X-A": "1"}
    assert wire_form("https://example.com/cb", {"X-A": "1"}) == ("https://example.com/cb",
                                                                  {"X-A": "1"})


def test_a_stored_request_round_trips_and_older_payloads_still_load() -> None:
    req = OutboundRequest("POST", "http://h.test/cb", {"Content-Type": "application/json"},
                          '{"a":1}', timeout=2.5, fallback_url="http://f.test/cb")
    assert OutboundRequest.from_payload(req.to_payload()) == req
    old = {"method": "GET", "url": "http://h.test/cb?a=1", "headers": {}, "body": ""}
    assert OutboundRequest.from_payload(old) == OutboundRequest("GET", "http://h.test/cb?a=1")
