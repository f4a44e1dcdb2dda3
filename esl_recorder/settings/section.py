"""What every settings section shares: its pydantic config, the error a rule about several
fields raises, a repr that masks secrets, and reading a secret from a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from .fields import MASK, is_secret

ENV_PREFIX = "ESL_RECORDER_"
ERROR_TYPE = "esl_recorder"  # the type of every error our own cross-field rules raise
SECTION = ConfigDict(extra="forbid", hide_input_in_errors=True)


def rule_error(problem: str, at: str, *involved: str) -> PydanticCustomError:
    """A broken rule about several fields: `at` is the key reported (relative to the
    validated object, e.g. `.password_file`), `involved` the other keys it depends on."""
    return PydanticCustomError(ERROR_TYPE, "{problem}",
                               {"problem": problem, "at": at, "involved": ",".join(involved)})


def fields_of(owner: Any) -> dict[str, FieldInfo]:
    """The declared fields of a section class (pydantic dataclass) or of Settings."""
    if isinstance(owner, type) and issubclass(owner, BaseModel):
        return owner.model_fields
    fields: dict[str, FieldInfo] = getattr(owner, "__pydantic_fields__", {})
    return fields


def masked_repr(obj: Any) -> str:
    fields = fields_of(type(obj))
    shown = (f"{name}={MASK!r}" if is_secret(f) and getattr(obj, name)
             else f"{name}={getattr(obj, name)!r}" for name, f in fields.items())
    return f"{type(obj).__name__}({', '.join(shown)})"


def read_secret_file(path: Path, at: str = ".password_file") -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise rule_error(f"cannot read {str(path)!r}: {reason}", at) from None
    if not text:
        raise rule_error(f"{str(path)!r} is empty", at)
    return text
