"""API accounts (tenants) and the credential check of each dialect.

Secrets are compared in constant time, and an unknown user costs the same comparison as a
known one, so response times do not tell which ids exist.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence

from .errors import Unauthorized
from .settings import AccountSettings

_DUMMY = "x" * 32


class AccountBook:
    """Accounts by their id in each dialect's URLs."""

    def __init__(self, accounts: Sequence[AccountSettings]) -> None:
        self._by_id = {a.id: a for a in accounts}
        self._laml = {a.laml_project_id or a.id: a for a in accounts if a.laml_token}
        self._texml = {a.texml_account_sid or a.id: a for a in accounts if a.texml_api_key}
        self._bandwidth = {a.bandwidth_user_id or a.id: a for a in accounts if a.bandwidth_token}
        self._kazoo = {a.kazoo_account_id or a.id: a for a in accounts if a.kazoo_auth_token}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, account_id: str) -> AccountSettings | None:
        return self._by_id.get(account_id)

    def laml(self, account_sid: str, authorization: str | None) -> AccountSettings:
        """HTTP Basic `project_id:token`; the project must be the path's AccountSid."""
        user, secret = basic_credentials(authorization)
        acct = self._laml.get(user)
        _check(acct.laml_token if acct else None, secret)
        assert acct is not None
        if not hmac.compare_digest(user.encode(), account_sid.encode()):  # str: ASCII only
            raise Unauthorized("the credentials are not those of this AccountSid")
        return acct

    def texml(self, account_sid: str, authorization: str | None) -> AccountSettings:
        """`Authorization: Bearer <api key>` of the account named in the path."""
        key = bearer_token(authorization)
        acct = self._texml.get(account_sid)
        _check(acct.texml_api_key if acct else None, key)
        assert acct is not None
        return acct

    def bandwidth(self, user_id: str, authorization: str | None) -> AccountSettings:
        """HTTP Basic `token:secret` of the account whose userId is in the path."""
        token, secret = basic_credentials(authorization)
        acct = self._bandwidth.get(user_id)
        _check(acct.bandwidth_token if acct else None, token)
        assert acct is not None
        _check(acct.bandwidth_secret, secret)
        return acct


    def kazoo(self, account_id: str, token: str | None) -> AccountSettings:
        """Crossbar's `X-Auth-Token` of the account named in the path."""
        if not token:
            raise Unauthorized("an X-Auth-Token header is required")
        acct = self._kazoo.get(account_id)
        _check(acct.kazoo_auth_token if acct else None, token.strip())
        assert acct is not None
        return acct


def vendor_id(acct: AccountSettings, dialect: str) -> str:
    """The id an account goes by in a dialect's URLs."""
    value = {"laml": acct.laml_project_id, "texml": acct.texml_account_sid,
             "bandwidth": acct.bandwidth_user_id, "kazoo": acct.kazoo_account_id}[dialect]
    return value or acct.id


def basic_credentials(authorization: str | None) -> tuple[str, str]:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        raise Unauthorized("HTTP Basic credentials are required")
    try:
        user, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed HTTP Basic credentials") from None
    if not sep:
        raise Unauthorized("malformed HTTP Basic credentials")
    return user, secret


def bearer_token(authorization: str | None) -> str:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("an Authorization: Bearer <API key> header is required")
    return value.strip()


def _check(expected: str | None, given: str) -> None:
    ok = hmac.compare_digest((expected or _DUMMY).encode(), given.encode())
    if expected is None or not ok:
        raise Unauthorized("wrong credentials")
