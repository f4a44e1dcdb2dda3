"""The daemon's HTTP API over a real port, against the simulator, with a callback receiver."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from daemon.conftest import Daemon, DaemonFactory, daemon_factory, switch  # noqa: F401

from esl_recorder.testing.fakeswitch import FakeSwitch

ACME_LAML = ("0b7c2cb2-7d5f-4c8e-9a51-5d6f1a3c8e01", "PTacme-laml-token")
ACME_TEXML = ("61bf923e-5e4d-4595-a110-56190ea18a1b", "KEYacme-texml-key")
ACME_BW = ("u-acme", "t-acme-token", "s-acme-secret")
GLOBEX_LAML = ("9d1e0a36-1b7a-4f0e-8c3d-2a4b6c8d0e12", "PTglobex-laml-token")
# globex signs its TeXML callbacks (esl-recorder keygen made this pair)
GLOBEX_TEXML_SIGNING = ("c/NSwWp2Cz0B1JN4d/g6Z8HZMrpuuWeS+Ky8wZWT9zA=",
                        "E6JIgps26gmvhNFJF3LMyi0Qgw1lF2j/7M9Bf4NQikE=")

ACCOUNTS = [
    {"id": "acme", "laml_project_id": ACME_LAML[0], "laml_token": ACME_LAML[1],
     "texml_account_sid": ACME_TEXML[0], "texml_api_key": ACME_TEXML[1],
     "bandwidth_user_id": ACME_BW[0], "bandwidth_token": ACME_BW[1],
     "bandwidth_secret": ACME_BW[2], "kazoo_account_id": "4fe1c3c1a0a1b2c3d4e5f60718293a4b",
     "kazoo_auth_token": "acme-kazoo-token-0123456789abcdef"},
    {"id": "globex", "laml_project_id": GLOBEX_LAML[0], "laml_token": GLOBEX_LAML[1],
     "texml_account_sid": "c4a0f3d2-8e61-4b7a-9f05-3d2e1c0b9a87", "texml_api_key": "KEYglobex",
     "texml_signing_key": GLOBEX_TEXML_SIGNING[0],
     "bandwidth_user_id": "u-globex", "bandwidth_token": "t-globex", "bandwidth_secret": "s-gx",
     "kazoo_auth_token": "globex-kazoo-token-0123456789abcd"},
]


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


@dataclass
class Api:
    """A started daemon with accounts, its base URL, and helpers to make calls."""

    daemon: Daemon
    switch: FakeSwitch
    url: str
    http: requests.Session

    def call(self, account: str = "acme", answered: bool = True, **variables: str) -> str:
        """An inbound call of `account` on the simulator, tracked by the daemon."""
        ident = self.daemon.app.settings.identity
        uuid = self.switch.inbound_call(
            "tone_a", {ident.account_variable: account, **variables}, answered=answered)
        self.daemon.wait_call(uuid, answered=answered)
        return uuid

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.url + path, timeout=10, **kwargs)


@pytest.fixture
def api(daemon_factory: DaemonFactory, switch: FakeSwitch) -> Iterator[Api]:  # noqa: F811
    daemon = daemon_factory(accounts=ACCOUNTS, delivery={"initial_delay": 0.05,
                                                         "max_delay": 0.2})
    assert daemon.app.clients["fs1"].wait_connected(5)
    assert daemon.app.http is not None
    with requests.Session() as http:
        yield Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)
