"""The API's TLS: a server context from http.tls_cert / http.tls_key (TLS 1.2 or newer),
made again from the files whenever asked (SIGHUP)."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from gevent import ssl as gevent_ssl

from ..errors import ConfigError

log = logging.getLogger(__name__)

# The first byte of a TLS record carrying a handshake (a ClientHello): no HTTP method starts so.
TLS_HANDSHAKE = 0x16


def server_context(cert: str, key: str, source: str = "settings") -> ssl.SSLContext:
    """A gevent server context for the pair; ConfigError naming the setting if unusable."""
    for setting, path in (("http.tls_cert", cert), ("http.tls_key", key)):
        try:
            Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(source, setting,
                              f"cannot read {path!r}: {exc.strerror or exc}") from None
    context = gevent_ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key, password=_no_password)
    except (ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        raise ConfigError(source, "http.tls_cert",
                          f"{cert!r} and http.tls_key {key!r} are not a PEM certificate chain "
                          f"and its unencrypted private key ({reason})") from None
    return context


def _no_password() -> bytes:
    """An encrypted key fails to load (instead of OpenSSL asking on the terminal)."""
    raise ValueError("the private key is encrypted")
