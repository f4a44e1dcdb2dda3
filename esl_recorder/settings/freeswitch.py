"""The FreeSWITCH side: the nodes to attach to (`nodes`) and the event socket client (`esl`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import ArgsKwargs

from .fields import Host, NodeName, Password, Port, Seconds
from .section import ENV_PREFIX, SECTION, masked_repr, read_secret_file, rule_error


@dataclass(frozen=True, config=SECTION, repr=False)
class NodeSettings:
    name: NodeName = Field(
        description="Unique node name, used in logs, metrics and env var names.")
    host: Host = Field(
        description="Host name or IP address of the FreeSWITCH event socket.")
    port: Port = Field(
        default=8021, description="TCP port of the FreeSWITCH event socket.")
    password: Password = Field(
        default="ClueCon", description="Event socket password (or set password_file).")
    password_file: str | None = Field(
        default=None, strict=True,
        description="File holding the event socket password, read at load and stripped.")

    @model_validator(mode="before")
    @classmethod
    def read_password_file(cls, data: Any) -> Any:
        """`password_file` (already made absolute by the YAML source) fills in `password`."""
        values = data.kwargs or {} if isinstance(data, ArgsKwargs) else data
        if not isinstance(values, dict) or not isinstance(values.get("password_file"), str):
            return data
        if "password" in values:
            raise rule_error("set password or password_file, not both", ".password_file")
        values = {**values, "password": read_secret_file(Path(values["password_file"]))}
        return ArgsKwargs(data.args, values) if isinstance(data, ArgsKwargs) else values

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True, config=SECTION)
class EslSettings:
    connect_timeout: Seconds = Field(
        default=5.0, description="Seconds allowed to connect and authenticate to a node.")
    command_timeout: Seconds = Field(
        default=10.0, description="Seconds to wait for the reply to one command before giving up.")
    reconnect_initial_delay: Seconds = Field(
        default=0.5,
        description="Seconds before the first reconnect attempt; doubles on each failure.")
    reconnect_max_delay: Seconds = Field(
        default=30.0, description="Upper bound of the reconnect delay, in seconds.")
    liveness_timeout: Seconds = Field(
        default=30.0,
        description="Seconds a node may say nothing (no event, no reply; HEARTBEAT comes every "
                    "20 s and an idle node is probed with `api status`) before it is declared "
                    "dead, unready and reconnected.")

    @model_validator(mode="after")
    def delays_in_order(self) -> EslSettings:
        if self.reconnect_max_delay < self.reconnect_initial_delay:
            raise rule_error(f"must be >= esl.reconnect_initial_delay "
                             f"({self.reconnect_initial_delay}), got {self.reconnect_max_delay}",
                             ".reconnect_max_delay", ".reconnect_initial_delay")
        return self


def node_env_name(node: str, suffix: str = "PASSWORD") -> str:
    """The variable that sets node `node`'s password (`fs-1` -> `..._NODE_FS_1_PASSWORD`)."""
    return f"{ENV_PREFIX}NODE_{node.upper().replace('-', '_')}_{suffix}"


def distinct_nodes(nodes: tuple[NodeSettings, ...]) -> tuple[NodeSettings, ...]:
    """At least one, and no two whose names give the same environment variable."""
    if not nodes:
        raise rule_error("at least one node is required", "")
    seen: dict[str, int] = {}
    for i, node in enumerate(nodes):
        norm = node_env_name(node.name)
        if norm in seen:
            raise rule_error(f"duplicate node name {node.name!r} (same as "
                             f"nodes[{seen[norm]}].name)", f"[{i}].name")
        seen[norm] = i
    return nodes


DEFAULT_NODES = (NodeSettings(name="local", host="127.0.0.1"),)
