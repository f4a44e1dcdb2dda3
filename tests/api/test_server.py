"""The HTTP server itself: ops paths, OpenAPI, unknown routes, access log."""

from __future__ import annotations

import json
import logging
import re

import pytest

from .conftest import Api


def test_ops_paths_still_served(api: Api) -> None:
    assert api.request("GET", "/healthz").json() == {"status": "ok"}
    assert "esl_recorder_http_requests_total" in api.request("GET", "/metrics").text


def test_openapi_document_lists_every_routed_path_and_method(api: Api) -> None:
    doc = api.request("GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for rule in api.daemon.app.api.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        assert path in doc["paths"], path
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert doc["paths"][path][method.lower()]["security"], (path, method)


def test_unknown_path_outside_dialects_is_json_404(api: Api) -> None:
    r = api.request("GET", "/nope")
    assert r.status_code == 404
    assert r.json()["status"] == 404


def test_access_log_is_one_json_line(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="esl_recorder.http.access"):
        api.request("GET", "/openapi.json")
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "esl_recorder.http.access"]
    assert lines and lines[-1]["path"] == "/openapi.json" and lines[-1]["status"] == 200
