"""What a recording request asks for, in FreeSWITCH-neutral, vendor-neutral terms.

Every dialect parses its request into a `RecordOptions`; only `record_variables`
turns it into FreeSWITCH recording variables (see esl.commands for the command).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from ..errors import InvalidArgument

VALID_SAMPLE_RATES = (8000, 12000, 16000, 24000, 32000, 44100, 48000)
CONTROL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
DTMF_DIGITS = re.compile(r"[0-9A-Da-d*#]{0,16}")


class Track(StrEnum):
    """Which audio of the recorded channel.

    INBOUND: what the party on the channel says (FreeSWITCH's *read* stream).
    OUTBOUND: what FreeSWITCH sends to the party, i.e. what they hear (*write* stream).
    """

    BOTH = "both"
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class PauseBehavior(StrEnum):
    SKIP = "skip"  # uuid_record pause: the paused audio is left out
    SILENCE = "silence"  # uuid_record mask: silence written, timeline kept


class AudioFormat(StrEnum):
    WAV = "wav"
    MP3 = "mp3"


# The Content-Type a recording's media is served with, in every dialect: audio/x-wav is
# what Twilio-compatible APIs answer (and what browsers and the SDKs accept).
MEDIA_TYPES: dict[AudioFormat, str] = {AudioFormat.WAV: "audio/x-wav",
                                       AudioFormat.MP3: "audio/mpeg"}


@dataclass(frozen=True)
class SilenceDetection:
    initial_timeout_ms: int = 0  # stop if no speech at all for this long (0 = off)
    end_silence_timeout_ms: int = 0  # stop after this much silence following speech
    threshold: int = 200  # FreeSWITCH energy threshold (avg abs sample per frame)

    @property
    def enabled(self) -> bool:
        return self.initial_timeout_ms > 0 or self.end_silence_timeout_ms > 0


@dataclass(frozen=True)
class RecordOptions:
    channels: int = 1  # 1 = mono mix (or one track), 2 = party on ch0, what they hear on ch1
    track: Track = Track.BOTH
    format: AudioFormat = AudioFormat.WAV
    sample_rate: int | None = None  # None: the channel's codec rate
    max_length_s: int = 0  # 0 = until stopped (capped by settings.recording.max_length)
    min_length_s: int = 0  # shorter recordings are discarded (status absent)
    answered_only: bool = True  # never pre-answer: wait for CHANNEL_ANSWER
    beep: bool = False
    terminators: str = ""  # DTMF digits that stop the recording
    silence: SilenceDetection = field(default_factory=SilenceDetection)
    trim_silence: bool = False
    pause_behavior: PauseBehavior = PauseBehavior.SILENCE
    control_id: str = ""  # caller-chosen handle, unique among a call's recordings
    follow_transfer: bool = False  # the recording moves with the call when it is transferred

    def validated(self, max_length_cap: int, default_control_id: str = "") -> RecordOptions:
        """Check every field; clamp the length to the operator's cap; a control id left
        empty becomes `default_control_id` (one copy of the options, not two)."""
        _check(self.channels in (1, 2), "channels", "must be 1 or 2")
        _check(self.channels == 1 or self.track is Track.BOTH, "track",
               "a two-channel recording holds both tracks")
        _check(self.sample_rate is None or self.sample_rate in VALID_SAMPLE_RATES,
               "sample_rate", f"must be one of {VALID_SAMPLE_RATES}")
        _check(self.max_length_s >= 0, "max_length_s", "must not be negative")
        _check(0 <= self.min_length_s <= 3600, "min_length_s", "must be 0..3600")
        _check(bool(DTMF_DIGITS.fullmatch(self.terminators)), "terminators",
               "only DTMF digits 0-9 A-D * #")
        _check(not self.control_id or bool(CONTROL_ID.fullmatch(self.control_id)),
               "control_id", "1-64 of A-Z a-z 0-9 _ . : -")
        s = self.silence
        _check(0 <= s.initial_timeout_ms <= 3_600_000 and 0 <= s.end_silence_timeout_ms
               <= 3_600_000, "silence", "timeouts must be 0..3600000 ms")
        _check(0 <= s.threshold <= 32767, "silence.threshold", "must be 0..32767")
        _check(not self.trim_silence or self.format is AudioFormat.WAV, "trim_silence",
               "trimming is done on WAV files only")
        limit = self.max_length_s or max_length_cap
        return replace(self, max_length_s=min(limit, max_length_cap),
                       control_id=self.control_id or default_control_id)

    def to_dict(self) -> dict[str, Any]:
        # Field by field (asdict's deep copy of every scalar cost ~4% of a create request);
        # silence is the only nested dataclass, its fields are scalars too.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["silence"] = {f.name: getattr(self.silence, f.name) for f in fields(SilenceDetection)}
        for key in ("track", "format", "pause_behavior"):
            data[key] = data[key].value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordOptions:
        data = dict(data)
        data["silence"] = SilenceDetection(**data.get("silence", {}))
        data["track"] = Track(data.get("track", "both"))
        data["format"] = AudioFormat(data.get("format", "wav"))
        data["pause_behavior"] = PauseBehavior(data.get("pause_behavior", "silence"))
        return cls(**data)


def _check(ok: bool, field_name: str, problem: str) -> None:
    if not ok:
        raise InvalidArgument(f"{field_name}: {problem}")


# A recording that follows transfers: FreeSWITCH moves a session's recordings to the new
# leg on a transfer (switch_ivr_transfer_recordings: sofia.c's REFER and redirect paths,
# uuid_transfer -bleg, switch_ivr_originate.c's attended transfer; att_xfer reads the
# second) when these are true on the *channel*: it reads them with switch_channel_get_variable
# at the transfer, never from a recording's {} variables. They move every recording of the
# channel, as Kazoo's ecallmgr sets them (record_call_vars: Follow-Transfer).
FOLLOW_TRANSFER = {"recording_follow_transfer": "true", "recording_follow_attxfer": "true"}


def record_variables(options: RecordOptions, sid: str) -> dict[str, str | int | bool]:
    """The `{}` block of `uuid_record start`: every flag explicit, so channel-level
    variables set elsewhere (dialplan, other tools) cannot leak into this recording."""
    stereo = options.channels == 2
    variables: dict[str, str | int | bool] = {
        "RECORD_STEREO": stereo,
        "RECORD_STEREO_SWAP": False,
        "RECORD_READ_ONLY": not stereo and options.track is Track.INBOUND,
        "RECORD_WRITE_ONLY": not stereo and options.track is Track.OUTBOUND,
        "RECORD_ANSWER_REQ": options.answered_only,
        "RECORD_APPEND": False,
        "RECORD_TOGGLE_ON_REPEAT": False,
        "RECORD_MIN_SEC": options.min_length_s,
    }
    if options.sample_rate:
        variables["record_sample_rate"] = options.sample_rate
    s = options.silence
    if s.initial_timeout_ms:
        variables["RECORD_INITIAL_TIMEOUT_MS"] = s.initial_timeout_ms
    if s.end_silence_timeout_ms:
        variables["RECORD_FINAL_TIMEOUT_MS"] = s.end_silence_timeout_ms
    if s.enabled:
        variables["RECORD_SILENCE_THRESHOLD"] = s.threshold
    variables["esl_recorder_sid"] = sid
    return variables
