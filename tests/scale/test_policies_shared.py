"""Several daemons, one store: a Kazoo policy changed over one daemon's API is in force on
the daemon that owns the calls' node (within a third of takeover_time, no SIGHUP), shown by
every daemon, and a change made on another daemon is merged over, never lost."""

from __future__ import annotations

from typing import Any

import pytest
from api.conftest import ACCOUNTS
from integration.live import eventually

from esl_recorder.settings import IdentitySettings, StoreSettings
from esl_recorder.store.opener import open_store

from .cluster import Cluster, ClusterFactory, Daemon

ACME_ID = ACCOUNTS[0]["kazoo_account_id"]
TOKEN = {"X-Auth-Token": ACCOUNTS[0]["kazoo_auth_token"]}
ACCOUNT_VAR = IdentitySettings().account_variable


@pytest.fixture
def pair(daemon_cluster: ClusterFactory) -> Cluster:
    """d0 owns both nodes; d1 owns none."""
    cluster = daemon_cluster(daemons=2, kazoo={"default_format": "wav"})
    owner, other = cluster.daemons
    owner.start()
    eventually(lambda: owner.owned() == set(cluster.switches), 15, "d0 to own both nodes")
    other.start()
    return cluster


def policy(daemon: Daemon, change: dict[str, Any] | None = None) -> dict[str, Any]:
    path = f"/v2/accounts/{ACME_ID}"
    r = (daemon.request("PATCH", path, headers=TOKEN, json={"data": change})
         if change is not None else daemon.request("GET", path, headers=TOKEN))
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


def recorded(cluster: Cluster, uuid: str) -> bool:
    store = open_store(StoreSettings(url=cluster.url))
    try:
        return any(r.call_uuid == uuid for r in store.list_recordings(limit=1000))
    finally:
        store.close()


def test_a_policy_changed_on_one_daemon_records_on_the_owner_of_the_node(
        pair: Cluster) -> None:
    owner, other = pair.daemons
    sim = pair.switches["fs1"]
    before = sim.inbound_call("tone_a", {ACCOUNT_VAR: "acme"}, answered=True)
    policy(other, {"record_call": True})  # asked of the daemon that owns no node
    eventually(lambda: "policies changed in the store taken in" in owner.log.read_text(), 5,
               "the owner to take the change in (a third of takeover_time)")
    after = sim.inbound_call("tone_a", {ACCOUNT_VAR: "acme"}, answered=True)
    eventually(lambda: recorded(pair, after), 10, f"call {after} recorded by the policy")
    sim.hangup(before)
    sim.hangup(after)
    assert not recorded(pair, before)  # answered before the change


def test_every_daemon_shows_the_latest_policy_and_merges_over_it(pair: Cluster) -> None:
    owner, other = pair.daemons
    policy(other, {"record_call": True})
    shown = policy(owner)  # no wait: a GET reads the store's changes first
    assert shown["data"]["record_call"] is True
    changed = policy(owner, {"name": "Acme Corp"})  # over the other daemon's change
    assert (changed["data"]["record_call"], changed["data"]["name"]) == (True, "Acme Corp")
    seen = policy(other)
    assert (seen["data"]["record_call"], seen["data"]["name"]) == (True, "Acme Corp")
    assert seen["revision"] == changed["revision"] and seen["revision"].startswith("2-")
