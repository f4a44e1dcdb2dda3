"""Every setting, declared once: YAML key, type, default, env override, one-line doc, validator.

A setting is a field of a frozen section dataclass, made with `setting(default, doc, check)`.
The YAML key is `<section>.<field>`; the environment override is derived from it:
`esl.command_timeout` -> `ESL_RECORDER_ESL_COMMAND_TIMEOUT`. Precedence: defaults < YAML < env.

Nodes are a list, so their environment overrides are special:
`ESL_RECORDER_NODES=fs1=10.0.0.5:8021,fs2=[::1]:8021` replaces the node list, and
`ESL_RECORDER_NODE_<NAME>_PASSWORD` / `ESL_RECORDER_NODE_<NAME>_PASSWORD_FILE` set the password of
the node whose name, upper-cased with `-` turned into `_`, is `<NAME>`.

The YAML is parsed with `yaml.safe_load` and never executed. Every problem is a `ConfigError`
naming the file (or `env`), the dotted key and what is wrong.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

ENV_PREFIX = "ESL_RECORDER_"
NODES_ENV = ENV_PREFIX + "NODES"
MASK = "********"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

Check = Callable[[Any], Any]  # returns the (possibly normalized) value or raises ValueError


@dataclass(frozen=True)
class Spec:
    doc: str
    check: Check | None = None
    secret: bool = False


REQUIRED: Any = dataclasses.MISSING


def setting(default: Any, doc: str, check: Check | None = None, *, secret: bool = False) -> Any:
    """Declare one setting as a dataclass field (its metadata carries the doc and validator).

    `default=REQUIRED` makes a field without default (node name and host)."""
    return field(default=default, metadata={"spec": Spec(doc, check, secret)})


# --- validators ------------------------------------------------------------------------------


def port(v: int) -> int:
    if not 1 <= v <= 65535:
        raise ValueError(f"must be a TCP port between 1 and 65535, got {v}")
    return v


def listen_port(v: int) -> int:
    if not 0 <= v <= 65535:
        raise ValueError(f"must be between 0 (any free port) and 65535, got {v}")
    return v


def positive(v: float) -> float:
    if v <= 0:
        raise ValueError(f"must be greater than 0, got {v}")
    return v


def between(lo: int, hi: int) -> Check:
    def check(v: int) -> int:
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {v}")
        return v
    return check


def one_of(*choices: str) -> Check:
    def check(v: str) -> str:
        if v not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {v!r}")
        return v
    return check


def log_level(v: str) -> str:
    if v.upper() not in LOG_LEVELS:
        raise ValueError(f"must be a logging level ({', '.join(LOG_LEVELS)}), got {v!r}")
    return v.upper()


def token(v: str) -> str:
    """Non-empty, no whitespace: the value goes into a FreeSWITCH command line."""
    if not v or re.search(r"\s", v):
        raise ValueError(f"must be non-empty and contain no whitespace, got {v!r}")
    return v


def absolute_path(v: str) -> str:
    token(v)
    if not os.path.isabs(v):
        raise ValueError(f"must be an absolute path, got {v!r}")
    return v


def variable_name(v: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
        raise ValueError(f"must be a channel variable name (letters, digits, _), got {v!r}")
    return v


def node_name(v: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", v):
        raise ValueError(f"must be letters, digits, '_' or '-', got {v!r}")
    return v


def password(v: str) -> str:
    if not v or any(c in v for c in "\r\n\0"):
        raise ValueError("must be non-empty and on one line")
    return v


def account_id(v: str) -> str:
    """Also a directory name under recording.root and part of URLs."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}", v):
        raise ValueError(f"must be 1-64 letters, digits, '_', '.', '@' or '-', got {v!r}")
    return v


def optional_id(v: str) -> str:
    return account_id(v) if v else v


def optional_secret(v: str) -> str:
    return password(v) if v else v


def http_url(v: str) -> str:
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", v):
        raise ValueError(f"must be an http:// or https:// URL, got {v!r}")
    return v


def dial_template(v: str) -> str:
    token(v)
    if "{to}" not in v:
        raise ValueError(f"must contain {{to}} (the called number), got {v!r}")
    return v


def base_url(v: str) -> str:
    if v and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", v):
        raise ValueError(f"must be empty or an http:// or https:// URL, got {v!r}")
    return v.rstrip("/")


# --- declarations ----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class NodeSettings:
    name: str = setting(REQUIRED, "Unique node name, used in logs, metrics and env var names.",
                        node_name)
    host: str = setting(REQUIRED, "Host name or IP address of the FreeSWITCH event socket.", token)
    port: int = setting(8021, "TCP port of the FreeSWITCH event socket.", port)
    password: str = setting("ClueCon", "Event socket password (or set password_file).",
                            password, secret=True)

    def __repr__(self) -> str:
        return (f"NodeSettings(name={self.name!r}, host={self.host!r}, port={self.port!r}, "
                f"password={MASK!r})")


NODE_PASSWORD_FILE_DOC = "File holding the event socket password, read at load and stripped."
DEFAULT_NODES = (NodeSettings(name="local", host="127.0.0.1"),)


@dataclass(frozen=True)
class EslSettings:
    connect_timeout: float = setting(
        5.0, "Seconds allowed to connect and authenticate to a node.", positive)
    command_timeout: float = setting(
        10.0, "Seconds to wait for the reply to one command before giving up.", positive)
    reconnect_initial_delay: float = setting(
        0.5, "Seconds before the first reconnect attempt; doubles on each failure.", positive)
    reconnect_max_delay: float = setting(
        30.0, "Upper bound of the reconnect delay, in seconds.", positive)


@dataclass(frozen=True)
class RecordingSettings:
    root: str = setting("/var/lib/esl_recorder/recordings",
                        "Directory for recording files; same path in FreeSWITCH and here.",
                        absolute_path)
    default_format: str = setting("wav", "File format when a request names none: wav or mp3.",
                                  one_of("wav", "mp3"))
    max_length: int = setting(14400, "Hard cap on any recording's length, in seconds.",
                              between(1, 86400))
    beep_tone: str = setting("tone_stream://%(250,0,1000)",
                             "What FreeSWITCH plays as the beep before a recording.", token)
    finalize_workers: int = setting(4, "Greenlets that finalize finished recording files.",
                                    between(1, 64))


@dataclass(frozen=True)
class IdentitySettings:
    account_variable: str = setting("esl_recorder_account_id",
                                    "Channel variable holding the call's account id.",
                                    variable_name)
    user_variable: str = setting("esl_recorder_user_id",
                                 "Channel variable holding the call's user id.", variable_name)
    device_variable: str = setting("esl_recorder_device_id",
                                   "Channel variable holding the call's device id.",
                                   variable_name)


@dataclass(frozen=True)
class StoreSettings:
    path: str = setting("/var/lib/esl_recorder/state.db",
                        "SQLite database file for recordings, calls and the outbox.",
                        absolute_path)


@dataclass(frozen=True)
class HttpSettings:
    host: str = setting("127.0.0.1", "Address the HTTP API and /metrics listen on.", token)
    port: int = setting(8080, "TCP port of the HTTP API (0 picks a free port).", listen_port)
    public_base_url: str = setting("", "URL clients reach this daemon at, for links "
                                   "(empty: derived from the request).", base_url)
    max_body_bytes: int = setting(65536, "Largest request body accepted (larger: 413).",
                                  between(1024, 16 * 1024 * 1024))
    request_timeout: float = setting(30.0, "Seconds a client may take to send a request.",
                                     positive)
    access_log: bool = setting(True, "Log one JSON line per API request.")


@dataclass(frozen=True)
class DeliverySettings:
    max_age: float = setting(86400.0, "Seconds a callback is retried before it is given up "
                             "(dead).", positive)
    initial_delay: float = setting(1.0, "Upper bound of the first retry's delay, in seconds; "
                                   "doubles each attempt (full jitter below it).", positive)
    max_delay: float = setting(300.0, "Upper bound of the retry delay, in seconds.", positive)
    timeout: float = setting(10.0, "Seconds allowed for one delivery attempt.", positive)
    concurrency: int = setting(64, "Deliveries in flight at once, all receivers together.",
                               between(1, 1024))
    per_host: int = setting(8, "Deliveries in flight to one receiver host (a slow receiver "
                            "cannot hold the others up).", between(1, 256))


@dataclass(frozen=True)
class BandwidthSettings:
    dial_string: str = setting("sofia/gateway/default/{to}", "Where Bandwidth POST /calls "
                               "dials: {to} and {from} are the validated numbers.",
                               dial_template)
    application: str = setting("&park()", "What the answered call runs (originate's "
                               "second argument), e.g. '&park()' or '1000 XML default'.",
                               password)
    call_timeout: int = setting(60, "Default seconds to wait for answer (callTimeout).",
                                between(1, 300))


@dataclass(frozen=True)
class LogSettings:
    level: str = setting("INFO", "Lowest level logged: DEBUG, INFO, WARNING, ERROR.", log_level)
    format: str = setting("text", "Log line format: text, or json (one object per line).",
                          one_of("text", "json"))


@dataclass(frozen=True, repr=False)
class AccountSettings:
    id: str = setting(REQUIRED, "Account id: the value of identity.account_variable on the "
                      "account's calls.", account_id)
    laml_project_id: str = setting("", "SignalWire LaML project id (the AccountSid and Basic "
                                   "user); empty: the account id.", optional_id)
    laml_token: str = setting("", "LaML API token (Basic password; also signs callbacks). "
                              "Empty: LaML off for this account.", optional_secret, secret=True)
    texml_account_sid: str = setting("", "Telnyx TeXML account_sid in paths; empty: the "
                                     "account id.", optional_id)
    texml_api_key: str = setting("", "TeXML API key (Authorization: Bearer). Empty: TeXML "
                                 "off for this account.", optional_secret, secret=True)
    bandwidth_user_id: str = setting("", "Bandwidth v1 userId in paths; empty: the account "
                                     "id.", optional_id)
    bandwidth_token: str = setting("", "Bandwidth API token (Basic user). Empty: Bandwidth "
                                   "off for this account.", optional_secret, secret=True)
    bandwidth_secret: str = setting("", "Bandwidth API secret (Basic password).",
                                    optional_secret, secret=True)

    def __repr__(self) -> str:
        return f"AccountSettings(id={self.id!r}, secrets={MASK!r})"


ACCOUNTS_DOC = ("API accounts (tenants), each with its credentials per dialect; none: "
                "every API route answers 401.")


@dataclass(frozen=True)
class Settings:
    esl: EslSettings = field(default_factory=EslSettings)
    nodes: tuple[NodeSettings, ...] = DEFAULT_NODES
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    bandwidth: BandwidthSettings = field(default_factory=BandwidthSettings)
    accounts: tuple[AccountSettings, ...] = ()
    log: LogSettings = field(default_factory=LogSettings)
    source: str = "<defaults>"


NODES_DOC = "FreeSWITCH nodes to attach to, each with a unique name."
SECTIONS: dict[str, type] = {
    "esl": EslSettings, "recording": RecordingSettings, "identity": IdentitySettings,
    "store": StoreSettings, "http": HttpSettings, "delivery": DeliverySettings,
    "bandwidth": BandwidthSettings, "log": LogSettings,
}
TOP_KEYS = ("esl", "nodes", "recording", "identity", "store", "http", "delivery", "bandwidth",
            "accounts", "log")


def env_name(key: str) -> str:
    """`esl.command_timeout` -> `ESL_RECORDER_ESL_COMMAND_TIMEOUT`."""
    return ENV_PREFIX + key.upper().replace(".", "_")


def node_env_name(node: str, suffix: str = "PASSWORD") -> str:
    return f"{ENV_PREFIX}NODE_{node.upper().replace('-', '_')}_{suffix}"


def declared(cls: type) -> list[tuple[dataclasses.Field[Any], type, Spec]]:
    """(field, python type, spec) for every setting of a section class."""
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name], f.metadata["spec"]) for f in dataclasses.fields(cls)]


def setting_keys() -> list[str]:
    """Every dotted YAML key a configuration may hold (`nodes[]` for each list entry)."""
    keys = [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f, _, _ in declared(cls)]
    nodes = [f"nodes[].{f.name}" for f, _, _ in declared(NodeSettings)]
    accounts = [f"accounts[].{f.name}" for f, _, _ in declared(AccountSettings)]
    return keys + nodes + ["nodes[].password_file"] + accounts


# --- loading ---------------------------------------------------------------------------------


def load_settings(path: str | os.PathLike[str] | None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the YAML file at `path` (None: none), then `ESL_RECORDER_*` from env."""
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


def settings_from_mapping(data: Mapping[str, Any], source: str = "<mapping>",
                          env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from already-parsed YAML data, then apply env overrides."""
    env = os.environ if env is None else env
    check_keys(data, TOP_KEYS, source, "")
    base = Path(source).parent if source and not source.startswith("<") else Path.cwd()
    sections = {name: load_section(cls, data.get(name), env, source, name)
                for name, cls in SECTIONS.items()}
    nodes = load_nodes(data.get("nodes"), source, base)
    nodes = apply_node_env(nodes, env)
    accounts = load_accounts(data.get("accounts"), source, env)
    check_esl(sections["esl"], source, env)
    return Settings(nodes=nodes, accounts=accounts, source=source, **sections)


def check_keys(data: Mapping[str, Any], allowed: tuple[str, ...] | list[str], source: str,
               prefix: str) -> None:
    for key in data:
        if key in allowed:
            continue
        hint = difflib.get_close_matches(str(key), allowed, n=1)
        tip = f" (did you mean {hint[0]!r}?)" if hint else ""
        where = f"{prefix}.{key}" if prefix else str(key)
        raise ConfigError(source, where, f"unknown setting{tip}; "
                          f"known: {', '.join(allowed)}")


def as_mapping(value: Any, source: str, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(source, key, f"expected a mapping, got {describe_type(value)}")
    return value


def load_section(cls: type, raw: Any, env: Mapping[str, str], source: str, name: str) -> Any:
    data = as_mapping(raw, source, name)
    check_keys(data, [f.name for f, _, _ in declared(cls)], source, name)
    values: dict[str, Any] = {}
    for f, typ, spec in declared(cls):
        key = f"{name}.{f.name}"
        var = env_name(key)
        if var in env:
            values[f.name] = validate(spec, from_env(env[var], typ, var, key), "env", key)
        elif f.name in data:
            values[f.name] = validate(spec, coerce(data[f.name], typ, source, key), source, key)
    return cls(**values)


def validate(spec: Spec, value: Any, source: str, key: str) -> Any:
    if spec.check is None:
        return value
    try:
        return spec.check(value)
    except ValueError as exc:
        raise ConfigError(source, key, str(exc)) from None


def describe_type(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if value is not None else "nothing (null)"


TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def coerce(value: Any, typ: type, source: str, key: str) -> Any:
    """Check a YAML value's type; ints are accepted where numbers are."""
    ok = isinstance(value, typ) and not (typ is not bool and isinstance(value, bool))
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        quote = " (quote it)" if typ is str and isinstance(value, (int, float)) else ""
        raise ConfigError(source, key, f"expected {TYPE_WORDS[typ]}, "
                          f"got {describe_type(value)}{quote}")
    return value


def from_env(text: str, typ: type, var: str, key: str) -> Any:
    try:
        if typ is bool:
            return {"true": True, "1": True, "yes": True,
                    "false": False, "0": False, "no": False}[text.strip().lower()]
        return typ(text.strip()) if typ is not str else text
    except (ValueError, KeyError):
        raise ConfigError("env", key, f"{var}={text!r}: expected {TYPE_WORDS[typ]}") from None


def check_esl(esl: EslSettings, source: str, env: Mapping[str, str]) -> None:
    if esl.reconnect_max_delay < esl.reconnect_initial_delay:
        key = "esl.reconnect_max_delay"
        src = "env" if env_name(key) in env or env_name("esl.reconnect_initial_delay") in env \
            else source
        raise ConfigError(src, key, f"must be >= esl.reconnect_initial_delay "
                          f"({esl.reconnect_initial_delay}), got {esl.reconnect_max_delay}")


# --- nodes -----------------------------------------------------------------------------------


NODE_KEYS = ["name", "host", "port", "password", "password_file"]


def load_nodes(raw: Any, source: str, base: Path) -> tuple[NodeSettings, ...]:
    if raw is None:
        return DEFAULT_NODES
    if not isinstance(raw, list):
        raise ConfigError(source, "nodes", f"expected a list of nodes, got {describe_type(raw)}")
    if not raw:
        raise ConfigError(source, "nodes", "at least one node is required")
    nodes = tuple(load_node(item, source, f"nodes[{i}]", base) for i, item in enumerate(raw))
    check_unique(nodes, source)
    return nodes


def load_node(raw: Any, source: str, key: str, base: Path) -> NodeSettings:
    data = dict(as_mapping(raw, source, key))
    check_keys(data, NODE_KEYS, source, key)
    for required in ("name", "host"):
        if required not in data:
            raise ConfigError(source, f"{key}.{required}", "is required")
    pw_file = data.pop("password_file", None)
    if pw_file is not None:
        if "password" in data:
            raise ConfigError(source, f"{key}.password_file", "set password or password_file, "
                              "not both")
        path = coerce(pw_file, str, source, f"{key}.password_file")
        data["password"] = read_password_file(path, base, source, f"{key}.password_file")
    values = {f.name: validate(spec, coerce(data[f.name], typ, source, f"{key}.{f.name}"),
                               source, f"{key}.{f.name}")
              for f, typ, spec in declared(NodeSettings) if f.name in data}
    return NodeSettings(**values)


def read_password_file(path: str, base: Path, source: str, key: str) -> str:
    """Relative paths are taken from the YAML file's directory (from the cwd for env)."""
    full = base / path
    try:
        text = full.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(source, key, f"cannot read {str(full)!r}: {reason}") from None
    if not text:
        raise ConfigError(source, key, f"{str(full)!r} is empty")
    return text


def check_unique(nodes: tuple[NodeSettings, ...], source: str) -> None:
    seen: dict[str, int] = {}
    for i, node in enumerate(nodes):
        norm = node_env_name(node.name)
        if norm in seen:
            raise ConfigError(source, f"nodes[{i}].name", f"duplicate node name {node.name!r} "
                              f"(same as nodes[{seen[norm]}].name)")
        seen[norm] = i


def parse_nodes_env(text: str) -> tuple[NodeSettings, ...]:
    """`fs1=10.0.0.5:8021,fs2=host` (port optional, IPv6 as `[::1]:8021`)."""
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise ConfigError("env", "nodes", f"{NODES_ENV} is set but names no node")
    nodes = tuple(parse_node_env(i, item) for i, item in enumerate(items))
    check_unique(nodes, "env")
    return nodes


def parse_node_env(i: int, item: str) -> NodeSettings:
    key = f"nodes[{i}]"
    name, sep, addr = item.partition("=")
    host, port_text = split_host_port(addr)
    if not sep or not host:
        raise ConfigError("env", key, f"{NODES_ENV}: {item!r} is not name=host[:port]")
    number = from_env(port_text, int, NODES_ENV, f"{key}.port") if port_text else 8021
    return NodeSettings(
        name=validate(node_spec("name"), name.strip(), "env", f"{key}.name"),
        host=validate(node_spec("host"), host, "env", f"{key}.host"),
        port=validate(node_spec("port"), number, "env", f"{key}.port"))


def split_host_port(addr: str) -> tuple[str, str]:
    addr = addr.strip()
    if addr.startswith("["):
        host, _, rest = addr[1:].partition("]")
        return host, rest.removeprefix(":")
    if addr.count(":") == 1:
        host, _, port_text = addr.partition(":")
        return host, port_text
    return addr, ""


def apply_node_env(nodes: tuple[NodeSettings, ...],
                   env: Mapping[str, str]) -> tuple[NodeSettings, ...]:
    if NODES_ENV in env:
        nodes = parse_nodes_env(env[NODES_ENV])
    known = {node_env_name(n.name, s) for n in nodes for s in ("PASSWORD", "PASSWORD_FILE")}
    for var in sorted(env):
        if (var.startswith(f"{ENV_PREFIX}NODE_") and var.endswith(("_PASSWORD", "_PASSWORD_FILE"))
                and var not in known):
            raise ConfigError("env", "nodes", f"{var} names no configured node "
                              f"(nodes: {', '.join(n.name for n in nodes)})")
    return tuple(node_password_from_env(i, n, env) for i, n in enumerate(nodes))


def node_spec(name: str) -> Spec:
    return next(spec for f, _, spec in declared(NodeSettings) if f.name == name)


def node_password_from_env(i: int, node: NodeSettings, env: Mapping[str, str]) -> NodeSettings:
    var, file_var = node_env_name(node.name), node_env_name(node.name, "PASSWORD_FILE")
    key = f"nodes[{i}].password"
    if var in env and file_var in env:
        raise ConfigError("env", key, f"set {var} or {file_var}, not both")
    if file_var in env:
        value = read_password_file(env[file_var], Path.cwd(), "env", key + "_file")
    elif var in env:
        value = env[var]
    else:
        return node
    return dataclasses.replace(node, password=validate(node_spec("password"), value, "env", key))


# --- accounts --------------------------------------------------------------------------------


def account_env_name(account: str, field_name: str) -> str:
    norm = account if account == "<ID>" else re.sub(r"[^A-Z0-9]", "_", account.upper())
    return f"{ENV_PREFIX}ACCOUNT_{norm}_{field_name.upper()}"


def load_accounts(raw: Any, source: str, env: Mapping[str, str]) -> tuple[AccountSettings, ...]:
    """The account list; `ESL_RECORDER_ACCOUNT_<ID>_<FIELD>` overrides a field (secrets)."""
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ConfigError(source, "accounts", f"expected a list, got {describe_type(raw)}")
    accounts = tuple(load_account(item, source, f"accounts[{i}]", env)
                     for i, item in enumerate(raw))
    check_unique_accounts(accounts, source)
    return accounts


def load_account(raw: Any, source: str, key: str, env: Mapping[str, str]) -> AccountSettings:
    data = dict(as_mapping(raw, source, key))
    check_keys(data, [f.name for f, _, _ in declared(AccountSettings)], source, key)
    if "id" not in data:
        raise ConfigError(source, f"{key}.id", "is required")
    values: dict[str, Any] = {}
    for f, typ, spec in declared(AccountSettings):
        var = account_env_name(str(data["id"]), f.name)
        if f.name != "id" and var in env:
            values[f.name] = validate(spec, from_env(env[var], typ, var, key), "env",
                                      f"{key}.{f.name}")
        elif f.name in data:
            values[f.name] = validate(spec, coerce(data[f.name], typ, source, f"{key}.{f.name}"),
                                      source, f"{key}.{f.name}")
    acct = AccountSettings(**values)
    if bool(acct.bandwidth_token) != bool(acct.bandwidth_secret):
        raise ConfigError(source, f"{key}.bandwidth_secret",
                          "set both bandwidth_token and bandwidth_secret, or neither")
    return acct


def check_unique_accounts(accounts: tuple[AccountSettings, ...], source: str) -> None:
    for attr in ("id", "laml_project_id", "texml_account_sid", "bandwidth_user_id"):
        seen: dict[str, int] = {}
        for i, acct in enumerate(accounts):
            value = getattr(acct, attr) or acct.id
            if value in seen:
                raise ConfigError(source, f"accounts[{i}].{attr}", f"{value!r} is already "
                                  f"used by accounts[{seen[value]}]")
            seen[value] = i


# --- describing ------------------------------------------------------------------------------


def show(value: Any) -> str:
    return '""' if value == "" else str(value)


def describe_settings(settings: Settings) -> list[tuple[str, str, str, str]]:
    """(key, value with secrets masked, env var, doc) for every effective setting."""
    rows: list[tuple[str, str, str, str]] = []
    for name in TOP_KEYS:
        if name == "nodes":
            rows.extend(describe_nodes(settings.nodes))
            continue
        if name == "accounts":
            rows.extend(describe_accounts(settings.accounts))
            continue
        section = getattr(settings, name)
        for f, _, spec in declared(SECTIONS[name]):
            key = f"{name}.{f.name}"
            value = MASK if spec.secret else show(getattr(section, f.name))
            rows.append((key, value, env_name(key), spec.doc))
    return rows


def describe_nodes(nodes: tuple[NodeSettings, ...]) -> list[tuple[str, str, str, str]]:
    rows = []
    for i, node in enumerate(nodes):
        for f, _, spec in declared(NodeSettings):
            var = node_env_name(node.name) if f.name == "password" else NODES_ENV
            value = MASK if spec.secret else show(getattr(node, f.name))
            rows.append((f"nodes[{i}].{f.name}", value, var, spec.doc))
    return rows


def describe_accounts(accounts: tuple[AccountSettings, ...]) -> list[tuple[str, str, str, str]]:
    rows = []
    for i, acct in enumerate(accounts):
        for f, _, spec in declared(AccountSettings):
            value = MASK if spec.secret and getattr(acct, f.name) else show(getattr(acct, f.name))
            rows.append((f"accounts[{i}].{f.name}", value, account_env_name(acct.id, f.name),
                         spec.doc))
    return rows


def reference_rows() -> list[tuple[str, str, str, str, str]]:
    """(key, type, default as markdown, env var, doc) for every declared setting."""
    rows = []
    for name in TOP_KEYS:
        if name == "nodes":
            rows.extend(node_reference_rows())
            continue
        if name == "accounts":
            rows.extend(account_reference_rows())
            continue
        for f, typ, spec in declared(SECTIONS[name]):
            key = f"{name}.{f.name}"
            rows.append((key, typ.__name__, f"`{show(f.default)}`", env_name(key), spec.doc))
    return rows


def node_reference_rows() -> list[tuple[str, str, str, str, str]]:
    rows = [("nodes", "list", "one node `local` at `127.0.0.1:8021`", NODES_ENV,
             NODES_DOC + " Env form: `name=host[:port],...`, replaces the list.")]
    for f, typ, spec in declared(NodeSettings):
        default = "(required)" if f.default is REQUIRED else f"`{show(f.default)}`"
        var = node_env_name("<NAME>") if f.name == "password" else NODES_ENV
        rows.append((f"nodes[].{f.name}", typ.__name__, default, var, spec.doc))
    rows.append(("nodes[].password_file", "str", "(none)", node_env_name("<NAME>", "PASSWORD_FILE"),
                 NODE_PASSWORD_FILE_DOC))
    return rows


def account_reference_rows() -> list[tuple[str, str, str, str, str]]:
    rows = [("accounts", "list", "none", "", ACCOUNTS_DOC)]
    for f, typ, spec in declared(AccountSettings):
        default = "(required)" if f.default is REQUIRED else f"`{show(f.default)}`"
        var = "" if f.name == "id" else account_env_name("<ID>", f.name)
        rows.append((f"accounts[].{f.name}", typ.__name__, default, var, spec.doc))
    return rows


def settings_reference_markdown() -> str:
    """The README's configuration table (between the settings markers)."""
    lines = ["| key | type | default | environment | description |",
             "|---|---|---|---|---|"]
    for key, typ, default, var, doc in reference_rows():
        env = f"`{var}`" if var else ""
        lines.append(f"| `{key}` | {typ} | {default} | {env} | {doc} |")
    return "\n".join(lines) + "\n"


def yaml_value(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def default_config_yaml() -> str:
    """conf/esl_recorder.yaml: every setting with its default and its doc as a comment."""
    out = ["# esl_recorder configuration: every setting, with its default.",
           "# Precedence: defaults < this file < ESL_RECORDER_* environment variables.",
           "# Generated by `python -m esl_recorder.settings yaml`; tests check it stays in sync."]
    for name in TOP_KEYS:
        out.append("")
        special = {"nodes": yaml_nodes, "accounts": yaml_accounts}
        out.extend(special[name]() if name in special else yaml_section(name))
    return "\n".join(out) + "\n"


def yaml_section(name: str) -> list[str]:
    out = [f"{name}:"]
    for f, _, spec in declared(SECTIONS[name]):
        out.append(f"  # {spec.doc}")
        out.append(f"  #   env: {env_name(f'{name}.{f.name}')}")
        out.append(f"  {f.name}: {yaml_value(f.default)}")
    return out


def yaml_nodes() -> list[str]:
    out = [f"# {NODES_DOC}",
           f"#   env: {NODES_ENV}=name=host[:port],... replaces the list;",
           f"#   env: {node_env_name('<NAME>')} or {node_env_name('<NAME>', 'PASSWORD_FILE')}"
           " sets a node's password.", "nodes:"]
    node = DEFAULT_NODES[0]
    for i, (f, _, spec) in enumerate(declared(NodeSettings)):
        out.append(f"  {'' if i == 0 else '  '}# {spec.doc}")
        out.append(f"  {'- ' if i == 0 else '  '}{f.name}: {yaml_value(getattr(node, f.name))}")
    out.append(f"    # {NODE_PASSWORD_FILE_DOC} Relative to this file.")
    out.append("    # password_file: /run/secrets/esl_password")
    return out


def yaml_accounts() -> list[str]:
    out = [f"# {ACCOUNTS_DOC}",
           f"#   env: {ENV_PREFIX}ACCOUNT_<ID>_<FIELD> sets a field of account <ID>",
           "#   (e.g. ESL_RECORDER_ACCOUNT_ACME_LAML_TOKEN). An example account:",
           "accounts: []"]
    for i, (f, _, spec) in enumerate(declared(AccountSettings)):
        example = "acme" if f.name == "id" else ""
        out.append(f"#   {'' if i == 0 else '  '}# {spec.doc}")
        out.append(f"#   {'- ' if i == 0 else '  '}{f.name}: {yaml_value(example)}")
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m esl_recorder.settings yaml|markdown` prints the generated docs."""
    what = (argv if argv is not None else sys.argv[1:]) or ["yaml"]
    makers = {"yaml": default_config_yaml, "markdown": settings_reference_markdown}
    if what[0] not in makers:
        print(f"usage: python -m esl_recorder.settings {'|'.join(makers)}", file=sys.stderr)
        return 2
    sys.stdout.write(makers[what[0]]())
    return 0


if __name__ == "__main__":
    sys.exit(main())
