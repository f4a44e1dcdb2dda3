"""The request body of SignalWire's Calling API recording commands (`POST /api/calling/calls`),
as signalwire-sdk 3.x sends it: `{"command", "id", "params"}`.

Defaults are those of SWML's record_call (wav, both sides, no terminators, no silence
timeouts, input_sensitivity 44): the REST command records the call in the background while
it goes on, as record_call does. (RELAY v2's documented defaults, mp3 / speak / 5 s initial
and 1 s end-silence timeouts / terminators `#*`, are a voicemail's: they would end a call
recording at its first second of silence.) Values are strictly typed: JSON booleans for
booleans, JSON numbers for numbers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, RootModel, StrictBool, field_validator, model_validator

from ..domain.options import CONTROL_ID, DTMF_DIGITS
from .base import RequestModel
from .compat_params import CallbackUrl
from .relay import DEFAULT_SENSITIVITY, Direction

RECORD = "calling.record"
PAUSE = "calling.record.pause"
RESUME = "calling.record.resume"
STOP = "calling.record.stop"
COMMANDS = (RECORD, PAUSE, RESUME, STOP)

Seconds = Annotated[float, Field(ge=0, le=3600, strict=True)]
ControlId = Annotated[str, Field(pattern=f"^{CONTROL_ID.pattern}$", strict=True)]
CallId = Annotated[str, Field(min_length=1, max_length=128, strict=True,
                              description="The call's id: its FreeSWITCH channel UUID.")]


class Audio(RequestModel):
    format: Literal["wav", "mp3"] = Field(
        "wav", description="wav or mp3 (mp4 cannot be made by FreeSWITCH's recorder).")
    direction: Direction = Field(
        "both", description="speak: what the party says; listen: what it hears; both.")
    stereo: StrictBool = Field(
        False, description="Two channels: the party on the left, what it hears on the right.")
    beep: StrictBool = Field(False, description="Play a beep into the call before recording.")
    terminators: str = Field(
        "", pattern=f"^{DTMF_DIGITS.pattern}$", strict=True,
        description="DTMF digits that stop the recording (none by default).")
    initial_timeout: Seconds = Field(
        0.0, description="Seconds to wait for speech to start; 0: no limit.")
    end_silence_timeout: Seconds = Field(
        0.0, description="Seconds of silence after speech that end the recording; 0: never.")
    input_sensitivity: float = Field(
        DEFAULT_SENSITIVITY, ge=0, le=100, strict=True,
        description="0-100: how quiet a sound still counts as speech (larger: quieter).")

    @field_validator("format", mode="before")
    @classmethod
    def _no_mp4(cls, value: Any) -> Any:
        if value == "mp4":
            raise ValueError("mp4 cannot be produced by FreeSWITCH's recorder: use wav or mp3")
        return value

    @model_validator(mode="after")
    def _stereo_holds_both(self) -> Audio:
        if self.stereo and self.direction != "both":
            raise ValueError("a stereo recording holds both directions: direction must be "
                             "both when stereo is true")
        return self


class RecordParams(RequestModel):
    control_id: ControlId | None = Field(
        None, description="This recording's id on the call (default: the recording sid).")
    audio: Audio = Field(default_factory=lambda: Audio.model_validate({}))
    status_url: CallbackUrl | None = Field(
        None, description="Where calling.call.record events are POSTed as JSON.")


class ControlParams(RequestModel):
    control_id: ControlId = Field(description="The recording's control_id.")


class PauseParams(ControlParams):
    behavior: Literal["skip", "silence"] = Field(
        "silence", description="skip: the paused audio is left out; silence: replaced by "
                               "silence (the timeline is kept).")


class RecordCommand(RequestModel):
    command: Literal["calling.record"]
    id: CallId
    params: RecordParams = Field(default_factory=lambda: RecordParams.model_validate({}))


class PauseCommand(RequestModel):
    command: Literal["calling.record.pause"]
    id: CallId
    params: PauseParams


class ResumeCommand(RequestModel):
    command: Literal["calling.record.resume"]
    id: CallId
    params: ControlParams


class StopCommand(RequestModel):
    command: Literal["calling.record.stop"]
    id: CallId
    params: ControlParams


Control = PauseCommand | ResumeCommand | StopCommand
Command = RecordCommand | Control


class CallCommand(RootModel[Annotated[Command, Field(discriminator="command")]]):
    """One recording command on a live call."""
