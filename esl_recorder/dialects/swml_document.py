"""SWML documents (seed 003, developer.signalwire.com/swml): parsed and checked whole before
a call runs any step, so a wrong document fails before the call is answered.

A document is JSON or YAML: `{version, sections: {main: [step, ...], other: [...]}}`. A step
is `{verb: params}` (or a bare verb name for verbs without parameters). Every verb's
parameters are a pydantic model that forbids unknown names: a misspelt property is an
error, not a silent default.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from ..domain.scripts import ScriptError

MAX_STEPS = 1000  # in one document, all sections together


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class RecordCall(Params):
    """`record_call` with seed 003's properties and SignalWire's defaults."""

    control_id: str = ""
    stereo: StrictBool = False
    format: Literal["wav", "mp3", "mp4"] = "wav"
    direction: Literal["speak", "listen", "both"] = "both"
    terminators: str = ""
    beep: StrictBool = False
    input_sensitivity: float = Field(default=44.0, ge=0.0, le=100.0)
    initial_timeout: float = Field(default=0.0, ge=0.0, le=3600.0)
    end_silence_timeout: float = Field(default=0.0, ge=0.0, le=3600.0)
    max_length: float | None = Field(default=None, gt=0.0, le=86400.0)
    status_url: str = ""


class StopRecordCall(Params):
    control_id: str = ""


class Play(Params):
    url: str = ""
    urls: list[str] = Field(default_factory=list, max_length=100)
    volume: float = 0.0
    say_voice: str = ""
    say_language: str = ""
    say_gender: str = ""
    auto_answer: StrictBool = True


class Answer(Params):
    max_duration: int = 0
    codecs: str = ""


class Hangup(Params):
    reason: Literal["hangup", "busy", "decline"] = "hangup"


class Goto(Params):
    """`execute` (returns) and `transfer` (does not): to a section of this document."""

    dest: str
    params: dict[str, Any] = Field(default_factory=dict)


class Sleep(Params):
    duration: int = Field(ge=0, le=3_600_000)  # milliseconds


VERBS: dict[str, type[Params]] = {
    "answer": Answer, "hangup": Hangup, "play": Play, "record_call": RecordCall,
    "stop_record_call": StopRecordCall, "execute": Goto, "transfer": Goto, "sleep": Sleep,
}
SHORT_FORMS = {"answer", "hangup", "stop_record_call"}  # allowed as a bare string


class Step(BaseModel):
    model_config = ConfigDict(frozen=True)

    verb: str
    params: Any  # a Params model, or for `set`/`unset` the plain values
    where: str  # e.g. sections.main[2]


Document = dict[str, list[Step]]  # section name -> steps


def parse(text: str) -> Document:
    """The checked sections of a SWML document; ScriptError names what is wrong, where."""
    raw = _load(text)
    if not isinstance(raw, dict):
        raise ScriptError("SWML: the document must be an object with `sections`")
    unknown = set(raw) - {"version", "sections"}
    if unknown:
        raise ScriptError(f"SWML: unknown top-level key {sorted(unknown)[0]!r}")
    version = raw.get("version", "1.0.0")
    if not isinstance(version, (str, int, float)) or not str(version).startswith("1"):
        raise ScriptError(f"SWML: unsupported version {version!r} (1.x is)")
    sections = raw.get("sections")
    if not isinstance(sections, dict) or "main" not in sections:
        raise ScriptError("SWML: `sections` must be an object with a `main` section")
    doc: Document = {}
    for name, steps in sections.items():
        if not isinstance(name, str) or not isinstance(steps, list):
            raise ScriptError(f"SWML: section {name!r} must be a list of steps")
        doc[name] = [_step(step, f"sections.{name}[{i}]") for i, step in enumerate(steps)]
    if sum(len(s) for s in doc.values()) > MAX_STEPS:
        raise ScriptError(f"SWML: more than {MAX_STEPS} steps")
    for steps in doc.values():
        for step in steps:
            if step.verb in ("execute", "transfer") and step.params.dest not in doc:
                raise ScriptError(f"SWML {step.where}: {step.verb} to unknown section "
                                  f"{step.params.dest!r}")
    return doc


def _load(text: str) -> Any:
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ScriptError(f"SWML: the document is not valid JSON: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ScriptError(f"SWML: the document is not valid YAML{where}: "
                          f"{getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise ScriptError("SWML: the document is nested too deeply") from None


def _step(raw: Any, where: str) -> Step:
    if isinstance(raw, str) and raw in SHORT_FORMS:
        return Step(verb=raw, params=VERBS[raw](), where=where)
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ScriptError(f"SWML {where}: a step is an object with exactly one verb")
    verb, params = next(iter(raw.items()))
    if verb in ("set", "unset"):
        return Step(verb=verb, params=_variables(verb, params, where), where=where)
    model = VERBS.get(verb)
    if model is None:
        raise ScriptError(f"SWML {where}: unknown or unsupported verb {verb!r}")
    if verb == "sleep" and isinstance(params, int):
        params = {"duration": params}
    if verb in ("execute", "transfer") and isinstance(params, str):
        params = {"dest": params}
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ScriptError(f"SWML {where}: {verb} takes an object, got {type(params).__name__}")
    try:
        return Step(verb=verb, params=model.model_validate(params), where=where)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"]) or verb
        raise ScriptError(f"SWML {where}: {verb}.{field}: {err['msg']}") from None


def _variables(verb: str, params: Any, where: str) -> Any:
    if verb == "set" and isinstance(params, dict) and all(
            isinstance(k, str) and isinstance(v, (str, int, float, bool))
            for k, v in params.items()):
        return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
    if verb == "unset" and (isinstance(params, str) or (
            isinstance(params, list) and all(isinstance(v, str) for v in params))):
        return [params] if isinstance(params, str) else params
    raise ScriptError(f"SWML {where}: {verb} takes "
                      f"{'an object of names and values' if verb == 'set' else 'names'}")
