"""What the dialects need beyond the accounts: Bandwidth's dialing (`bandwidth`), call scripts
(`scripts`) and Kazoo's policies, callflows and uploads (`kazoo`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, Strict, model_validator
from pydantic.dataclasses import dataclass

from .fields import (
    Bool,
    DialTemplate,
    NodeName,
    OneLine,
    OptionalPath,
    Seconds,
    VariableName,
    between,
    node_name,
    one_of,
    optional,
    token,
)
from .section import SECTION, rule_error


@dataclass(frozen=True, config=SECTION)
class BandwidthSettings:
    dial_string: DialTemplate = Field(
        default="sofia/gateway/default/{to}",
        description="Where Bandwidth POST /calls dials: {to} and {from} are the validated numbers.")
    application: OneLine = Field(
        default="&park()",
        description="What the answered call runs (originate's second argument), e.g. '&park()' or "
                    "'1000 XML default'.")
    call_timeout: Annotated[int, Strict(), AfterValidator(between(1, 300))] = Field(
        default=60, description="Default seconds to wait for answer (callTimeout).")
    transfer_context: NodeName = Field(
        default="default",
        description="XML dialplan context a call is sent to by state=transferring "
                    "(uuid_transfer <call> <transferTo> XML <context>).")


def script_document(v: str) -> str:
    """An absolute file path, or an http(s) URL."""
    token(v)
    if not (v.startswith("/") or v.startswith(("http://", "https://"))):
        raise ValueError(f"must be an absolute file path or an http(s) URL, got {v!r}")
    return v


@dataclass(frozen=True, config=SECTION)
class ScriptDocumentSettings:
    document: Annotated[str, Strict(), AfterValidator(script_document)] = Field(
        description="The script: an absolute file path, or an http(s) URL fetched for each call "
                    "(delivery.allowed_networks applies to it like to callbacks).")
    dialect: Annotated[str, Strict(), AfterValidator(one_of("swml", "kazoo"))] = Field(
        default="swml", description="The document's language: swml, or kazoo (a callflow).")
    name: Annotated[str, Strict(), AfterValidator(optional(node_name))] = Field(
        default="", description="The value of scripts.variable that selects this document.")
    destination: Annotated[str, Strict(), AfterValidator(optional(node_name))] = Field(
        default="", description="Or: the destination number of the parked calls that run it.")
    tts_engine: Annotated[str, Strict(), AfterValidator(optional(node_name))] = Field(
        default="", description="Text-to-speech engine for this document; empty: "
                                "scripts.tts_engine.")
    tts_voice: Annotated[str, Strict(), AfterValidator(optional(node_name))] = Field(
        default="", description="Text-to-speech voice; empty: scripts.tts_voice.")

    @model_validator(mode="after")
    def one_selector(self) -> ScriptDocumentSettings:
        if bool(self.name) == bool(self.destination):
            raise rule_error("set exactly one of name and destination", ".name",
                             ".destination")
        return self


@dataclass(frozen=True, config=SECTION)
class ScriptSettings:
    variable: VariableName = Field(
        default="esl_recorder_script",
        description="Channel variable a dialplan sets before `park` to hand the call to the "
                    "script of that name.")
    documents: tuple[ScriptDocumentSettings, ...] = Field(
        default=(),
        description="The scripts, each with name or destination, document, dialect, tts_engine, "
                    "tts_voice (YAML only). None: scripts are off and their events unsubscribed.")
    tts_engine: NodeName = Field(
        default="flite", description="Text-to-speech engine for `say:` (a FreeSWITCH module).")
    tts_voice: NodeName = Field(default="kal", description="Text-to-speech voice for `say:`.")
    fetch_timeout: Seconds = Field(
        default=5.0, description="Seconds a script document or media URL may take to fetch.")
    max_document_bytes: Annotated[int, Strict(), AfterValidator(between(1024, 16 << 20))] = Field(
        default=1 << 20, description="Largest script document fetched or read, in bytes.")
    max_media_bytes: Annotated[int, Strict(), AfterValidator(between(1024, 1 << 30))] = Field(
        default=50 << 20, description="Largest media file a script's play fetches, in bytes.")
    run_endpoint: Bool = Field(
        default=False,
        description="Serve POST /api/swml/calls/{call_id}: accounts run a SWML document they "
                    "send on their live calls (subscribes to the script events).")


@dataclass(frozen=True, config=SECTION)
class KazooSettings:
    policy_file: OptionalPath = Field(
        default="",
        description="YAML file of Kazoo recording policies (account, user and device documents "
                    "with record_call / call_recording); read at start and on SIGHUP. Empty: "
                    "only the policies set over the API.")
    direction_variable: VariableName = Field(
        default="esl_recorder_direction",
        description="Channel variable giving a call's direction for policies (inbound: to the "
                    "user/device/account, outbound: from it); unset: FreeSWITCH's leg direction.")
    network_variable: VariableName = Field(
        default="esl_recorder_network",
        description="Channel variable saying whether the other party is onnet or offnet; "
                    "unset: only the policies' `any` entries match.")
    default_format: Annotated[str, Strict(), AfterValidator(one_of("mp3", "wav"))] = Field(
        default="mp3",
        description="Format of a Kazoo recording that names none (Kazoo's default is mp3, "
                    "which needs FreeSWITCH's mod_shout).")
    bridge_dial_string: DialTemplate = Field(
        default="sofia/gateway/default/{to}",
        description="Where a callflow's bridge module dials: {to} is its data.number.")
    upload_timeout: Seconds = Field(
        default=300.0,
        description="Seconds one upload of a recording to its `url` may take (Kazoo: 5 min).")
    keep_local: Bool = Field(
        default=True,
        description="Keep a recording's file after its upload to `url` is confirmed (false: "
                    "removed then; the API serves it no more).")
