"""The daemon's own: logging (`log`) and shutdown (`lifecycle`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, Strict
from pydantic.dataclasses import dataclass

from .fields import LogLevel, Seconds, one_of
from .section import SECTION


@dataclass(frozen=True, config=SECTION)
class LogSettings:
    level: LogLevel = Field(
        default="INFO", description="Lowest level logged: DEBUG, INFO, WARNING, ERROR.")
    format: Annotated[str, Strict(), AfterValidator(one_of("text", "json"))] = Field(
        default="text", description="Log line format: text, or json (one object per line).")


@dataclass(frozen=True, config=SECTION)
class LifecycleSettings:
    grace_period: Seconds = Field(
        default=20.0,
        description="Seconds SIGTERM waits for requests in flight and the outbox before "
                    "exiting (keep it below systemd's TimeoutStopSec and compose's "
                    "stop_grace_period, 30 s).")
