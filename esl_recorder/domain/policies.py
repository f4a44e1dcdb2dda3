"""Recording policies (Kazoo's): record the calls of an account, a user or a device with no
request at all.

A policy document is an account's, a user's or a device's: its `record_call` (true, or an
object of recording parameters) and its `call_recording` object (`inbound` / `outbound` /
`any`, each with `onnet` / `offnet` / `any`, each the parameters with `enabled`). An account
document's `call_recording` holds `account` (the account's own calls) and `endpoint` (the
default of its users and devices).

Which levels record a call, as Kazoo decides it (kz_account_recording, kz_endpoint_recording
and its call_recording guide): the account's setting is considered on its own; for the
endpoint the device's document decides when it says anything about recording (even
"disabled"), else the user's, else the account's `endpoint` default. So a call may be
recorded twice, once for the account and once for its endpoint, as Kazoo does; here only when
the two ask for different parameters (the same parameters twice would be the same file twice,
so one recording serves both).

Each document is what the policy file declares with the changes made over the API laid over
it (a JSON merge patch: `null` removes a key); those changes are kept in the store so they
outlive restarts and reloads of the file. The parameters themselves (names, defaults,
clamps) are domain.record_params'.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import InvalidArgument
from .options import AudioFormat
from .record_params import Level, RecordParams, parse_params

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """A call a level records: with what, and the origin Kazoo would write on it."""

    level: Level
    owner: str  # the id of the account, user or device whose policy it is
    params: RecordParams
    origin: str


class PolicyRepository(Protocol):
    """Where the API's changes to policy documents are kept (the store)."""

    def policy_patches(self) -> list[tuple[str, str, str, str, int]]:
        """Every (account, level, id, patch JSON, revision)."""

    def save_policy_patch(self, account: str, level: str, owner: str, patch: str,
                          revision: int) -> None: ...


@dataclass(frozen=True)
class _Entry:
    """One level's answer for a (direction, network): None when the level says nothing."""

    enabled: bool
    params: RecordParams | None
    label: str


class PolicyDocument:
    """One account's, user's or device's document, validated."""

    def __init__(self, level: Level, owner: str, doc: Mapping[str, Any],
                 default_format: AudioFormat,
                 check_url: Callable[[str], None] | None = None) -> None:
        self.level = level
        self.owner = owner
        self.doc = dict(doc)
        self._default = default_format
        self._legacy = self._parse_record_call(doc.get("record_call"), check_url)
        recording = doc.get("call_recording")
        if recording is not None and not isinstance(recording, dict):
            raise InvalidArgument("call_recording: must be an object")
        recording = recording or {}
        if level is Level.ACCOUNT:
            _only(recording, ("account", "endpoint"), "call_recording")
            self._own = self._matrix(recording.get("account"), "call_recording.account",
                                     check_url)
            self.endpoint_default = self._matrix(recording.get("endpoint"),
                                                 "call_recording.endpoint", check_url)
        else:
            self._own = self._matrix(recording or None, "call_recording", check_url)
            self.endpoint_default = {}

    def _parse_record_call(self, value: Any,
                           check_url: Callable[[str], None] | None) -> _Entry | None:
        if value is None:
            return None
        if isinstance(value, bool):
            return _Entry(value, RecordParams(format=self._default) if value else None,
                          "record_call")
        params = parse_params(value, "record_call", self._default, check_url)
        enabled = value.get("enabled", True) is not False and value.get("action") != "stop"
        return _Entry(enabled, params, "record_call")

    def _matrix(self, value: Any, where: str,
                check_url: Callable[[str], None] | None) -> dict[tuple[str, str], _Entry]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise InvalidArgument(f"{where}: must be an object")
        _only(value, ("inbound", "outbound", "any"), where)
        out: dict[tuple[str, str], _Entry] = {}
        for direction, networks in value.items():
            if not isinstance(networks, dict):
                raise InvalidArgument(f"{where}.{direction}: must be an object")
            _only(networks, ("onnet", "offnet", "any"), f"{where}.{direction}")
            for network, data in networks.items():
                here = f"{where}.{direction}.{network}"
                params = parse_params(data, here, self._default, check_url)
                # Kazoo records only when `enabled` is true (kz_json:is_true)
                out[(direction, network)] = _Entry(data.get("enabled") is True, params,
                                                   f"{direction} {network}")
        return out

    @property
    def speaks(self) -> bool:
        """Whether it says anything about recording (a device that does decides)."""
        return self._legacy is not None or bool(self._own)

    def entry(self, direction: str, network: str) -> _Entry | None:
        return lookup(self._own, direction, network) or self._legacy

    @property
    def revision(self) -> str:
        body = json.dumps(self.doc, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(body).hexdigest()[:32]


def lookup(matrix: Mapping[tuple[str, str], _Entry], direction: str,
           network: str) -> _Entry | None:
    """The most specific entry: (direction, network), (direction, any), (any, network),
    (any, any); an unknown direction or network matches only `any`."""
    for key in ((direction, network), (direction, "any"), ("any", network), ("any", "any")):
        if key in matrix:
            return matrix[key]
    return None


def _only(value: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in value:
        if key not in allowed:
            raise InvalidArgument(f"{where}.{key}: must be one of {', '.join(allowed)}")


def _revisions(patches: Mapping[Key, tuple[dict[str, Any], int]]) -> dict[Key, int]:
    return {key: revision for key, (_, revision) in patches.items()}


def merge_patch(doc: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386: objects merge key by key, `null` removes, anything else replaces."""
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


Key = tuple[str, Level, str]  # (account, level, owner id)


class PolicyBook:
    """Every policy document in force: the file's, with the API's patches over them."""

    def __init__(self, repository: PolicyRepository, default_format: AudioFormat) -> None:
        self._repository = repository
        self._default = default_format
        self._declared: dict[Key, dict[str, Any]] = {}
        self._patches: dict[Key, tuple[dict[str, Any], int]] = {}
        self._docs: dict[Key, PolicyDocument] = {}
        self._accounts: set[str] = set()

    def load(self, declared: Mapping[Key, Mapping[str, Any]]) -> None:
        """Put the file's documents in force, with the API's changes as the store holds them
        now (made here or by another daemon on the same store); all checked first: one bad
        document and the policies in force stay. InvalidArgument names the document."""
        self._build(declared, self._stored_patches())

    def refresh(self) -> bool:
        """Take in the API changes another daemon made on the same store since they were
        last read (the file's documents stay as loaded); True when there were some. A
        stored change that no longer passes the checks is logged and the policies in force
        stay."""
        patches = self._stored_patches()
        if _revisions(patches) == _revisions(self._patches):
            return False
        try:
            self._build(self._declared, patches)
        except InvalidArgument as exc:
            log.error("recording policies changed in the store not taken in: %s", exc)
            return False
        log.info("recording policies changed in the store taken in")
        return True

    def _stored_patches(self) -> dict[Key, tuple[dict[str, Any], int]]:
        return {(account, Level(level), owner): (json.loads(patch), revision)
                for account, level, owner, patch, revision
                in self._repository.policy_patches()}

    def _build(self, declared: Mapping[Key, Mapping[str, Any]],
               patches: dict[Key, tuple[dict[str, Any], int]]) -> None:
        docs = {}
        for key in set(declared) | set(patches):
            base = dict(declared.get(key, {}))
            patch = patches.get(key)
            merged = merge_patch(base, patch[0]) if patch else base
            docs[key] = self._document(key, merged, f"{key[1].value} {key[2]}")
        self._declared = {k: dict(v) for k, v in declared.items()}
        self._patches = patches
        self._install(docs)

    def get(self, key: Key) -> PolicyDocument | None:
        return self._docs.get(key)

    def revision(self, key: Key) -> int:
        patch = self._patches.get(key)
        return patch[1] if patch else 0

    def patch(self, key: Key, change: Mapping[str, Any],
              check_url: Callable[[str], None] | None = None) -> PolicyDocument:
        """Apply a change made over the API (validated, then saved, then in force), over
        the store's latest changes (another daemon's included)."""
        self.refresh()
        old_patch, revision = self._patches.get(key, ({}, 0))
        new_patch = merge_patch(old_patch, change)
        for name, value in change.items():  # a removal stays a removal over the file
            if value is None:
                new_patch[name] = None
        merged = merge_patch(self._declared.get(key, {}), new_patch)
        doc = self._document(key, merged, "data", check_url)
        self._repository.save_policy_patch(key[0], key[1].value, key[2],
                                           json.dumps(new_patch), revision + 1)
        self._patches[key] = (new_patch, revision + 1)
        docs = dict(self._docs)
        docs[key] = doc
        self._install(docs)
        log.info("policy of %s %s in account %s changed over the API (revision %d)",
                 key[1].value, key[2], key[0], revision + 1)
        return doc

    def accounts(self) -> set[str]:
        return self._accounts

    def decide(self, account: str, user: str, device: str, direction: str,
               network: str) -> list[Decision]:
        """The recordings a call of this identity gets (none, one, or account + endpoint
        with different parameters)."""
        out: list[Decision] = []
        acct = self._docs.get((account, Level.ACCOUNT, account))
        if acct is not None:
            entry = acct.entry(direction, network)
            if entry is not None and entry.enabled and entry.params is not None:
                out.append(Decision(Level.ACCOUNT, account, entry.params,
                                    f"{entry.label} account"))
        endpoint = self._endpoint(account, user, device, direction, network, acct)
        if endpoint is not None and all(d.params != endpoint.params for d in out):
            out.append(endpoint)
        return out

    def _endpoint(self, account: str, user: str, device: str, direction: str, network: str,
                  acct: PolicyDocument | None) -> Decision | None:
        for level, owner in ((Level.DEVICE, device), (Level.USER, user)):
            doc = self._docs.get((account, level, owner)) if owner else None
            if doc is not None and doc.speaks:
                entry = doc.entry(direction, network)
                if entry is None or not entry.enabled or entry.params is None:
                    return None  # this level decides: not recorded
                return Decision(level, owner, entry.params, f"{entry.label} {level.value}")
        if acct is not None and (user or device):
            entry = lookup(acct.endpoint_default, direction, network)
            if entry is not None and entry.enabled and entry.params is not None:
                return Decision(Level.DEVICE if device else Level.USER, device or user,
                                entry.params, f"{entry.label} endpoint")
        return None

    def _document(self, key: Key, doc: Mapping[str, Any], where: str,
                  check_url: Callable[[str], None] | None = None) -> PolicyDocument:
        try:
            return PolicyDocument(key[1], key[2], doc, self._default, check_url)
        except InvalidArgument as exc:
            if where == "data":
                raise
            raise InvalidArgument(f"{where} (account {key[0]}): {exc}") from None

    def _install(self, docs: dict[Key, PolicyDocument]) -> None:
        self._docs = docs
        self._accounts = {k[0] for k, d in docs.items() if d.speaks or d.endpoint_default}
