"""How recordings are made (`recording`) and which channel variables say whose call it is
(`identity`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, Strict
from pydantic.dataclasses import dataclass

from .fields import AbsolutePath, Seconds, Token, VariableName, between, one_of
from .section import SECTION


@dataclass(frozen=True, config=SECTION)
class RecordingSettings:
    root: AbsolutePath = Field(
        default="/var/lib/esl_recorder/recordings",
        description="Directory for recording files; same path in FreeSWITCH and here.")
    default_format: Annotated[str, Strict(), AfterValidator(one_of("wav", "mp3"))] = Field(
        default="wav", description="File format when a request names none: wav or mp3.")
    max_length: Annotated[int, Strict(), AfterValidator(between(1, 86400))] = Field(
        default=14400, description="Hard cap on any recording's length, in seconds.")
    beep_tone: Token = Field(
        default="tone_stream://%(250,0,1000)",
        description="What FreeSWITCH plays as the beep before a recording.")
    finalize_workers: Annotated[int, Strict(), AfterValidator(between(1, 64))] = Field(
        default=4, description="Greenlets that finalize finished recording files.")
    truncation_tolerance: Seconds = Field(
        default=2.0,
        description="A file shorter than the time FreeSWITCH recorded by more than this many "
                    "seconds was not written whole: the recording ends failed.")
    stop_grace: Seconds = Field(
        default=5.0,
        description="Seconds a recording waits for its RECORD_STOP after its call's hangup, or "
                    "after a reconnect found it ended, before it is finished from the file on "
                    "disk (FreeSWITCH may send the event late under load).")
    unfinished_timeout: Seconds = Field(
        default=300.0,
        description="Seconds a recording may stay queued, or running past its call or its "
                    "length limit, before it is ended (failed, or finished from disk).")


@dataclass(frozen=True, config=SECTION)
class IdentitySettings:
    account_variable: VariableName = Field(
        default="esl_recorder_account_id",
        description="Channel variable holding the call's account id.")
    user_variable: VariableName = Field(
        default="esl_recorder_user_id", description="Channel variable holding the call's user id.")
    device_variable: VariableName = Field(
        default="esl_recorder_device_id",
        description="Channel variable holding the call's device id.")
