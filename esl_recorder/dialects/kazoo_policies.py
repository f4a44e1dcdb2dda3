"""The Kazoo policy file: account, user and device documents in YAML.

    accounts:
      acme:                       # the account id (identity.account_variable's value)
        call_recording:           # the account document
          account: {inbound: {offnet: {enabled: true, format: wav}}}
        users:
          alice: {record_call: true}
        devices:
          desk-7:
            call_recording: {outbound: {any: {enabled: true, url: "https://x/rec/"}}}

Read at start (a bad file stops the daemon with its problem) and on SIGHUP (a bad file is
logged and the policies in force stay).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..domain.policies import Key, PolicyBook
from ..domain.record_params import Level
from ..errors import ConfigError, InvalidArgument
from ..settings import ACCOUNT_ID, parse_yaml

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 16 << 20
_SECTIONS = {"users": Level.USER, "devices": Level.DEVICE}


def read_policy_file(path: str) -> dict[Key, Mapping[str, Any]]:
    """The file's documents; ConfigError naming the file and the place of the problem."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(path, "file", f"cannot be read: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(path, "file", f"larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise ConfigError(path, "file", "not UTF-8 text") from None
    data = parse_yaml(text, path)
    try:
        return policy_documents(data)
    except InvalidArgument as exc:
        raise ConfigError(path, "accounts", str(exc)) from None


def policy_documents(data: Mapping[str, Any]) -> dict[Key, Mapping[str, Any]]:
    unknown = set(data) - {"accounts"}
    if unknown:
        raise InvalidArgument(f"unknown top-level key {sorted(unknown)[0]!r} (only accounts)")
    accounts = data.get("accounts") or {}
    _mapping(accounts, "accounts")
    out: dict[Key, Mapping[str, Any]] = {}
    for account, doc in accounts.items():
        _id(account, "account")
        doc = dict(doc or {})
        _mapping(doc, f"accounts.{account}")
        for section, level in _SECTIONS.items():
            owners = doc.pop(section, None) or {}
            _mapping(owners, f"accounts.{account}.{section}")
            for owner, owner_doc in owners.items():
                _id(owner, level.value)
                _mapping(owner_doc or {}, f"accounts.{account}.{section}.{owner}")
                out[(account, level, owner)] = dict(owner_doc or {})
        out[(account, Level.ACCOUNT, account)] = doc
    return out


def load_policies(book: PolicyBook, path: str) -> None:
    """Read the file (none: "") into `book` with the store's API changes (ConfigError,
    with the book unchanged, when it is bad)."""
    documents = read_policy_file(path) if path else {}
    try:
        book.load(documents)
    except InvalidArgument as exc:
        raise ConfigError(path, "accounts", str(exc)) from None
    log.info("recording policies read from %s: %d documents", path or "the store",
             len(documents))


def reload_policies(book: PolicyBook, path: str) -> bool:
    """SIGHUP: read the file and the store's API changes again; a bad file is logged and
    changes nothing."""
    try:
        load_policies(book, path)
    except ConfigError as exc:
        log.error("recording policies not reloaded, those in force stay: %s", exc)
        return False
    return True


def _mapping(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise InvalidArgument(f"{where}: must be a mapping")


def _id(value: Any, what: str) -> None:
    if not isinstance(value, str) or not ACCOUNT_ID.fullmatch(value):
        raise InvalidArgument(f"{what} id {value!r}: must be 1-64 of A-Z a-z 0-9 _ . -")
