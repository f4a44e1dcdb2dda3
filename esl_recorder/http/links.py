"""Where links point (recording and media URLs, Location): never an unchecked Host header.

In order: `http.public_base_url`; for a request from a proxy in `http.trusted_proxies`, the
X-Forwarded-Proto/-Host/-Port/-Prefix it sends (werkzeug's ProxyFix, applied to those
requests only; X-Forwarded-For becomes the client address); a Host header listed in
`http.allowed_hosts`; else the address the server listens on (the connection's own local
address when it listens on every address). The result is put in the environ under
`BASE_URL_KEY`, where `Dialect.base_url` reads it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

from ..dialects.base import BASE_URL_KEY
from ..settings import HttpSettings
from ..settings.fields import HOST_PORT
from .ops import WsgiApp

LOCAL_ADDRESS_KEY = "esl_recorder.local_address"  # (ip, port) of the connection, set by it
WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})
DEFAULT_PORTS = {"http": 80, "https": 443}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PublicLinks:
    """WSGI middleware: ProxyFix for trusted proxies, then the base URL into the environ."""

    def __init__(self, app: WsgiApp, settings: HttpSettings) -> None:
        self._app = app
        self._public = settings.public_base_url
        self._listen_host = "" if settings.host in WILDCARDS else settings.host
        self._allowed = frozenset(settings.allowed_hosts)
        self._proxies = parse_networks(settings.trusted_proxies)
        self._proxied = ProxyFix(self._from_proxy, x_for=1, x_proto=1, x_host=1, x_port=1,
                                 x_prefix=1)

    def trusts(self, address: str) -> bool:
        """Whether `address` is one of http.trusted_proxies."""
        return in_networks(address, self._proxies)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._proxies and self.trusts(environ.get("REMOTE_ADDR", "")):
            return self._proxied(environ, start_response)
        environ[BASE_URL_KEY] = self._public or self._direct_base(environ)
        return self._app(environ, start_response)

    def _from_proxy(self, environ: dict[str, Any], start_response: Any) -> Any:
        host = environ.get("HTTP_HOST", "").lower()
        if self._public:
            base = self._public
        elif HOST_PORT.fullmatch(host) and (not self._allowed or self._allows(host)):
            scheme = environ["wsgi.url_scheme"]
            host = host.removesuffix(f":{DEFAULT_PORTS.get(scheme)}")
            prefix = environ.get("SCRIPT_NAME", "").rstrip("/")
            base = f"{scheme}://{host}{prefix}"
        else:
            base = self._listen_base(environ)
        environ[BASE_URL_KEY] = base
        return self._app(environ, start_response)

    def _direct_base(self, environ: dict[str, Any]) -> str:
        host = environ.get("HTTP_HOST", "").lower()
        if self._allowed and self._allows(host):
            return f"{environ['wsgi.url_scheme']}://{host}"
        return self._listen_base(environ)

    def _allows(self, host: str) -> bool:
        """`host` is listed as is, or its name is listed without a port."""
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return host in self._allowed or name in self._allowed

    def _listen_base(self, environ: dict[str, Any]) -> str:
        scheme = environ["wsgi.url_scheme"]
        local = environ.get(LOCAL_ADDRESS_KEY)
        ip, port = local if local else (environ.get("SERVER_NAME", ""),
                                        int(environ.get("SERVER_PORT") or 0))
        host = self._listen_host or ip
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        shown = "" if port == DEFAULT_PORTS.get(scheme) else f":{port}"
        return f"{scheme}://{host}{shown}"


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def in_networks(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)
