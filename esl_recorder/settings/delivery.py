"""Status callbacks and uploads through the outbox (`delivery`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, Strict
from pydantic.dataclasses import dataclass

from .fields import Networks, Seconds, between
from .section import SECTION


@dataclass(frozen=True, config=SECTION)
class DeliverySettings:
    max_age: Seconds = Field(
        default=86400.0, description="Seconds a callback is retried before it is given up (dead).")
    initial_delay: Seconds = Field(
        default=1.0,
        description="Upper bound of the first retry's delay, in seconds; doubles each attempt "
                    "(full jitter below it).")
    max_delay: Seconds = Field(
        default=300.0, description="Upper bound of the retry delay, in seconds.")
    timeout: Seconds = Field(
        default=10.0, description="Seconds allowed for one delivery attempt.")
    lease: Seconds = Field(
        default=60.0,
        description="Several daemons on one PostgreSQL store: seconds a daemon's claim on an "
                    "item it is attempting lasts (renewed while it works on it); a claim "
                    "of a daemon that died is taken over once it ends.")
    concurrency: Annotated[int, Strict(), AfterValidator(between(1, 1024))] = Field(
        default=64, description="Deliveries in flight at once, all receivers together.")
    per_host: Annotated[int, Strict(), AfterValidator(between(1, 256))] = Field(
        default=8,
        description="Deliveries in flight to one receiver host (a slow receiver cannot hold the "
                    "others up).")
    allowed_networks: Networks = Field(
        default=(),
        description="Networks callbacks may reach although not public (loopback, private, "
                    "link-local and unique-local are refused otherwise). Env: comma-separated.")
