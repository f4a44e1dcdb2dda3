"""Webhook signatures receivers already know how to check."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


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
