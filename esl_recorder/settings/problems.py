"""A pydantic ValidationError as the one line an operator reads: `<file or env>: <key>: <problem>`.

The first error is reported. Its key is the dotted path (`nodes[1].port`); it is blamed on `env`
when an environment variable supplied that key (the variable is named), else on the file. The
value is repeated only for a scalar setting that is not secret.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from ..errors import ConfigError
from .fields import is_secret
from .model import SETTING_NAMES, Settings
from .section import ERROR_TYPE, fields_of

EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "string_type": "a string",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "dataclass_type": "a mapping", "dict_type": "a mapping", "model_type": "a mapping",
    "tuple_type": "a list", "list_type": "a list",
}
SCALARS = (str, int, float, bool)
LISTS = ("nodes", "accounts")
UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument", "invalid_key")


def unknown_setting(key: str, known: Sequence[str]) -> str:
    hint = difflib.get_close_matches(key, known, n=1)
    tip = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"unknown setting{tip}; known: {', '.join(known)}"


def config_error(exc: ValidationError, source: str,
                 provided: Mapping[str, tuple[str, str]]) -> ConfigError:
    """`provided` maps each key an environment variable set to (variable, text)."""
    err = exc.errors()[0]
    ctx = err.get("ctx") or {}
    where = dotted(err["loc"])
    key = where + ctx.get("at", "")
    involved = [key, *(where + k for k in ctx.get("involved", "").split(",") if k)]
    from_env = next((provided[k] for k in involved if k in provided), None)
    owner, field = locate(err["loc"])
    text = problem(err, owner, field, from_env is not None)
    if from_env is None:
        return ConfigError(source, key, text)
    var, raw = from_env
    shown = f"={raw!r}" if err["type"] in EXPECTED and not is_secret(field) else ""
    return ConfigError("env", key, f"{var}{shown}: {text}")


def dotted(loc: tuple[int | str, ...]) -> str:
    """("nodes", 1, "port") -> "nodes[1].port"."""
    out = ""
    for i, part in enumerate(loc):
        in_list = i == 1 and loc[0] in LISTS
        out += f"[{part}]" if in_list else f".{part}" if out else str(part)
    return out


def locate(loc: tuple[int | str, ...]) -> tuple[Any, FieldInfo | None]:
    """The class holding the setting at `loc`, and its field (None: no such setting)."""
    owner: Any = Settings
    field: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int) and field is not None and get_args(field.annotation):
            owner, field = get_args(field.annotation)[0], None
            continue
        field = fields_of(owner).get(str(part))
        if field is None:
            return owner, None
        if fields_of(field.annotation):
            owner = field.annotation
    return owner, field


def problem(err: ErrorDetails, owner: Any, field: FieldInfo | None, from_env: bool) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in UNKNOWN:
        known = SETTING_NAMES if owner is Settings else tuple(fields_of(owner))
        return unknown_setting(str(err["loc"][-1]), known)
    if kind == ERROR_TYPE:
        return str(ctx["problem"])
    if kind == "value_error":
        return str(ctx["error"])
    if kind in EXPECTED:
        shown = field is not None and not is_secret(field)
        return expected(EXPECTED[kind], err["input"], shown, from_env)
    return str(err["msg"])


def expected(words: str, value: Any, shown: bool, from_env: bool) -> str:
    if from_env:
        return f"expected {words}"  # the caller shows the variable and its text
    quote = " (quote it)" if words == "a string" and isinstance(value, (int, float)) else ""
    return f"expected {words}, got {describe(value, shown)}{quote}"


def describe(value: Any, shown: bool) -> str:
    """The value's type, and the value itself if `shown` and a scalar."""
    if value is None:
        return "nothing (null)"
    if not shown or not isinstance(value, SCALARS):
        return type(value).__name__
    return f"{type(value).__name__} {value!r}"
