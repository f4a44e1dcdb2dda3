"""Which addresses callbacks and uploads may reach: the operator's decision, not the caller's.

A callback URL comes from an API caller. Left unchecked, any account could make the daemon
send HTTP to the operator's own network: FreeSWITCH's event socket on 127.0.0.1:8021, the
cloud metadata address 169.254.169.254, a database on 10.0.0.5. So:

- By default only global (public) addresses are reachable. Loopback, link-local, private,
  unique-local, shared (CGNAT), multicast, reserved and unspecified addresses are refused,
  in every spelling a resolver accepts (`0x7f000001`, `2130706433`, `127.1`,
  `[::ffff:127.0.0.1]`).
- `delivery.allowed_networks` lists networks that are reachable all the same (a receiver
  on the operator's LAN, or loopback in tests).
- The daemon's own endpoints (its HTTP listener, each FreeSWITCH event socket) are refused
  even inside an allowed network.
- The check runs twice: when a URL is given (a literal address or a `localhost` name is
  refused at once, in the dialect's error), and at delivery time on every address the host
  name resolves to, right before connecting (a name that resolved to a public address
  when the URL was given and to 127.0.0.1 later is still refused). Redirects are never
  followed (sender.py), so no other address is ever reached.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..errors import InvalidArgument

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]
DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK = ipaddress.ip_address("127.0.0.1")
NUMERIC_CHARACTERS = frozenset("0123456789abcdefx.:")  # of any address spelling
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class TargetRefused(InvalidArgument):
    """The target's address is not one deliveries may reach (never names credentials)."""


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for `host` (numeric forms included)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [_plain(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])) for info in infos]


def numeric_address(host: str) -> IPAddress | None:
    """`host` as an address if it is one in any spelling inet_aton/inet_pton accept
    (`0x7f000001`, `2130706433`, `127.1`), else None. Asks no name server, and calls
    getaddrinfo (a trip to gevent's resolver threads) only for the rare spellings that
    ipaddress does not read and that have no letter a name would."""
    if "%" not in host:  # a scoped IPv6 address is left to getaddrinfo
        with contextlib.suppress(ValueError):
            return _plain(ipaddress.ip_address(host))
    if not host or not set(host.partition("%")[0].lower()) <= NUMERIC_CHARACTERS:
        return None
    try:
        infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return _plain(ipaddress.ip_address(str(infos[0][4][0]).split("%", 1)[0]))


@dataclass(frozen=True)
class TargetPolicy:
    """`allowed`: networks reachable even though not global; `own`: (address, port) pairs
    of the daemon itself, never reachable (an unspecified address matches every local one)."""

    allowed: tuple[IPNetwork, ...] = ()
    own: set[tuple[IPAddress, int]] = field(default_factory=set, compare=False)
    resolver: Resolver = field(default=resolve, compare=False)

    @classmethod
    def build(cls, allowed: Iterable[str], own: Iterable[tuple[str, int]] = (),
              resolver: Resolver = resolve) -> TargetPolicy:
        """From the setting's strings (`10.0.0.0/8`, `127.0.0.1`) and the daemon's own
        endpoints (host names resolved once, here)."""
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in allowed)
        policy = cls(networks, set(), resolver)
        for host, port in own:
            policy.add_own(host, port)
        return policy

    def add_own(self, host: str, port: int) -> None:
        """One more endpoint of the daemon itself (a listener whose port was picked when it
        bound), refused from now on."""
        try:
            found = _addresses_of(host, port, self.resolver)
        except OSError:  # a node that does not resolve now cannot be reached either
            return
        self.own.update((address, port) for address in found)

    def check_address(self, address: IPAddress, port: int) -> None:
        """Raise TargetRefused unless deliveries may connect to `address`:`port`."""
        address = _plain(address)
        if self._is_own(address, port):
            raise TargetRefused(f"address {address} port {port} is this daemon's own "
                                "endpoint")
        if address.is_global and not address.is_multicast:
            return
        if any(address in network for network in self.allowed):
            return
        raise TargetRefused(f"address {address} is not public and not in "
                            "delivery.allowed_networks")

    def check_url(self, url: str) -> None:
        """At request time: refuse what is known without asking a name server (a literal
        address in any spelling, a localhost name). Names are checked at delivery."""
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
        if host in LOCAL_NAMES or host.endswith(".localhost"):
            self.check_address(LOOPBACK, port)
            return
        literal = numeric_address(host)
        if literal is not None:
            self.check_address(literal, port)

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """At delivery time: the addresses `host` resolves to now that may be reached
        (OSError if it does not resolve; TargetRefused, with the first reason, if none may).
        Only these are connected to, so a name that mixes a public address with a private
        one never leads to the private one."""
        allowed: list[IPAddress] = []
        refusal: TargetRefused | None = None
        for address in _addresses_of(host, port, self.resolver):
            try:
                self.check_address(address, port)
            except TargetRefused as exc:
                refusal = refusal or exc
            else:
                allowed.append(address)
        if not allowed:
            raise refusal or TargetRefused(f"{host} resolves to no address")
        return allowed

    def _is_own(self, address: IPAddress, port: int) -> bool:
        for own_address, own_port in self.own:
            if own_port != port:
                continue
            if own_address == address or (own_address.is_unspecified and _is_local(address)):
                return True
        return False


def _addresses_of(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    address = numeric_address(host)
    return [address] if address is not None else resolver(host, port)


def _plain(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is the IPv4 address it maps."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_local(address: IPAddress) -> bool:
    return address.is_loopback or address.is_unspecified

