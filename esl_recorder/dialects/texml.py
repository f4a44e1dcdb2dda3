"""Telnyx TeXML recordings under /v2/texml."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule

from .base import Dialect


class TexmlDialect(Dialect):
    name = "texml"

    def rules(self) -> list[Rule]:
        return []

    def error_body(self, status: int, message: str) -> Any:
        return {"status": status, "message": message}
