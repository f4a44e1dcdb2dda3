"""The client-problem log: once per client and kind per window, a cap over all clients, and
the count of what was left out on the next line."""

from __future__ import annotations

import logging

import pytest

from esl_recorder.http.clientlog import ClientProblems


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_once_per_client_and_kind_per_window(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    problems = ClientProblems(window=600, burst=100, clock=clock)
    with caplog.at_level(logging.INFO):
        assert problems.report("192.0.2.1", "timeout", "slow")
        assert not problems.report("192.0.2.1", "timeout", "slow")
        assert problems.report("192.0.2.1", "malformed", "bad")  # another kind
        assert problems.report("192.0.2.2", "timeout", "slow")  # another client
        clock.now += 601
        assert problems.report("192.0.2.1", "timeout", "slow")
    assert [r.getMessage() for r in caplog.records] == [
        "client 192.0.2.1: slow", "client 192.0.2.1: bad", "client 192.0.2.2: slow",
        "client 192.0.2.1: slow"]


def test_many_clients_cannot_fill_the_log(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    problems = ClientProblems(window=600, burst=3, clock=clock)
    with caplog.at_level(logging.INFO):
        logged = [problems.report(f"198.51.100.{i}", "timeout", "slow") for i in range(10)]
        clock.now += 600
        assert problems.report("203.0.113.1", "timeout", "slow")
    assert logged == [True] * 3 + [False] * 7
    assert caplog.records[-1].getMessage() == (
        "client 203.0.113.1: slow (7 similar client problems not logged)")


def test_the_memory_of_clients_is_bounded() -> None:
    problems = ClientProblems(burst=10**6, remembered=5, clock=Clock())
    for i in range(20):
        problems.report(f"10.0.0.{i}", "timeout", "slow")
    assert problems.report("10.0.0.0", "timeout", "slow")  # forgotten, so logged again
