"""Dialect helpers: the base URL built from the request's scheme and host."""

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from esl_recorder.dialects.base import _host_url


@pytest.mark.parametrize("base", ["http://127.0.0.1:8080/", "https://example.com/",
                                  "http://xn--bcher-kva.example/", "http://[::1]:8080/",
                                  "https://b\u00fccher.de:443/", "http://EXAMPLE.com:80/"])
def test_host_url_is_werkzeugs_without_the_slash(base: str) -> None:
    request = Request(EnvironBuilder(base_url=base).get_environ())
    assert _host_url(request.scheme, request.host) == request.host_url.rstrip("/")
