"""Loading: defaults < YAML file < `ESL_RECORDER_*` environment, validated by pydantic once.

The YAML is parsed with a `yaml.SafeLoader` (never executed) that also rejects a key given twice.
Every problem is a `ConfigError` naming the file (or `env`), the dotted key and what is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_settings import SettingsError

from ..errors import ConfigError
from .model import Settings
from .problems import config_error
from .sources import AccountEnvSource, NodeEnvSource, SectionEnvSource, YamlSource


def load_settings(path: str | os.PathLike[str] | None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the YAML file at `path` (None: none), then `ESL_RECORDER_*` from env
    (default: the process environment)."""
    if path is None:
        return settings_from_mapping({}, "<defaults>", env)
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "file", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "file", f"not UTF-8 text ({exc.reason})") from None
    return settings_from_mapping(parse_yaml(text, source), source, env)


def settings_from_mapping(data: Mapping[str, Any], source: str = "<mapping>",
                          env: Mapping[str, str] | None = None) -> Settings:
    """Settings from already-parsed YAML data named `source`, with env overrides."""
    env = os.environ if env is None else env
    from_yaml = YamlSource(data, source)
    sections = SectionEnvSource(env)
    nodes = NodeEnvSource(env, from_yaml.data.get("nodes"))
    accounts = AccountEnvSource(env, from_yaml.data.get("accounts"))
    # Highest precedence first; passed as a mapping because type checkers see only the
    # field-derived __init__, not BaseSettings' own `_build_sources` argument.
    build: dict[str, Any] = {"_build_sources": ((sections, nodes, accounts, from_yaml), {})}
    try:
        return Settings(**build)
    except ValidationError as exc:
        provided = {**sections.provided, **nodes.provided, **accounts.provided}
        raise config_error(exc, source, provided) from None
    except SettingsError as exc:
        raise ConfigError("env", "environment", str(exc)) from None


class StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader (no tags, nothing executed) that also rejects a key given twice."""


def construct_unique_mapping(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, (str, int, float, bool)):
            continue  # construct_mapping reports unhashable keys itself
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                             construct_unique_mapping)


def parse_yaml(text: str, source: str) -> Mapping[str, Any]:
    try:
        data = yaml.load(text, Loader=StrictLoader)  # a SafeLoader: never executes tags
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "document"
        problem = getattr(exc, "problem", None) or str(exc)
        column = f" (column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(source, where, f"invalid YAML: {problem}{column}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(source, "document", f"expected a mapping of sections, "
                          f"got {type(data).__name__}")
    return data
