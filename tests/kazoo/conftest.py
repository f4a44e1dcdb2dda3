"""Kazoo policies and Crossbar API: the daemon (build_app, its real ESL client) against the
simulator over a socket, its HTTP API through a real port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from api.conftest import ACCOUNTS as API_ACCOUNTS
from daemon.conftest import Daemon, DaemonFactory, daemon_factory, switch  # noqa: F401

from esl_recorder.domain.recording import Recording, State
from esl_recorder.testing.fakeswitch import FakeSwitch

ACCOUNTS = API_ACCOUNTS
ACME_TOKEN = ACCOUNTS[0]["kazoo_auth_token"]
GLOBEX_TOKEN = ACCOUNTS[1]["kazoo_auth_token"]
ACME_ID = ACCOUNTS[0]["kazoo_account_id"]  # acme's Kazoo account_id in paths
ACCOUNT_VAR, USER_VAR, DEVICE_VAR = ("esl_recorder_account_id", "esl_recorder_user_id",
                                     "esl_recorder_device_id")


@dataclass
class Kazoo:
    daemon: Daemon
    switch: FakeSwitch
    url: str
    http: requests.Session
    policy_file: Path

    def call(self, account: str = "acme", user: str = "", device: str = "",
             answered: bool = True, **variables: str) -> str:
        """An inbound call with the identity variables set, tracked by the daemon."""
        names = {ACCOUNT_VAR: account, USER_VAR: user, DEVICE_VAR: device}
        uuid = self.switch.inbound_call(
            "tone_a", {**{k: v for k, v in names.items() if v}, **variables},
            answered=answered)
        self.daemon.wait_call(uuid, answered=answered)
        return uuid

    def recordings_of(self, uuid: str, count: int = 1) -> list[Recording]:
        """The call's recordings once `count` exist (and are running, or queued)."""
        return self.daemon.wait_until(
            lambda: len(r := self.daemon.service.for_call(uuid)) >= count and r,
            what=f"{count} recordings of call {uuid}")

    def finish(self, uuid: str, seconds: float = 1.0) -> list[Recording]:
        """Some media, then the hangup; the call's recordings once they are all finished."""
        recs = self.daemon.wait_until(
            lambda: (r := self.daemon.service.for_call(uuid))
            and all(x.state is State.IN_PROGRESS for x in r) and r,
            what="recordings in progress")
        self.switch.advance(seconds)
        self.switch.hangup(uuid)
        return [self.daemon.wait_state(r.sid, State.COMPLETED, State.ABSENT, State.FAILED)
                for r in recs]

    def no_recording(self, uuid: str) -> bool:
        """True once the daemon has seen the call through its answer with nothing started
        (the policy looks at a call in its own greenlet: wait for a later command to pass)."""
        self.switch.hangup(uuid)
        self.daemon.wait_until(lambda: self.daemon.app.tracker.get(uuid) is None
                               or self.daemon.app.tracker.get(uuid).hungup, what="hangup")
        return not self.daemon.service.for_call(uuid)

    def request(self, method: str, path: str, token: str = ACME_TOKEN,
                **kwargs: Any) -> requests.Response:
        headers = {"X-Auth-Token": token} if token else {}
        return self.http.request(method, f"{self.url}/v2/accounts/{path}", headers=headers,
                                 timeout=10, **kwargs)

    def write_policies(self, doc: dict[str, Any]) -> None:
        self.policy_file.write_text(yaml.safe_dump(doc))


FAST_RETRIES = {"initial_delay": 0.05, "max_delay": 0.2}


def start_kazoo(factory: DaemonFactory, switch: FakeSwitch, policy_file: Path,  # noqa: F811
                policies: dict[str, Any] | None, http: requests.Session,
                **more: Any) -> Kazoo:
    if policies is not None:
        policy_file.write_text(yaml.safe_dump(policies))
    kazoo_settings: dict[str, Any] = {"default_format": "wav", **more}
    if policy_file.exists():
        kazoo_settings["policy_file"] = str(policy_file)
    daemon = factory(accounts=ACCOUNTS, kazoo=kazoo_settings, delivery=FAST_RETRIES)
    assert daemon.app.clients["fs1"].wait_connected(5)
    assert daemon.app.http is not None
    return Kazoo(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http,
                 policy_file)


@pytest.fixture
def make_kazoo(daemon_factory: DaemonFactory, switch: FakeSwitch,  # noqa: F811
               tmp_path: Path) -> Iterator[Any]:
    with requests.Session() as http:
        yield lambda policies=None, **more: start_kazoo(
            daemon_factory, switch, tmp_path / "policies.yaml", policies, http, **more)
