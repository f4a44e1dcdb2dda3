"""Bandwidth Catapult v1 request bodies: create a call, update a call, list pages.

JSON `null` means "not given" for every field, as Catapult treats it (the v1 SDK sends
every option it was not given as null). Booleans arrive as JSON `true` or as the string
`"true"` (seed 000 sends strings, SDKs send booleans): both are accepted. `to` and `from`
end up in a FreeSWITCH command, so they must be a phone number, a SIP-safe token or a
`sip:user@host` URI, nothing else.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..delivery.request import check_url
from ..errors import InvalidArgument
from .base import RequestModel

_NUMBER = r"\+?[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}"
_ENDPOINT = re.compile(_NUMBER
                       + r"|sip:[A-Za-z0-9_.+-]{1,64}@[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?")
_TAG_MAX = 256

# Parameters of these calls that this server does not implement: refused, never ignored.
UNSUPPORTED_CREATE = ("bridgeId", "conferenceId", "sipHeaders")
UNSUPPORTED_UPDATE = ("whisperAudio", "callbackUrl")


def _endpoint(value: str) -> str:
    if not _ENDPOINT.fullmatch(value):
        raise ValueError("must be an E.164 number (+19195551212), a SIP user or "
                         "sip:user@host")
    return value


def _caller_id(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(_NUMBER, value):
        raise ValueError("must be an E.164 number (+19195551212) or a SIP user")
    return value


def _callback_url(value: str | None) -> str | None:
    if not value:
        return None
    try:
        check_url(value)  # what the outbox accepts
    except InvalidArgument:
        raise ValueError("must be an absolute http:// or https:// URL") from None
    return value


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class BwModel(RequestModel):
    """A Catapult request: a null field is a field not given."""

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class CreateCall(BwModel):
    """`POST /v1/users/{userId}/calls`."""

    from_: str = Field(alias="from", max_length=300)
    to: str = Field(max_length=300)
    call_timeout: int | None = Field(None, alias="callTimeout", ge=1, le=300)
    callback_url: str | None = Field(None, alias="callbackUrl", max_length=2048)
    callback_http_method: Literal["post", "get"] = Field("post", alias="callbackHttpMethod")
    callback_timeout: int | None = Field(None, alias="callbackTimeout", ge=1, le=10000)
    fallback_url: str | None = Field(None, alias="fallbackUrl", max_length=2048)
    recording_enabled: bool = Field(False, alias="recordingEnabled")
    recording_max_duration: int = Field(3600, alias="recordingMaxDuration", ge=1, le=86400)
    recording_file_format: Literal["wav", "mp3"] = Field("wav", alias="recordingFileFormat")
    transcription_enabled: bool = Field(False, alias="transcriptionEnabled")
    tag: str = Field("", max_length=_TAG_MAX)

    check_endpoints = field_validator("from_", "to")(_endpoint)
    check_urls = field_validator("callback_url", "fallback_url")(_callback_url)
    lower_enums = field_validator("callback_http_method", "recording_file_format",
                                   mode="before")(_lower)

    def refuse_unsupported(self, params: dict[str, Any]) -> None:
        refuse(params, UNSUPPORTED_CREATE)
        if self.transcription_enabled:
            raise InvalidArgument("transcriptionEnabled: transcription is not supported by "
                                  "this server")


class UpdateCall(BwModel):
    """`POST /v1/users/{userId}/calls/{callId}`: recording on/off and its format; `state`
    completed (hang up) or transferring (to `transferTo`, showing `transferCallerId`)."""

    state: Literal["completed", "transferring"] | None = None
    recording_enabled: bool | None = Field(None, alias="recordingEnabled")
    recording_file_format: Literal["wav", "mp3"] | None = Field(
        None, alias="recordingFileFormat")
    transfer_to: str | None = Field(None, alias="transferTo", max_length=300)
    transfer_caller_id: str | None = Field(None, alias="transferCallerId", max_length=64)

    check_endpoints = field_validator("transfer_to")(_endpoint)
    check_caller_id = field_validator("transfer_caller_id")(_caller_id)
    lower_enums = field_validator("state", "recording_file_format", mode="before")(_lower)

    @model_validator(mode="after")
    def _transfer_needs_target(self) -> UpdateCall:
        if self.state == "transferring" and not self.transfer_to:
            raise ValueError("transferTo: required when state is transferring")
        if self.transfer_to and self.state != "transferring":
            raise ValueError("transferTo: only with state transferring")
        if self.transfer_caller_id and self.state != "transferring":
            raise ValueError("transferCallerId: only with state transferring")
        return self


class Page(BwModel):
    """`?page=0&size=25` of list resources (size at most 1000)."""

    page: int = Field(0, ge=0, le=1_000_000)
    size: int = Field(25, ge=1, le=1000)


class CallQuery(Page):
    """`GET /calls`: paging, sortOrder and the filters that apply here. This server has
    no bridges or conferences, so a bridgeId or conferenceId filter matches no call."""

    from_: str | None = Field(None, alias="from", max_length=300)
    to: str | None = Field(None, max_length=300)
    bridge_id: str | None = Field(None, alias="bridgeId", max_length=300)
    conference_id: str | None = Field(None, alias="conferenceId", max_length=300)
    sort_order: Literal["asc", "desc"] = Field("desc", alias="sortOrder")

    lower_enums = field_validator("sort_order", mode="before")(_lower)


def refuse(params: dict[str, Any], names: tuple[str, ...]) -> None:
    """A parameter this server does not implement is refused, not silently dropped."""
    for name in names:
        if params.get(name) not in (None, "", {}, []):
            raise InvalidArgument(f"{name}: not supported by this server")
