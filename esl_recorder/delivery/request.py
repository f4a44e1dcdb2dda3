"""One outbound HTTP request as the outbox stores it, checked before it is stored.

The URL may carry credentials (`https://user:secret@host/path`), as Twilio and SignalWire
allow for callbacks: they are sent as HTTP Basic and never appear in logs, in the
outbox listing or in stored error text (`safe_url`). The stored `target` of an item is the
receiver's origin (`scheme://host:port`): it is the delivery lane that `per_host` limits.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from ..errors import InvalidArgument

METHODS = frozenset({"GET", "POST", "PUT"})
DEFAULT_PORTS = {"http": 80, "https": 443}
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
UNSAFE_IN_URL = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class OutboundRequest:
    """One HTTP request to make, exactly (signature headers already computed).

    `timeout` overrides delivery.timeout for this request (Bandwidth's callbackTimeout);
    `fallback_url`, when set, is tried at once in the same attempt when the URL fails with
    a retryable error (Bandwidth's fallbackUrl), with the same headers and body;
    `signer` names the signature made at each attempt (signing.SendTimeSigner), if any."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    timeout: float | None = None
    fallback_url: str = ""
    signer: str = ""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidArgument(f"callback method must be one of {sorted(METHODS)}")
        check_url(self.url)
        if self.fallback_url:
            check_url(self.fallback_url)
        for name, value in self.headers.items():
            if not HEADER_NAME.fullmatch(name):
                raise InvalidArgument(f"callback header name {name!r} is not valid")
            if "\r" in value or "\n" in value:
                raise InvalidArgument(f"callback header {name} holds a line break")
        if self.timeout is not None and not 0 < self.timeout <= 300:
            raise InvalidArgument("callback timeout must be between 0 and 300 seconds")

    @property
    def origin(self) -> str:
        return origin(self.url)

    def to_payload(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "headers": dict(self.headers),
                "body": self.body, "timeout": self.timeout, "fallback_url": self.fallback_url,
                "signer": self.signer}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> OutboundRequest:
        return cls(method=data["method"], url=data["url"], headers=dict(data["headers"]),
                   body=data["body"], timeout=data.get("timeout"),
                   fallback_url=data.get("fallback_url", ""), signer=data.get("signer", ""))


def check_url(url: str) -> SplitResult:
    """An absolute http(s) URL with a host, or InvalidArgument (never echoing secrets)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidArgument("callback URL is not a valid URL") from exc
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise InvalidArgument("callback URL must be an absolute http or https URL")
    if UNSAFE_IN_URL.search(url):
        raise InvalidArgument("callback URL must not contain whitespace or control characters")
    return parts


def origin(url: str) -> str:
    """`scheme://host:port`, lower-cased, default port filled in: one delivery lane."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{parts.port or DEFAULT_PORTS[parts.scheme]}"


def safe_url(url: str) -> str:
    """The URL for logs and listings: no credentials, no query string (tokens live there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{query}"


def wire_form(url: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The URL to send (credentials removed) and the headers (Basic auth from them)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, headers
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    netloc = parts.netloc.rsplit("@", 1)[1]
    auth = "Basic " + base64.b64encode(pair.encode()).decode()
    return parts._replace(netloc=netloc).geturl(), {"Authorization": auth, **headers}
