"""Telnyx-style Ed25519 signatures are made when a callback is sent, not when it is queued:
Telnyx's SDK refuses a signature more than five minutes old, and a callback may wait longer
than that for its receiver to come back."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from esl_recorder.delivery.signing import (
    SendTimeSigner,
    ed25519_key,
    ed25519_public_b64,
    new_ed25519_seed,
)

BODY = "AccountSid=a&RecordingStatus=completed"


def verify(public_b64: str, headers: dict[str, str], body: str) -> None:
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))
    signed = f"{headers['telnyx-timestamp']}|{body}".encode()
    key.verify(base64.b64decode(headers["telnyx-signature-ed25519"]), signed)


def test_each_attempt_is_signed_with_the_time_it_is_sent() -> None:
    seed = new_ed25519_seed()
    now = [1_800_000_000.0]
    signer = SendTimeSigner({"globex": seed}, clock=lambda: now[0])
    first = signer.headers("telnyx-ed25519:globex", BODY)
    now[0] += 3600  # an hour later, the receiver is back
    retry = signer.headers("telnyx-ed25519:globex", BODY)
    assert (first["telnyx-timestamp"], retry["telnyx-timestamp"]) == ("1800000000", "1800003600")
    public = ed25519_public_b64(ed25519_key(seed))
    verify(public, first, BODY)
    verify(public, retry, BODY)
    with pytest.raises(InvalidSignature):  # a signature does not carry over to another time
        verify(public, {**retry, "telnyx-timestamp": first["telnyx-timestamp"]}, BODY)


def test_a_signer_without_a_key_signs_nothing() -> None:
    signer = SendTimeSigner({"globex": new_ed25519_seed()})
    assert signer.headers("telnyx-ed25519:acme", BODY) == {}
    assert signer.headers("other-scheme:globex", BODY) == {}
