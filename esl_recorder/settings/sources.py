"""Where values come from, as pydantic-settings sources: the YAML document and the environment.

Precedence, highest first: the section variables (`ESL_RECORDER_<SECTION>_<KEY>`, parsed by
pydantic-settings' own nested env source), the node forms, the account forms, the YAML file.
Each environment source records which keys it set (`provided`), so that an invalid value is
reported against `env` and its variable rather than the file.

Node forms: `ESL_RECORDER_NODES=fs1=10.0.0.5:8021,fs2=[::1]:8021` replaces the node list, and
`ESL_RECORDER_NODE_<NAME>_PASSWORD` / `ESL_RECORDER_NODE_<NAME>_PASSWORD_FILE` set the password of
the node whose name, upper-cased with `-` turned into `_`, is `<NAME>`. Account form:
`ESL_RECORDER_ACCOUNT_<ID>_<FIELD>` sets a field of the YAML account `<ID>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import EnvSettingsSource, PydanticBaseSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from ..errors import ConfigError
from .accounts import AccountSettings
from .freeswitch import DEFAULT_NODES, NodeSettings, node_env_name
from .model import SECTIONS, SETTING_NAMES, Settings
from .problems import unknown_setting
from .section import ENV_PREFIX, fields_of

NODES_ENV = ENV_PREFIX + "NODES"
DEFAULT_PORT = fields_of(NodeSettings)["port"].default
Provided = dict[str, tuple[str, str]]  # dotted key -> (variable, its text)


def env_name(key: str) -> str:
    """`esl.command_timeout` -> `ESL_RECORDER_ESL_COMMAND_TIMEOUT`."""
    return ENV_PREFIX + key.upper().replace(".", "_")


def account_env_name(account: str, field_name: str) -> str:
    norm = account if account == "<ID>" else re.sub(r"[^A-Z0-9]", "_", account.upper())
    return f"{ENV_PREFIX}ACCOUNT_{norm}_{field_name.upper()}"


def from_env_text(field: FieldInfo | None, text: str) -> Any:
    """Environment text as the field's type (`"8021"` -> 8021), or the text unchanged if it is
    not one: the strict check then rejects it, naming the variable."""
    if field is None or field.annotation in (None, str):
        return text
    try:
        return TypeAdapter(field.annotation).validate_python(text.strip())
    except ValidationError:
        return text


class YamlSource(PydanticBaseSettingsSource):
    """The parsed YAML document; empty sections mean defaults, and a node's relative
    `password_file` is taken from the YAML file's directory."""

    def __init__(self, data: Mapping[Any, Any], source: str) -> None:
        super().__init__(Settings)
        for key in data:
            if key not in SETTING_NAMES:
                raise ConfigError(source, str(key), unknown_setting(str(key), SETTING_NAMES))
        base = Path(source).parent if not source.startswith("<") else Path.cwd()
        self.data = {k: v for k, v in data.items() if v is not None}
        if isinstance(self.data.get("nodes"), list):
            self.data["nodes"] = [with_file_from(base, node) for node in self.data["nodes"]]
        self.data["source"] = source

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.data


def with_file_from(base: Path, node: Any) -> Any:
    if isinstance(node, dict) and isinstance(node.get("password_file"), str):
        return {**node, "password_file": str(base / node["password_file"])}
    return node


class SectionEnvSource(EnvSettingsSource):
    """`ESL_RECORDER_<SECTION>_<KEY>`: pydantic-settings' nested environment source, split once
    after the section name; variables naming no setting are left to check-config's warning."""

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__(Settings)
        upper = {k: v for k, v in env.items() if k.isupper()}  # the names as documented
        self.env_vars = parse_env_vars(upper, self.case_sensitive, self.env_ignore_empty,
                                       self.env_parse_none_str)
        self.provided: Provided = {}

    def prepare_field_value(self, field_name: str, field: FieldInfo, value: Any,
                            value_is_complex: bool) -> Any:
        if field_name not in SECTIONS:
            return None  # nodes and accounts have their own forms
        found = super().prepare_field_value(field_name, field, None, value_is_complex) or {}
        declared = fields_of(SECTIONS[field_name])
        values = {k: v for k, v in found.items() if k in declared}
        for k, text in values.items():
            self.provided[f"{field_name}.{k}"] = (env_name(f"{field_name}.{k}"), text)
            values[k] = from_env_text(declared[k], text)
        return values or None


class NodeEnvSource(PydanticBaseSettingsSource):
    """`ESL_RECORDER_NODES` and `ESL_RECORDER_NODE_<NAME>_PASSWORD[_FILE]` over the YAML list."""

    def __init__(self, env: Mapping[str, str], yaml_nodes: Any) -> None:
        super().__init__(Settings)
        self.env, self.yaml_nodes = env, yaml_nodes
        self.provided: Provided = {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if NODES_ENV in self.env:
            nodes = self.parse_nodes(self.env[NODES_ENV])
        elif self.yaml_nodes is None:
            nodes = [{"name": n.name, "host": n.host} for n in DEFAULT_NODES]
        elif isinstance(self.yaml_nodes, list):
            nodes = [dict(n) if isinstance(n, dict) else n for n in self.yaml_nodes]
        else:
            return {}  # not a list: the YAML check reports it
        changed = self.apply_passwords(nodes)
        return {"nodes": nodes} if changed or NODES_ENV in self.env else {}

    def parse_nodes(self, text: str) -> list[dict[str, Any]]:
        """`fs1=10.0.0.5:8021,fs2=host` (port optional, IPv6 as `[::1]:8021`)."""
        items = [x.strip() for x in text.split(",") if x.strip()]
        if not items:
            raise ConfigError("env", "nodes", f"{NODES_ENV} is set but names no node")
        return [self.parse_node(i, item) for i, item in enumerate(items)]

    def parse_node(self, i: int, item: str) -> dict[str, Any]:
        key = f"nodes[{i}]"
        if "@" in item:
            raise ConfigError("env", key, f"{NODES_ENV}: entry {i + 1} holds credentials "
                              f"(user@ or user:password@); give only name=host[:port] and set "
                              f"the password with {ENV_PREFIX}NODE_<NAME>_PASSWORD")
        name, sep, addr = item.partition("=")
        host, port_text = split_host_port(addr)
        if not sep or not host:
            raise ConfigError("env", key, f"{NODES_ENV}: {item!r} is not name=host[:port]")
        node: dict[str, Any] = {"name": name.strip(), "host": host, "port": DEFAULT_PORT}
        for field in ("name", "host"):
            self.provided[f"{key}.{field}"] = (NODES_ENV, node[field])
        if port_text:
            self.provided[f"{key}.port"] = (NODES_ENV, port_text)
            node["port"] = from_env_text(fields_of(NodeSettings)["port"], port_text)
        return node

    def apply_passwords(self, nodes: list[Any]) -> bool:
        names = [n["name"] for n in nodes if isinstance(n, dict) and isinstance(n.get("name"), str)]
        if len(names) != len(nodes):
            return False  # a malformed YAML node: its own check reports it
        known = {node_env_name(n, s) for n in names for s in ("PASSWORD", "PASSWORD_FILE")}
        for var in sorted(self.env):
            if (var.startswith(f"{ENV_PREFIX}NODE_") and var not in known
                    and var.endswith(("_PASSWORD", "_PASSWORD_FILE"))):
                raise ConfigError("env", "nodes", f"{var} names no configured node "
                                  f"(nodes: {', '.join(names)})")
        changed = [self.apply_password(i, node) for i, node in enumerate(nodes)]
        return any(changed)

    def apply_password(self, i: int, node: dict[str, Any]) -> bool:
        var, file_var = node_env_name(node["name"]), node_env_name(node["name"], "PASSWORD_FILE")
        if var in self.env and file_var in self.env:
            raise ConfigError("env", f"nodes[{i}].password", f"set {var} or {file_var}, not both")
        for name, field in ((var, "password"), (file_var, "password_file")):
            if name in self.env:
                node.pop("password", None)
                node.pop("password_file", None)
                node[field] = self.env[name]
                self.provided[f"nodes[{i}].{field}"] = (name, self.env[name])
                return True
        return False


def split_host_port(addr: str) -> tuple[str, str]:
    addr = addr.strip()
    if addr.startswith("["):
        host, _, rest = addr[1:].partition("]")
        return host, rest.removeprefix(":")
    if addr.count(":") == 1:
        host, _, port_text = addr.partition(":")
        return host, port_text
    return addr, ""


class AccountEnvSource(PydanticBaseSettingsSource):
    """`ESL_RECORDER_ACCOUNT_<ID>_<FIELD>` over the YAML account `<ID>` (its secrets, usually)."""

    def __init__(self, env: Mapping[str, str], yaml_accounts: Any) -> None:
        super().__init__(Settings)
        self.env, self.yaml_accounts = env, yaml_accounts
        self.provided: Provided = {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if not isinstance(self.yaml_accounts, list):
            return {}
        accounts = [self.override(i, a) for i, a in enumerate(self.yaml_accounts)]
        return {"accounts": accounts} if self.provided else {}

    def override(self, i: int, account: Any) -> Any:
        if not isinstance(account, dict) or not isinstance(account.get("id"), str):
            return account
        account = dict(account)
        for field in fields_of(AccountSettings):
            var = account_env_name(account["id"], field)
            if field != "id" and var in self.env:
                account[field] = self.env[var]
                self.provided[f"accounts[{i}].{field}"] = (var, self.env[var])
        return account
