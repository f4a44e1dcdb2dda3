"""Dialect helpers: where clients reach this server (the setting, else the request's host)."""

from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from werkzeug.routing import Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from esl_recorder.dialects.base import Dialect
from esl_recorder.metrics import make_metrics


class Bare(Dialect):
    def rules(self) -> list[Rule]:
        return []

    def error_body(self, status: int, message: str) -> Any:
        return {"status": status}


@pytest.mark.parametrize("base", ["http://127.0.0.1:8080/", "https://example.com/",
                                  "http://xn--bcher-kva.example/", "http://[::1]:8080/",
                                  "http://EXAMPLE.com:80/"])
def test_base_url_is_the_request_host_without_the_slash(base: str) -> None:
    request = Request(EnvironBuilder(base_url=base).get_environ())
    dialect = Bare(metrics=make_metrics(CollectorRegistry()))
    assert dialect.base_url(request) == request.host_url.rstrip("/")
    assert not dialect.base_url(request).endswith("/")


def test_the_configured_public_base_url_wins() -> None:
    request = Request(EnvironBuilder(base_url="http://127.0.0.1:8080/").get_environ())
    dialect = Bare(metrics=make_metrics(CollectorRegistry()),
                   public_base_url="https://rec.example.com")
    assert dialect.base_url(request) == "https://rec.example.com"
