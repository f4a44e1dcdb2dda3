"""The HTTP edge over real sockets (tests/edge: a package named http would shadow the
standard library's): a daemon against the simulator, TLS from a throwaway CA."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from api.conftest import ACCOUNTS, Api
from daemon.conftest import Daemon, DaemonFactory, daemon_factory, switch  # noqa: F401

from esl_recorder.testing.fakeswitch import FakeSwitch


@dataclass
class TlsFiles:
    ca: trustme.CA
    cert: Path
    key: Path
    ca_file: Path

    def issue(self, ca: trustme.CA | None = None) -> None:
        """Write a new certificate (of `ca`, else the same CA) over the configured files."""
        leaf = (ca or self.ca).issue_cert("127.0.0.1", "localhost")
        leaf.private_key_pem.write_to_path(str(self.key))
        leaf.cert_chain_pems[0].write_to_path(str(self.cert))
        for pem in leaf.cert_chain_pems[1:]:
            pem.write_to_path(str(self.cert), append=True)


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    ca = trustme.CA()
    files = TlsFiles(ca, tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(str(files.ca_file))
    files.issue()
    return files


ApiFactory = Callable[..., Api]


@pytest.fixture
def make_api(daemon_factory: DaemonFactory, switch: FakeSwitch,  # noqa: F811
             ) -> Iterator[ApiFactory]:
    """A started daemon with the test accounts; `http` settings over the defaults."""
    sessions: list[requests.Session] = []

    def make(**http: Any) -> Api:
        daemon = daemon_factory(accounts=ACCOUNTS, http=http)
        assert daemon.app.clients["fs1"].wait_connected(5)
        assert daemon.app.http is not None
        scheme = "https" if http.get("tls_cert") else "http"
        session = requests.Session()
        sessions.append(session)
        return Api(daemon, switch, f"{scheme}://127.0.0.1:{daemon.app.http.server_port}",
                   session)

    yield make
    for session in sessions:
        session.close()


def port_of(api: Api) -> int:
    assert api.daemon.app.http is not None
    return int(api.daemon.app.http.server_port)


def exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` on a new connection, read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        return read_all(conn)


def read_all(conn: socket.socket) -> bytes:
    reply = b""
    while chunk := conn.recv(65536):
        reply += chunk
    return reply


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def body_of(reply: bytes) -> bytes:
    return reply.split(b"\r\n\r\n", 1)[1]


def link_base(api: Api, uuid: str, **kwargs: Any) -> str:
    """The base of the links the daemon gives (Bandwidth's call resource's `recordings`)."""
    from api.conftest import ACME_BW, basic

    r = api.request("GET", f"/v1/users/{ACME_BW[0]}/calls/{uuid}",
                    headers={"Authorization": basic(*ACME_BW[1:]),
                             **kwargs.pop("headers", {})}, **kwargs)
    assert r.status_code == 200, r.text
    link: str = r.json()["recordings"]
    suffix = f"/v1/users/{ACME_BW[0]}/calls/{uuid}/recordings"
    assert link.endswith(suffix), link
    return link[:-len(suffix)]
