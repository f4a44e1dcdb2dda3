"""Kazoo's recording parameters (`record_call`, a `call_recording` entry, a callflow's
record_call): their names, defaults and clamps, read from a JSON object (`parse_params`) into
`RecordParams`, which says when the recording begins and with which options."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..errors import InvalidArgument
from .kazoo_media import check_media_name
from .options import VALID_SAMPLE_RATES, AudioFormat, RecordOptions

TIME_LIMIT_DEFAULT = 3600  # seconds (Kazoo's callflow and ecallmgr default)
TIME_LIMIT_MIN, TIME_LIMIT_MAX = 5, 10800  # Kazoo's schema range; larger asks are clamped
MAX_URL = 2000
DIRECTIONS = ("inbound", "outbound")
NETWORKS = ("onnet", "offnet")
_PARAMS = ("enabled", "format", "record_min_sec", "record_on_answer", "record_on_bridge",
           "record_sample_rate", "time_limit", "url", "method", "label", "media_name",
           "should_follow_transfer", "action")


class Level(StrEnum):
    ACCOUNT = "account"
    USER = "user"
    DEVICE = "device"


class Timing(StrEnum):
    """When a policy's recording begins."""

    START = "start"
    ANSWER = "answer"
    BRIDGE = "bridge"


@dataclass(frozen=True)
class RecordParams:
    """One level's recording parameters (Kazoo's names, defaults and clamps)."""

    format: AudioFormat = AudioFormat.MP3
    record_min_sec: int = 0
    record_on_answer: bool = False
    record_on_bridge: bool = False
    record_sample_rate: int | None = None
    time_limit: int = TIME_LIMIT_DEFAULT
    url: str = ""
    method: str = "put"
    media_name: str = ""
    follow_transfer: bool = False  # should_follow_transfer

    @property
    def timing(self) -> Timing:
        if self.record_on_bridge:
            return Timing.BRIDGE
        return Timing.ANSWER if self.record_on_answer else Timing.START

    def options(self) -> RecordOptions:
        """Stereo (ecallmgr's default: the party on the left, what it hears on the right),
        never pre-answering the call (FreeSWITCH's recorder would: the audio waits for the
        answer), the time limit clamped."""
        return RecordOptions(channels=2, format=self.format,
                             sample_rate=self.record_sample_rate,
                             max_length_s=self.time_limit, min_length_s=self.record_min_sec,
                             answered_only=True, follow_transfer=self.follow_transfer)


def parse_params(data: Any, where: str, default_format: AudioFormat,
                 check_url: Callable[[str], None] | None = None, *,
                 follow_default: bool = False) -> RecordParams:
    """An object of recording parameters; InvalidArgument naming the first bad one.
    `should_follow_transfer` defaults to `follow_default`: true for a callflow's
    record_call (cf_record_call.erl), false for policies (Kazoo's account and endpoint
    recordings send Follow-Transfer false)."""
    if not isinstance(data, dict):
        raise InvalidArgument(f"{where}: must be an object")
    unknown = sorted(set(data) - set(_PARAMS))
    if unknown:
        raise InvalidArgument(f"{where}.{unknown[0]}: not a recording parameter")
    fmt = _string(data, "format", where, ("mp3", "wav"), default_format.value)
    rate = _integer(data, "record_sample_rate", where, None)
    if rate is not None and rate not in VALID_SAMPLE_RATES:
        raise InvalidArgument(f"{where}.record_sample_rate: must be one of {VALID_SAMPLE_RATES}")
    limit = _integer(data, "time_limit", where, TIME_LIMIT_DEFAULT)
    min_sec = _integer(data, "record_min_sec", where, 0)
    if not 0 <= (min_sec or 0) <= 3600:
        raise InvalidArgument(f"{where}.record_min_sec: must be 0..3600")
    url = _string(data, "url", where, None, "")
    if len(url) > MAX_URL or (url and not url.startswith(("http://", "https://"))):
        raise InvalidArgument(f"{where}.url: must be an http(s) URL of at most {MAX_URL} "
                              "characters")
    if url and check_url is not None:
        try:
            check_url(url)
        except ValueError as exc:
            raise InvalidArgument(f"{where}.url: {exc}") from None
    _string(data, "label", where, None, "")
    media_name = check_media_name(_string(data, "media_name", where, None, ""), where)
    _string(data, "action", where, ("start", "stop"), "start")
    for name in ("enabled", "record_on_answer", "record_on_bridge", "should_follow_transfer"):
        _boolean(data, name, where)
    return RecordParams(
        format=AudioFormat(fmt), record_min_sec=min_sec or 0,
        record_on_answer=bool(data.get("record_on_answer")),
        record_on_bridge=bool(data.get("record_on_bridge")),
        record_sample_rate=rate,
        time_limit=min(max(limit or TIME_LIMIT_DEFAULT, TIME_LIMIT_MIN), TIME_LIMIT_MAX),
        url=url, method=_string(data, "method", where, ("put", "post"), "put"),
        media_name=media_name,
        follow_transfer=_flag(data, "should_follow_transfer", follow_default))


def _string(data: Mapping[str, Any], name: str, where: str, allowed: tuple[str, ...] | None,
            default: str | None) -> str:
    value = data.get(name)
    if value is None:
        return default or ""
    if not isinstance(value, str) or (allowed is not None and value not in allowed):
        want = f"one of {', '.join(allowed)}" if allowed else "a string"
        raise InvalidArgument(f"{where}.{name}: must be {want}")
    if len(value) > MAX_URL or any(ord(c) < 32 for c in value):
        raise InvalidArgument(f"{where}.{name}: too long or holds control characters")
    return value


def _integer(data: Mapping[str, Any], name: str, where: str, default: int | None) -> int | None:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**6:
        raise InvalidArgument(f"{where}.{name}: must be a whole number 0..1000000")
    return value


def _flag(data: Mapping[str, Any], name: str, default: bool) -> bool:
    value = data.get(name)
    return default if value is None else bool(value)


def _boolean(data: Mapping[str, Any], name: str, where: str) -> None:
    if name in data and data[name] is not None and not isinstance(data[name], bool):
        raise InvalidArgument(f"{where}.{name}: must be true or false")
