"""Everything written from the declarations: `check-config`'s listing, the README table and
conf/esl_recorder.yaml. Secret values are shown as MASK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args, get_origin

from pydantic.fields import FieldInfo

from .accounts import AccountSettings
from .fields import MASK, is_secret
from .freeswitch import DEFAULT_NODES, NodeSettings, node_env_name
from .model import SECTIONS, SETTING_NAMES, Settings
from .section import ENV_PREFIX, fields_of
from .sources import NODES_ENV, account_env_name, env_name

Row = tuple[str, str, str, str]  # key, value, environment variable, doc
RefRow = tuple[str, str, str, str, str]  # key, type, default, environment variable, doc
NODE_FIELDS = fields_of(NodeSettings)
ACCOUNT_FIELDS = fields_of(AccountSettings)


def declared(cls: Any) -> Iterator[tuple[str, FieldInfo]]:
    yield from fields_of(cls).items()


def show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    return '""' if value == "" else "(none)" if value is None else str(value)


def shown(field: FieldInfo, value: Any) -> str:
    return MASK if is_secret(field) and value else show(value)


def node_var(node: str, field: str) -> str:
    return {"password": node_env_name(node),
            "password_file": node_env_name(node, "PASSWORD_FILE")}.get(field, NODES_ENV)


def describe_settings(settings: Settings) -> list[Row]:
    """(key, value with secrets masked, env var, doc) for every effective setting."""
    rows: list[Row] = []
    for name in SETTING_NAMES:
        if name == "nodes":
            rows += [(f"nodes[{i}].{f}", shown(info, getattr(node, f)), node_var(node.name, f),
                      info.description or "")
                     for i, node in enumerate(settings.nodes) for f, info in NODE_FIELDS.items()]
        elif name == "accounts":
            rows += [(f"accounts[{i}].{f}", shown(info, getattr(acct, f)),
                      account_env_name(acct.id, f), info.description or "")
                     for i, acct in enumerate(settings.accounts)
                     for f, info in ACCOUNT_FIELDS.items()]
        else:
            section = getattr(settings, name)
            rows += [(f"{name}.{f}", shown(info, getattr(section, f)), env_name(f"{name}.{f}"),
                      info.description or "") for f, info in declared(SECTIONS[name])]
    return rows


def known_env_vars(settings: Settings) -> set[str]:
    """Every variable that sets something in `settings` (check-config warns about others)."""
    return {var for _, _, var, _ in describe_settings(settings)}


def secret_values(settings: Settings) -> list[str]:
    """Every secret's value, for the log filter that masks them."""
    items = [*((NODE_FIELDS, n) for n in settings.nodes),
             *((ACCOUNT_FIELDS, a) for a in settings.accounts)]
    return [getattr(obj, f) for fields, obj in items for f, info in fields.items()
            if is_secret(info) and getattr(obj, f)]


def setting_keys() -> list[str]:
    """Every dotted YAML key a configuration may hold (`nodes[]` for each list entry)."""
    return [row[0] for row in reference_rows() if row[0] not in ("nodes", "accounts")]


# --- the generated reference -----------------------------------------------------------------


def type_name(field: FieldInfo) -> str:
    if get_origin(field.annotation) is tuple:
        return "list"
    args = [a for a in get_args(field.annotation) if a is not type(None)]
    return (args[0] if args else field.annotation).__name__  # type: ignore[union-attr]


def default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "(required)"
    return "(none)" if field.default is None else f"`{show(field.default)}`"


def reference_rows() -> list[RefRow]:
    """(key, type, default as markdown, env var, doc) for every declared setting."""
    rows: list[RefRow] = []
    for name in SETTING_NAMES:
        doc = Settings.model_fields[name].description or ""
        if name == "nodes":
            rows.append(("nodes", "list", "one node `local` at `127.0.0.1:8021`", NODES_ENV,
                         f"{doc} Env form: `name=host[:port],...`, replaces the list."))
            rows += [(f"nodes[].{f}", type_name(info), default_text(info),
                      node_var("<NAME>", f), info.description or "")
                     for f, info in NODE_FIELDS.items()]
        elif name == "accounts":
            rows.append(("accounts", "list", "none", "", doc))
            rows += [(f"accounts[].{f}", type_name(info), default_text(info),
                      "" if f == "id" else account_env_name("<ID>", f), info.description or "")
                     for f, info in ACCOUNT_FIELDS.items()]
        else:
            rows += [(f"{name}.{f}", type_name(info), default_text(info),
                      env_name(f"{name}.{f}"), info.description or "")
                     for f, info in declared(SECTIONS[name])]
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
    if isinstance(value, tuple):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def default_config_yaml() -> str:
    """conf/esl_recorder.yaml: every setting with its default and its doc as a comment."""
    out = ["# esl_recorder configuration: every setting, with its default.",
           "# Precedence: defaults < this file < ESL_RECORDER_* environment variables.",
           "# Generated by `python -m esl_recorder.settings yaml`; tests check it stays in sync."]
    for name in SETTING_NAMES:
        out.append("")
        special = {"nodes": yaml_nodes, "accounts": yaml_accounts}
        out.extend(special[name]() if name in special else yaml_section(name))
    return "\n".join(out) + "\n"


def yaml_section(name: str) -> list[str]:
    out = [f"{name}:"]
    for f, info in declared(SECTIONS[name]):
        out += [f"  # {info.description}", f"  #   env: {env_name(f'{name}.{f}')}",
                f"  {f}: {yaml_value(info.default)}"]
    return out


def yaml_nodes() -> list[str]:
    out = [f"# {Settings.model_fields['nodes'].description}",
           f"#   env: {NODES_ENV}=name=host[:port],... replaces the list;",
           f"#   env: {node_env_name('<NAME>')} or {node_env_name('<NAME>', 'PASSWORD_FILE')}"
           " sets a node's password.", "nodes:"]
    node = DEFAULT_NODES[0]
    for i, (f, info) in enumerate(NODE_FIELDS.items()):
        if f == "password_file":
            out += [f"    # {info.description} Relative to this file.",
                    "    # password_file: /run/secrets/esl_password"]
            continue
        out.append(f"  {'' if i == 0 else '  '}# {info.description}")
        out.append(f"  {'- ' if i == 0 else '  '}{f}: {yaml_value(getattr(node, f))}")
    return out


def yaml_accounts() -> list[str]:
    out = [f"# {Settings.model_fields['accounts'].description}",
           f"#   env: {ENV_PREFIX}ACCOUNT_<ID>_<FIELD> sets a field of account <ID>",
           "#   (e.g. ESL_RECORDER_ACCOUNT_ACME_LAML_TOKEN). An example account:",
           "accounts: []"]
    for i, (f, info) in enumerate(ACCOUNT_FIELDS.items()):
        example = "acme" if f == "id" else ""
        out.append(f"#   {'' if i == 0 else '  '}# {info.description}")
        out.append(f"#   {'- ' if i == 0 else '  '}{f}: {yaml_value(example)}")
    return out
