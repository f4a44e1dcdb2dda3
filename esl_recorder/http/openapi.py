"""The OpenAPI 3.1 document of the whole HTTP surface, built from the route table and the
dialects' request models (one source: what is routed is what is documented)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from werkzeug.routing import Map

from .. import __version__
from ..dialects.base import Operation

_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

ERRORS = {
    "400": "invalid request",
    "401": "missing or wrong credentials",
    "404": "no such resource for this account",
    "409": "the resource is not in a state that allows this",
    "413": "request body larger than http.max_body_bytes",
    "503": "FreeSWITCH did not carry out the command (node down or command failed)",
}

_JSON = "application/json"
_READY = {"type": "object", "required": ["ready", "store", "nodes"], "properties": {
    "ready": {"type": "boolean"},
    "store": {"type": "object", "properties": {"writable": {"type": "boolean"}}},
    "nodes": {"type": "object", "additionalProperties": {
        "type": "object", "properties": {"connected": {"type": "boolean"}}}}}}


def _ops_paths() -> dict[str, Any]:
    def get(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
        return {"get": {"summary": summary, "security": [], "tags": ["operations"],
                        "responses": responses}}

    ready = {"content": {_JSON: {"schema": _READY}}}
    return {
        "/metrics": get("Prometheus metrics: the text format, or OpenMetrics when the Accept "
                        "header asks for it", {"200": {"description": "OK", "content": {
                            "text/plain": {"schema": {"type": "string"}},
                            "application/openmetrics-text": {"schema": {"type": "string"}}}}}),
        "/healthz": get("Liveness: the process answers", {"200": {
            "description": "OK", "content": {_JSON: {"schema": {
                "type": "object", "properties": {"status": {"const": "ok"}}}}}}}),
        "/readyz": get("Readiness: the store is writable and every configured FreeSWITCH node "
                       "is connected", {"200": {"description": "ready", **ready},
                                        "503": {"description": "not ready", **ready}}),
        "/openapi.json": get("This document", {"200": {
            "description": "OK", "content": {_JSON: {"schema": {"type": "object"}}}}}),
    }


def schema_of(example: Any) -> dict[str, Any]:
    """A JSON schema that the example (a dialect's error document) is an instance of."""
    if isinstance(example, dict):
        return {"type": "object", "required": sorted(example),
                "properties": {k: schema_of(v) for k, v in example.items()}}
    if isinstance(example, list):
        return {"type": "array", "items": schema_of(example[0]) if example else {}}
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, int):
        return {"type": "integer"}
    if isinstance(example, float):
        return {"type": "number"}
    return {"type": "string"} if isinstance(example, str) else {}


def _errors(dialect: Any, more: Mapping[str, str]) -> dict[str, Any]:
    """The error responses in the dialect's own shape (`more`: an operation's own)."""
    return {status: {"description": text, "content": {_JSON: {
                "schema": schema_of(dialect.error_body(int(status), text)),
                "example": dialect.error_body(int(status), text)}}}
            for status, text in {**ERRORS, **more}.items()}


def openapi_document(url_map: Map) -> dict[str, Any]:
    paths: dict[str, Any] = _ops_paths()
    schemes: dict[str, Any] = {}
    schemas: dict[str, Any] = {}  # the request models' nested models
    for rule in url_map.iter_rules():
        op = rule.endpoint
        if not isinstance(op, Operation):
            continue
        path = _ARG.sub(r"{\1}", rule.rule)
        scheme = f"{op.dialect.name}Auth"
        schemes[scheme] = op.dialect.security
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(op, rule.arguments, scheme,
                                                                    schemas)
    components: dict[str, Any] = {"securitySchemes": schemes}
    if schemas:
        components["schemas"] = schemas
    return {"openapi": "3.1.0",
            "info": {"title": "esl_recorder", "version": __version__},
            "paths": paths, "components": components}


def _operation(op: Operation, arguments: set[str], scheme: str,
               schemas: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": f"{op.dialect.name}_{op.name}",
        "summary": op.summary or op.name.replace("_", " "),
        "tags": [op.dialect.name],
        "security": [{scheme: []}],
        "parameters": [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
                       for a in sorted(arguments)],
        "responses": {str(op.response_status): {"description": "success"},
                      **_errors(op.dialect, op.extra.get("errors", {}))},
    }
    if op.request_model is not None:
        # nested models go to components/schemas, named after the dialect (no clashes)
        template = f"#/components/schemas/{op.dialect.name}_{{model}}"
        schema = op.request_model.model_json_schema(by_alias=True, ref_template=template)
        for name, nested in schema.pop("$defs", {}).items():
            schemas[f"{op.dialect.name}_{name}"] = nested
        types = op.extra.get("content_types", ("application/x-www-form-urlencoded", _JSON))
        doc["requestBody"] = {"content": {kind: {"schema": schema} for kind in types}}
    return doc
