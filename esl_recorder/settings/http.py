"""The HTTP API's listener (`http`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, Strict, model_validator
from pydantic.dataclasses import dataclass

from .fields import (
    BaseUrl,
    Bool,
    HostNames,
    ListenPort,
    Networks,
    OptionalPath,
    Seconds,
    Token,
    between,
)
from .section import SECTION, rule_error


@dataclass(frozen=True, config=SECTION)
class HttpSettings:
    host: Token = Field(
        default="127.0.0.1", description="Address the HTTP API and /metrics listen on.")
    port: ListenPort = Field(
        default=8080, description="TCP port of the HTTP API (0 picks a free port).")
    public_base_url: BaseUrl = Field(
        default="",
        description="URL clients reach this daemon at, for links (empty: the listen address, "
                    "an allowed_hosts Host, or a trusted proxy's X-Forwarded-*).")
    allowed_hosts: HostNames = Field(
        default=(),
        description="Host header values links may use without public_base_url (others: the "
                    "listen address). Env: comma-separated.")
    trusted_proxies: Networks = Field(
        default=(),
        description="Proxies (addresses or networks) whose X-Forwarded-Proto/-Host/-Port/-For "
                    "are believed. Env: comma-separated.")
    tls_cert: OptionalPath = Field(
        default="",
        description="PEM certificate chain file: with tls_key, the API serves https (TLS 1.2+; "
                    "re-read on SIGHUP).")
    tls_key: OptionalPath = Field(
        default="", description="PEM private key file of tls_cert (unencrypted).")
    max_body_bytes: Annotated[int, Strict(), AfterValidator(between(1024, 16 << 20))] = Field(
        default=65536,
        description="Largest request body accepted, Content-Length or chunked (larger: 413).")
    request_timeout: Seconds = Field(
        default=30.0,
        description="Seconds a client may take to send a whole request (TLS handshake, head and "
                    "body), and to stay idle between requests.")
    max_connections_per_client: Annotated[int, Strict(), AfterValidator(between(1, 100000))] = (
        Field(default=64,
              description="Open connections one client address may hold (trusted proxies: no "
                          "limit); more are refused."))
    access_log: Bool = Field(
        default=True, description="Log one JSON line per API request.")
    metrics_port: Annotated[int, Strict(), AfterValidator(between(0, 65535))] = Field(
        default=0,
        description="A second TCP port on http.host serving only /metrics, /healthz and "
                    "/readyz (they stay on http.port too); 0: none.")

    @model_validator(mode="after")
    def tls_pair(self) -> HttpSettings:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise rule_error("set both tls_cert and tls_key, or neither", ".tls_key",
                             ".tls_cert")
        return self
