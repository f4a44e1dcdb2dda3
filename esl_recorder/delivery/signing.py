"""Webhook signatures receivers already know how to check.

HMAC signatures cover only the request, so the dialects compute them when they queue it.
Telnyx's Ed25519 signature covers the time of sending as well (receivers refuse one older
than five minutes), so it is made at each attempt: the request names its signer
(`OutboundRequest.signer`, e.g. `telnyx-ed25519:<account id>`, never the key), and the
sender asks SendTimeSigner for the headers right before it sends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

log = logging.getLogger(__name__)

TELNYX_ED25519 = "telnyx-ed25519"


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """`X-Twilio-Signature` / `X-SignalWire-Signature`: base64 HMAC-SHA1 with the auth token
    over the full URL followed by each POST parameter's name and value, sorted by name
    (GET callbacks: the URL with its query string, and no parameters)."""
    data = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signalwire_json_signatures(url: str, body: str, signing_key: str) -> dict[str, str]:
    """SignalWire's signature of a JSON webhook (RELAY, SWML): lowercase hex HMAC-SHA1 of the
    URL followed by the raw body in `X-SignalWire-Signature`, and the same with SHA-256 in
    `X-SignalWire-Sha256-Signature` (the scheme signalwire-sdk 3.x checks)."""
    data = (url + body).encode()
    return {"X-SignalWire-Signature": hmac.new(signing_key.encode(), data,
                                               hashlib.sha1).hexdigest(),
            "X-SignalWire-Sha256-Signature": hmac.new(signing_key.encode(), data,
                                                      hashlib.sha256).hexdigest()}


def telnyx_signature_headers(key: Ed25519PrivateKey, body: str, now: float) -> dict[str, str]:
    """Telnyx's webhook signature: Ed25519 over `<timestamp>|<body>`, base64, in
    `telnyx-signature-ed25519`, with the Unix time in `telnyx-timestamp` (what the telnyx
    SDK's `webhooks.unwrap` checks)."""
    timestamp = str(int(now))
    signature = key.sign(f"{timestamp}|{body}".encode())
    return {"telnyx-timestamp": timestamp,
            "telnyx-signature-ed25519": base64.b64encode(signature).decode()}


def ed25519_key(seed_b64: str) -> Ed25519PrivateKey:
    """The private key from its base64 32-byte seed (settings check the shape)."""
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64))


def ed25519_public_b64(key: Ed25519PrivateKey) -> str:
    """The public key as Telnyx shows it and its SDK takes it: base64 of 32 raw bytes."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def new_ed25519_seed() -> str:
    """A fresh private key, base64 of its 32-byte seed (the texml_signing_key setting)."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode()


class SendTimeSigner:
    """Headers of the signatures made at each attempt, by signer name
    (`<scheme>:<account id>`). A signer whose key is no longer configured signs nothing
    (logged): the receiver then refuses the callback, as it would a forged one."""

    def __init__(self, telnyx_keys: Mapping[str, str],
                 clock: Callable[[], float] = time.time) -> None:
        self._telnyx = {account: ed25519_key(seed) for account, seed in telnyx_keys.items()}
        self._clock = clock

    def headers(self, signer: str, body: str) -> dict[str, str]:
        scheme, _, account = signer.partition(":")
        key = self._telnyx.get(account) if scheme == TELNYX_ED25519 else None
        if key is None:
            log.warning("callback signer %s has no key configured: sent unsigned", signer)
            return {}
        return telnyx_signature_headers(key, body, self._clock())
