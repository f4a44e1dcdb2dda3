"""Bandwidth Catapult v1: calls with recordingEnabled, recordings and media under /v1/users."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule

from .base import Dialect


class BandwidthDialect(Dialect):
    name = "bandwidth"

    def rules(self) -> list[Rule]:
        return []

    def error_body(self, status: int, message: str) -> Any:
        return {"status": status, "message": message}
