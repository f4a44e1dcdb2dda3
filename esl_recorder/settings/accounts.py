"""API accounts (tenants) and their credentials per dialect (`accounts`)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic.dataclasses import dataclass

from .fields import AccountId, OptionalId, OptionalSecret, SigningKey
from .section import SECTION, masked_repr, rule_error


@dataclass(frozen=True, config=SECTION, repr=False)
class AccountSettings:
    id: AccountId = Field(
        description="Account id: the value of identity.account_variable on the account's calls.")
    laml_project_id: OptionalId = Field(
        default="",
        description="SignalWire LaML project id (the AccountSid and Basic user); empty: the "
                    "account id.")
    laml_token: OptionalSecret = Field(
        default="",
        description="LaML API token (Basic password; also signs callbacks). Empty: LaML off for "
                    "this account.")
    texml_account_sid: OptionalId = Field(
        default="", description="Telnyx TeXML account_sid in paths; empty: the account id.")
    texml_api_key: OptionalSecret = Field(
        default="",
        description="TeXML API key (Authorization: Bearer). Empty: TeXML off for this account.")
    texml_signing_key: SigningKey = Field(
        default="",
        description="Ed25519 private key (base64 of 32 bytes; `esl-recorder keygen` makes a "
                    "pair) that signs TeXML callbacks as Telnyx does (telnyx-signature-ed25519 "
                    "and telnyx-timestamp, made at each attempt); receivers check them with the "
                    "public key. Empty: TeXML callbacks unsigned.")
    bandwidth_user_id: OptionalId = Field(
        default="", description="Bandwidth v1 userId in paths; empty: the account id.")
    bandwidth_token: OptionalSecret = Field(
        default="",
        description="Bandwidth API token (Basic user). Empty: Bandwidth off for this account.")
    bandwidth_secret: OptionalSecret = Field(
        default="", description="Bandwidth API secret (Basic password).")
    kazoo_account_id: OptionalId = Field(
        default="", description="Kazoo account_id in /v2/accounts paths; empty: the account id.")
    kazoo_auth_token: OptionalSecret = Field(
        default="",
        description="Kazoo Crossbar X-Auth-Token of the account. Empty: the Kazoo API is off for "
                    "this account.")

    @model_validator(mode="after")
    def bandwidth_pair(self) -> AccountSettings:
        if bool(self.bandwidth_token) != bool(self.bandwidth_secret):
            raise rule_error("set both bandwidth_token and bandwidth_secret, or neither",
                             ".bandwidth_secret", ".bandwidth_token")
        return self

    def __repr__(self) -> str:
        return masked_repr(self)


def distinct_accounts(accounts: tuple[AccountSettings, ...]) -> tuple[AccountSettings, ...]:
    """No id, project id, account sid or user id used by two accounts (empty: the id)."""
    for attr in ("id", "laml_project_id", "texml_account_sid", "bandwidth_user_id"):
        seen: dict[str, int] = {}
        for i, acct in enumerate(accounts):
            value = getattr(acct, attr) or acct.id
            if value in seen:
                raise rule_error(f"{value!r} is already used by accounts[{seen[value]}]",
                                 f"[{i}].{attr}")
            seen[value] = i
    return accounts
