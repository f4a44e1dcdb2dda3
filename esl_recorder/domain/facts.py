"""What happened on FreeSWITCH, in domain terms: one typed fact per kind of event.

`esl.ingest` reads FreeSWITCH's events and hands these to the domain; nothing in the
domain sees an event name or a header.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a call belongs to, and its route as the dialplan declares it for the recording
    policies (the configured channel variables, lower case for the route; "" when unset)."""

    account: str = ""
    user: str = ""
    device: str = ""
    declared_direction: str = ""  # kazoo.direction_variable: inbound / outbound
    network: str = ""  # kazoo.network_variable: onnet / offnet


NO_IDENTITY = Identity()


@dataclass(frozen=True, slots=True)
class ChannelFact:
    """A channel event: created and answered carry the call's profile and identity."""

    uuid: str
    node: str
    at: float | None  # when FreeSWITCH says it happened (seconds since the epoch)
    direction: str = ""  # "inbound" / "outbound", from FreeSWITCH's point of view
    caller: str = ""
    destination: str = ""
    answered: bool = False  # the call was answered when the event was sent
    identity: Identity = NO_IDENTITY
    caller_name: str = ""  # the caller id name


@dataclass(frozen=True, slots=True)
class ChannelCreated(ChannelFact):
    ringing: bool = False


@dataclass(frozen=True, slots=True)
class ChannelAnswered(ChannelFact):
    pass


@dataclass(frozen=True, slots=True)
class ChannelBridged(ChannelFact):
    other_leg: str = ""


@dataclass(frozen=True, slots=True)
class ChannelHungup(ChannelFact):
    cause: str = ""
    complete: bool = False  # FreeSWITCH is done with the channel (CHANNEL_HANGUP_COMPLETE)


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    call_uuid: str
    node: str
    path: str
    at: float | None


@dataclass(frozen=True, slots=True)
class RecordingStopped:
    call_uuid: str
    node: str
    path: str
    at: float | None
    cause: str | None  # FreeSWITCH's completion cause (success-maxtime, empty-file, ...)
    record_ms: int | None  # what FreeSWITCH says it wrote
    channel_down: bool = False  # the call was hanging up when the recording stopped


@dataclass(frozen=True, slots=True)
class DtmfPressed:
    call_uuid: str
    node: str
    digit: str


@dataclass(frozen=True, slots=True)
class CallParked:
    """The dialplan parked a call; `script` is the variable naming its script ("" unset)."""

    call_uuid: str
    node: str
    script: str
    destination: str
    answered: bool


@dataclass(frozen=True, slots=True)
class ApplicationDone:
    """An application ended on a call (CHANNEL_EXECUTE_COMPLETE); `app_uuid` is the id
    the command that ran it carried, `response` what the application left."""

    call_uuid: str
    app_uuid: str
    app: str
    response: str


@dataclass(frozen=True, slots=True)
class LiveCall:
    """One call FreeSWITCH has now (from its channel list)."""

    uuid: str
    direction: str  # "inbound" or "outbound", from FreeSWITCH's point of view
    answered: bool
    caller: str
    destination: str
    application: str = ""  # what it runs now (`park`: waiting, e.g. for a script)
