"""The OpenAPI 3.1 document of the whole HTTP surface, built from the route table and the
dialects' request models (one source: what is routed is what is documented)."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import Map

from .. import __version__
from ..dialects.base import Operation

_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

OPS = {
    "/metrics": "Prometheus metrics (text exposition format)",
    "/healthz": "Liveness: the process answers",
    "/readyz": "Readiness: every configured FreeSWITCH node is connected",
    "/openapi.json": "This document",
}


def openapi_document(url_map: Map) -> dict[str, Any]:
    paths: dict[str, Any] = {p: {"get": {"summary": s, "security": [],
                                         "responses": {"200": {"description": "OK"}}}}
                             for p, s in OPS.items()}
    schemes: dict[str, Any] = {}
    for rule in url_map.iter_rules():
        op = rule.endpoint
        if not isinstance(op, Operation):
            continue
        path = _ARG.sub(r"{\1}", rule.rule)
        scheme = f"{op.dialect.name}Auth"
        schemes[scheme] = op.dialect.security
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(op, rule.arguments, scheme)
    return {"openapi": "3.1.0",
            "info": {"title": "esl_recorder", "version": __version__},
            "paths": paths, "components": {"securitySchemes": schemes}}


def _operation(op: Operation, arguments: set[str], scheme: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": f"{op.dialect.name}_{op.name}",
        "summary": op.summary or op.name.replace("_", " "),
        "tags": [op.dialect.name],
        "security": [{scheme: []}],
        "parameters": [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
                       for a in sorted(arguments)],
        "responses": {str(op.response_status): {"description": "success"},
                      "400": {"description": "invalid request"},
                      "401": {"description": "missing or wrong credentials"},
                      "404": {"description": "no such resource for this account"}},
    }
    if op.request_model is not None:
        schema = op.request_model.model_json_schema(by_alias=True)
        doc["requestBody"] = {"content": {
            "application/x-www-form-urlencoded": {"schema": schema},
            "application/json": {"schema": schema}}}
    return doc
