"""Dialect helpers: where clients reach this server (the setting, else what the HTTP server
worked out, else the server's own name: never the Host header)."""

from typing import Any

from prometheus_client import CollectorRegistry
from werkzeug.routing import Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from esl_recorder.dialects.base import BASE_URL_KEY, Dialect
from esl_recorder.metrics import make_metrics


class Bare(Dialect):
    def rules(self) -> list[Rule]:
        return []

    def error_body(self, status: int, message: str) -> Any:
        return {"status": status}


def test_base_url_is_what_the_server_worked_out_never_the_host_header() -> None:
    environ = EnvironBuilder(base_url="http://127.0.0.1:8080/",
                             headers={"Host": "evil.example"}).get_environ()
    dialect = Bare(metrics=make_metrics(CollectorRegistry()))
    assert dialect.base_url(Request(environ)) == "http://127.0.0.1:8080"
    environ[BASE_URL_KEY] = "https://rec.example.com:8443"
    assert dialect.base_url(Request(environ)) == "https://rec.example.com:8443"


def test_the_configured_public_base_url_wins() -> None:
    request = Request(EnvironBuilder(base_url="http://127.0.0.1:8080/").get_environ())
    dialect = Bare(metrics=make_metrics(CollectorRegistry()),
                   public_base_url="https://rec.example.com")
    assert dialect.base_url(request) == "https://rec.example.com"
