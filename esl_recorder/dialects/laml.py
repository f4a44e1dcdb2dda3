"""SignalWire LaML (Twilio-compatible) recordings under /api/laml/2010-04-01."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule

from .base import Dialect


class LamlDialect(Dialect):
    name = "laml"

    def rules(self) -> list[Rule]:
        return []

    def error_body(self, status: int, message: str) -> Any:
        return {"status": status, "message": message}
