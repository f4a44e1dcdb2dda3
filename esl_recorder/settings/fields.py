"""The value types settings are declared with: a strict pydantic type plus the rule it must meet.

Each rule returns the (possibly normalized) value or raises ValueError with a message that
finishes the sentence "<key>: ...". Values from YAML must already have the declared type (no
`"8021"` for a port); environment text is converted first (see sources.py). A type carrying
`SECRET` is never shown: not in errors, not by `check-config`, not in a repr.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Strict
from pydantic.fields import FieldInfo
from pydantic_settings import NoDecode

MASK = "********"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Secret:
    """Marks a setting whose value is never shown (passwords, tokens, API keys)."""

    def __repr__(self) -> str:
        return "SECRET"


SECRET = Secret()


def is_secret(field: FieldInfo | None) -> bool:
    return field is not None and any(isinstance(m, Secret) for m in field.metadata)


# --- rules -----------------------------------------------------------------------------------


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


def between(lo: int, hi: int) -> Callable[[int], int]:
    def check(v: int) -> int:
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {v}")
        return v
    return check


def one_of(*choices: str) -> Callable[[str], str]:
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


def host(v: str) -> str:
    """A DNS name or an IP address; never echoed, as a mistaken value may hold user:password@."""
    if not re.fullmatch(r"[A-Za-z0-9_.:%-]+", v) or v.startswith(("-", ".")):
        raise ValueError("must be a host name or an IP address (no scheme, user, password "
                         "or path)")
    return v


def variable_name(v: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
        raise ValueError(f"must be a channel variable name (letters, digits, _), got {v!r}")
    return v


def node_name(v: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", v):
        raise ValueError(f"must be letters, digits, '_' or '-', got {v!r}")
    return v


def one_line(v: str) -> str:
    """Non-empty and on one line; the message never repeats the value (it may be a secret)."""
    if not v or any(c in v for c in "\r\n\0"):
        raise ValueError("must be non-empty and on one line")
    return v


# An account id is also a directory name under recording.root and part of URLs.
ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def account_id(v: str) -> str:
    if not ACCOUNT_ID.fullmatch(v):
        raise ValueError(f"must be 1-64 letters, digits, '_', '.', '@' or '-', got {v!r}")
    return v


def ed25519_seed(v: str) -> str:
    """Base64 of a 32-byte Ed25519 private key (`esl-recorder keygen` makes one); the
    message never repeats the value."""
    try:
        raw = base64.b64decode(v, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError("must be the base64 of a 32-byte Ed25519 private key "
                         "(esl-recorder keygen prints one)")
    return v


def optional(check: Callable[[str], str]) -> Callable[[str], str]:
    """`check`, except that the empty string (the feature is off) passes."""
    return lambda v: check(v) if v else v


def dial_template(v: str) -> str:
    token(v)
    if "{to}" not in v:
        raise ValueError(f"must contain {{to}} (the called number), got {v!r}")
    return v


def base_url(v: str) -> str:
    if v and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", v):
        raise ValueError(f"must be empty or an http:// or https:// URL, got {v!r}")
    return v.rstrip("/")


def endpoint_url(v: str) -> str:
    """An http:// or https:// origin (host and optional port): no user, password, path or
    query. The value is never echoed (a mistaken one may hold credentials)."""
    if not re.fullmatch(r"https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
                        r"(?::[0-9]{1,5})?/?", v):
        raise ValueError("must be an http:// or https:// URL of a host and optional port "
                         "(no user, password, path or query)")
    return v.rstrip("/")


def bucket_name(v: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", v):
        raise ValueError(f"must be an S3 bucket name (3-63 lowercase letters, digits, '.', "
                         f"'-'), got {v!r}")
    return v


def key_prefix(v: str) -> str:
    """An object key prefix; `{account}` is the only placeholder."""
    if not re.fullmatch(r"[A-Za-z0-9/._{}-]*", v) or v.startswith("/") or ".." in v or \
            re.sub(r"\{account\}", "", v).count("{") or re.sub(r"\{account\}", "", v).count("}"):
        raise ValueError(f"must be letters, digits, '/', '.', '_', '-' and the placeholder "
                         f"{{account}}, not starting with '/', got {v!r}")
    return v


def store_url(v: str) -> str:
    """Empty (SQLite) or a PostgreSQL URL; the value is not repeated (it may hold a password)."""
    if v and not re.fullmatch(r"postgres(?:ql)?://\S*", v):
        raise ValueError("must be empty (SQLite at store.path) or a postgresql:// URL")
    return v


def comma_list(v: object) -> object:
    """A list from YAML as a tuple; text from the environment split on commas."""
    if isinstance(v, str):
        return tuple(part.strip() for part in v.split(",") if part.strip())
    return tuple(v) if isinstance(v, list) else v


def networks(v: tuple[str, ...]) -> tuple[str, ...]:
    """Each entry a network (`10.0.0.0/8`, `fd00::/8`) or one address (`127.0.0.1`)."""
    for entry in v:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not a network (e.g. 10.0.0.0/8) or an IP "
                             "address") from None
    return v


HOST_PORT = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])"
                       r"(?::[0-9]{1,5})?")


def host_names(v: tuple[str, ...]) -> tuple[str, ...]:
    """Each entry a host name or bracketed IPv6 address, with an optional `:port`."""
    for entry in v:
        if not HOST_PORT.fullmatch(entry):
            raise ValueError(f"{entry!r} is not a host name (e.g. rec.example.com or "
                             "rec.example.com:8443)")
    return tuple(entry.lower() for entry in v)


# --- types -----------------------------------------------------------------------------------


Bool = Annotated[bool, Strict()]
Seconds = Annotated[float, Strict(), AfterValidator(positive)]
Port = Annotated[int, Strict(), AfterValidator(port)]
ListenPort = Annotated[int, Strict(), AfterValidator(listen_port)]
Token = Annotated[str, Strict(), AfterValidator(token)]
Host = Annotated[str, Strict(), AfterValidator(host)]
AbsolutePath = Annotated[str, Strict(), AfterValidator(absolute_path)]
VariableName = Annotated[str, Strict(), AfterValidator(variable_name)]
NodeName = Annotated[str, Strict(), AfterValidator(node_name)]
OneLine = Annotated[str, Strict(), AfterValidator(one_line)]
Password = Annotated[str, Strict(), AfterValidator(one_line), SECRET]
AccountId = Annotated[str, Strict(), AfterValidator(account_id)]
OptionalId = Annotated[str, Strict(), AfterValidator(optional(account_id))]
OptionalSecret = Annotated[str, Strict(), AfterValidator(optional(one_line)), SECRET]
SigningKey = Annotated[str, Strict(), AfterValidator(optional(ed25519_seed)), SECRET]
DialTemplate = Annotated[str, Strict(), AfterValidator(dial_template)]
BaseUrl = Annotated[str, Strict(), AfterValidator(base_url)]
StoreUrl = Annotated[str, Strict(), AfterValidator(store_url), SECRET]
LogLevel = Annotated[str, Strict(), AfterValidator(log_level)]
Networks = Annotated[tuple[str, ...], NoDecode, BeforeValidator(comma_list),
                     AfterValidator(networks)]
HostNames = Annotated[tuple[str, ...], NoDecode, BeforeValidator(comma_list),
                      AfterValidator(host_names)]
OptionalPath = Annotated[str, Strict(), AfterValidator(optional(absolute_path))]
EndpointUrl = Annotated[str, Strict(), AfterValidator(optional(endpoint_url))]
BucketName = Annotated[str, Strict(), AfterValidator(optional(bucket_name))]
KeyPrefix = Annotated[str, Strict(), AfterValidator(key_prefix)]
