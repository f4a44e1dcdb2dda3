"""The multi-node test: three daemons (processes, `python -m esl_recorder run`) over one
PostgreSQL (the session's), two FreeSWITCH nodes (simulators; with ESL_RECORDER_FS set, fs2
is that live FreeSWITCH), media in one SeaweedFS (media.backend s3).

Recordings through LaML, TeXML, the Calling API and Bandwidth Catapult on both nodes; fs1's
owner stopped mid-recording, fs1's calls ended meanwhile, then the owner killed (kill -9):
the heir finishes and uploads those files; that daemon restarted; PostgreSQL stopped and
started again on its port mid-run while calls end; more recordings after it. At the end:
every recording completed, each one's object in the bucket with the sha256 the daemon
stored, every callback delivered, none twice unless the killed daemon was sending it (then
the same request again, with the same Idempotency-Key; every other callback has its own),
and fs1 taken over within store.takeover_time.

The short version runs in CI; `ESL_RECORDER_SCALE_LONG=1 pytest tests/scale/test_nodes.py`
runs the long one (more calls per dialect, node and round)."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid as uuid_module
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gevent
import pytest
import yaml
from api.conftest import ACCOUNTS, ACME_BW, ACME_LAML, ACME_TEXML, basic
from api.receiver import Received, Receiver
from integration.conftest import FS_ENV, parse_fs_address
from integration.live import ACCOUNT_VARIABLE, Esl, eventually, free_port
from media.conftest import Bucket, object_key
from postgres_server import ThrowawayPostgres
from store_backends import s3_media_settings

from esl_recorder.domain.recording import Recording
from esl_recorder.settings import StoreSettings
from esl_recorder.store.opener import open_store
from esl_recorder.testing.fakeswitch import FakeSwitch
from esl_recorder.testing.seaweed import Seaweed

from .cluster import Daemon

LONG = os.environ.get("ESL_RECORDER_SCALE_LONG", "") not in ("", "0")
CALLS = 3 if LONG else 1  # calls per dialect, node and round
TAKEOVER = 3.0  # store.takeover_time of the daemons here
LEASE = 10.0  # delivery.lease: longer than the PostgreSQL outage (no claim lapses in it)
LAML = f"/api/laml/2010-04-01/Accounts/{ACME_LAML[0]}"
TEXML = f"/v2/texml/Accounts/{ACME_TEXML[0]}"
BW = f"/v1/users/{ACME_BW[0]}"
CALLING = "/api/calling/calls"
AUTH = {"laml": {"Authorization": basic(*ACME_LAML)},
        "texml": {"Authorization": f"Bearer {ACME_TEXML[1]}"},
        "bandwidth": {"Authorization": basic(ACME_BW[1], ACME_BW[2])},
        "calling": {"Authorization": basic(*ACME_LAML)}}
PREFIX = {"laml": LAML, "texml": TEXML}
AUDIO = 2.0  # seconds of audio the last recordings get before their calls end
FINAL = {"completed", "absent", "failed", "deleted"}


class Node(Protocol):
    """A FreeSWITCH node as the test drives it (not through the daemons)."""

    name: str
    host: str
    port: int
    password: str

    def inbound(self) -> str:
        """An answered call of account acme that sends audio; its uuid."""

    def hangup(self, uuid: str) -> None: ...

    def close(self) -> None: ...


class SimNode:
    password = "ClueCon"

    def __init__(self, name: str) -> None:
        self.name = name
        self.sim = FakeSwitch().start()
        self.host, self.port = self.sim.address

    def inbound(self) -> str:
        return self.sim.inbound_call("tone_a", {ACCOUNT_VARIABLE: "acme"}, answered=True)

    def hangup(self, uuid: str) -> None:
        self.sim.hangup(uuid)

    def close(self) -> None:
        self.sim.stop()


class LiveNode:
    def __init__(self, name: str, address: str) -> None:
        fs = parse_fs_address(address)
        self.name, self.host, self.port, self.password = name, fs.host, fs.port, fs.password
        self.recordings = Path(fs.recordings)
        self.esl = Esl(fs)

    def inbound(self) -> str:
        return self.esl.call("tone_a")

    def hangup(self, uuid: str) -> None:
        if self.esl.exists(uuid):
            self.esl.hangup(uuid)

    def close(self) -> None:
        self.esl.close()


@dataclass
class Cluster:
    nodes: dict[str, Node]
    daemons: list[Daemon]
    url: str  # the store
    server: ThrowawayPostgres
    requests: int = 0
    forwarded: int = 0  # requests sent to a daemon that does not own the call's node

    def owner(self, node: str) -> Daemon | None:
        owners = [d for d in self.daemons if d.alive and node in d.owned()]
        assert len(owners) <= 1, f"{node} owned by {[d.name for d in owners]}"
        return owners[0] if owners else None

    def owners(self, timeout: float = 10.0) -> dict[str, Daemon]:
        return {n: eventually(lambda n=n: self.owner(n), timeout, f"an owner of {n}")
                for n in self.nodes}

    def route(self, node: str) -> Daemon:
        """The daemon a request about a call on `node` goes to: the running daemons in
        turn, owner or not (one that does not own the node hands the request to its owner
        through the database), once the node has an owner."""
        owner = eventually(lambda: self.owner(node), 10, f"an owner of {node}")
        running = [d for d in self.daemons if d.alive]
        self.requests += 1
        chosen = running[self.requests % len(running)]
        self.forwarded += chosen is not owner
        return chosen

    def recordings(self) -> list[Recording]:
        store = open_store(StoreSettings(url=self.url))
        try:
            return store.list_recordings(limit=1000)
        finally:
            store.close()


def make_nodes() -> dict[str, Node]:
    live = os.environ.get(FS_ENV)
    fs1: Node = SimNode("fs1")
    try:
        fs2: Node = LiveNode("fs2", live) if live else SimNode("fs2")
    except BaseException:
        fs1.close()
        raise
    return {"fs1": fs1, "fs2": fs2}


def daemon_settings(nodes: dict[str, Node], root: Path, url: str, port: int,
                    s3: str) -> dict[str, Any]:
    return {
        "nodes": [{"name": n.name, "host": n.host, "port": n.port, "password": n.password}
                  for n in nodes.values()],
        "recording": {"root": str(root)},  # one shared volume
        "store": {"url": url, "several_daemons": True, "takeover_time": TAKEOVER},
        "http": {"host": "127.0.0.1", "port": port},
        "esl": {"connect_timeout": 2, "command_timeout": 3,
                "reconnect_initial_delay": 0.05, "reconnect_max_delay": 0.3},
        "delivery": {"initial_delay": 0.05, "max_delay": 0.2, "lease": LEASE,
                     "allowed_networks": ["127.0.0.0/8"]},
        "accounts": ACCOUNTS,
        "media": s3_media_settings(s3),
        "bandwidth": {"dial_string": "loopback/{to}/rectest", "application": "&echo()",
                      "transfer_context": "rectest"},
    }


@pytest.fixture
def cluster(postgres_server: ThrowawayPostgres, seaweed: Seaweed,
            tmp_path: Path) -> Iterator[Cluster]:
    nodes = make_nodes()
    live = next((n for n in nodes.values() if isinstance(n, LiveNode)), None)
    # the live FreeSWITCH writes into its own recordings directory: the shared volume
    root = (live.recordings if live else tmp_path) / f"scale-{uuid_module.uuid4().hex[:8]}"
    url = postgres_server.new_database()
    daemons = []
    for i in range(3):
        port = free_port()
        config = tmp_path / f"d{i}.yaml"
        config.write_text(yaml.safe_dump(daemon_settings(nodes, root, url, port,
                                                         seaweed.endpoint)))
        daemons.append(Daemon(f"d{i}", config, tmp_path / f"d{i}.log", port))
    c = Cluster(nodes, daemons, url, postgres_server)
    try:
        yield c
    finally:
        for d in daemons:
            d.stop()
        for n in nodes.values():
            n.close()


# the scenario's steps ---------------------------------------------------------------------------
@dataclass
class Run:
    """What the test started, to check at the end."""

    cluster: Cluster
    receiver: Receiver
    calls: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # by node
    sids: dict[str, str] = field(default_factory=dict)  # LaML/TeXML sid -> its node
    bandwidth: list[str] = field(default_factory=list)  # Bandwidth call ids
    calling: list[str] = field(default_factory=list)  # calls recorded through the Calling API
    before_kill: int = 0  # callbacks received before the kill

    def record_rest(self, node: str, dialect: str) -> None:
        """A call on `node` and a LaML or TeXML recording of it, asked of route(node)."""
        call = self.cluster.nodes[node].inbound()
        self.calls[node].append(call)
        daemon = self.cluster.route(node)

        def attempt() -> str | None:
            r = daemon.http.post(
                f"{daemon.url}{PREFIX[dialect]}/Calls/{call}/Recordings.json",
                headers=AUTH[dialect], timeout=10, data={
                    "RecordingStatusCallback": self.receiver.url(f"/{dialect}"),
                    "RecordingStatusCallbackEvent": "in-progress completed"})
            if r.status_code == 404:  # its events have not reached the owner yet
                return None
            assert r.status_code in (200, 201), r.text
            sid: str = r.json()["sid"]
            return sid

        self.sids[eventually(attempt, 10, f"{daemon.name} to record {call}")] = node

    def record_calling(self, node: str) -> None:
        """A call on `node` and a Calling API recording of it (its control_id: the
        recording sid), asked of route(node)."""
        call = self.cluster.nodes[node].inbound()
        self.calls[node].append(call)
        daemon = self.cluster.route(node)

        def attempt() -> bool:
            r = daemon.http.post(f"{daemon.url}{CALLING}", headers=AUTH["calling"], timeout=10,
                                 json={"command": "calling.record", "id": call, "params": {
                                     "audio": {}, "status_url": self.receiver.url("/calling")}})
            if r.status_code == 404:  # its events have not reached the owner yet
                return False
            assert r.status_code == 200, r.text
            return True

        eventually(attempt, 10, f"{daemon.name} to record {call}")
        self.calling.append(call)

    def record_bandwidth(self, node: str) -> None:
        """A Bandwidth call placed with recording on, asked of route(node): it goes out on
        a node that daemon owns (`node` or another)."""
        daemon = self.cluster.route(node)
        r = daemon.http.post(f"{daemon.url}{BW}/calls", headers=AUTH["bandwidth"], timeout=10,
                             json={"from": "+15551230001", "to": "tone_b",
                                   "recordingEnabled": True,
                                   "callbackUrl": self.receiver.url("/bandwidth")})
        assert r.status_code == 201, r.text
        call = r.headers["Location"].rsplit("/", 1)[1]
        self.bandwidth.append(call)
        placed = eventually(lambda: self.call_node(call), 10, f"call {call} in the store")
        self.calls[placed].append(call)

    def call_node(self, call: str) -> str | None:
        recs = [r for r in self.cluster.recordings() if r.call_uuid == call]
        return recs[0].node if recs else None

    def round(self) -> None:
        for _ in range(CALLS):
            for node in self.cluster.nodes:
                self.record_rest(node, "laml")
                self.record_rest(node, "texml")
                self.record_calling(node)
                self.record_bandwidth(node)

    def all_recording(self) -> None:
        def recording() -> bool:
            recs = self.cluster.recordings()
            return len(recs) == self.started() and all(
                r.state.value == "in-progress" for r in recs if r.state.value not in FINAL)
        eventually(recording, 20, "every recording started")
        started = lambda: {r.form.get("RecordingSid") for r in self.receiver.received  # noqa: E731
                           if r.form.get("RecordingStatus") == "in-progress"}
        eventually(lambda: set(self.sids) <= started(), 20, "every in-progress callback")

    def started(self) -> int:
        """How many recordings the test started."""
        return len(self.sids) + len(self.calling) + len(self.bandwidth)

    def hang_up(self, node: str) -> None:
        calls, self.calls[node] = self.calls[node], []
        for call in calls:
            self.cluster.nodes[node].hangup(call)


def test_three_daemons_two_nodes_an_owner_killed_a_daemon_restarted_postgres_restarted(
        cluster: Cluster, seaweed: Seaweed) -> None:
    receiver = Receiver().start()
    try:
        run = Run(cluster, receiver)
        scenario(run)
        check_media(cluster, Bucket(seaweed.endpoint))
        check_callbacks(run)
    finally:
        receiver.stop()


def scenario(run: Run) -> None:
    cluster = run.cluster
    for d in cluster.daemons:
        d.start()
    owners = cluster.owners()
    run.round()
    run.all_recording()

    victim = owners["fs1"]  # mid-recording: its calls still record on the node
    gevent.sleep(AUDIO)  # not a wait for a state: fs1's recordings need audio (else absent)
    run.before_kill = len(run.receiver.received)
    victim.signal(signal.SIGSTOP)  # down, still holding fs1's lock: nobody follows fs1 now
    run.hang_up("fs1")  # these files are finished while their owner is down: by the heir
    victim.kill9()
    killed_at = time.monotonic()
    heir = eventually(lambda: cluster.owner("fs1"), 3 * TAKEOVER, "fs1 taken over")
    took = time.monotonic() - killed_at
    assert heir is not victim
    print(f"fs1 taken over {took:.2f} s after the kill (takeover_time {TAKEOVER:g} s)")
    assert took <= TAKEOVER + 1.0, f"takeover took {took:.1f} s"  # + /readyz polling
    metrics = heir.http.get(heir.url + "/metrics", timeout=5).text
    assert 'esl_recorder_node_owned{node="fs1"} 1.0' in metrics
    victim.start()  # restarted: it owns nothing until an owner dies, and serves the API

    restart_postgres(run)
    run.round()  # after the restart, on both nodes again
    run.all_recording()
    gevent.sleep(AUDIO)  # not a wait for a state: the recordings need audio (else absent)
    for node in cluster.nodes:
        run.hang_up(node)
    total = run.started()
    eventually(lambda: sum(r.state.value in FINAL for r in cluster.recordings()) == total, 30,
               "every recording final")
    store = open_store(StoreSettings(url=cluster.url))
    try:
        eventually(lambda: store.outbox_count("pending") == 0, 3 * LEASE,
                   "every callback and upload delivered")
        assert Counter(i.state for i in store.outbox_items(limit=10_000)) == Counter(
            {"delivered": len(store.outbox_items(limit=10_000))})
    finally:
        store.close()
    recs = cluster.recordings()
    assert {r.state.value for r in recs} == {"completed"}, [
        (r.sid, r.node, r.source, r.state, r.stop_reason, r.cause, r.error, r.file, r.meta)
        for r in recs if r.state.value != "completed"]
    assert {r.node for r in recs} == set(cluster.nodes)
    assert 0 < cluster.forwarded < cluster.requests  # owners and other daemons both asked


def restart_postgres(run: Run) -> None:
    """Stop the server while calls on fs2 end, start it again on the same port and
    directory; the daemons find it again by themselves."""
    cluster = run.cluster
    cluster.server.stop("fast")
    stopped = time.monotonic()
    try:
        run.hang_up("fs2")
        eventually(lambda: not any(cluster.owner(n) for n in cluster.nodes), 3 * TAKEOVER,
                   "every daemon to give its nodes up (their locks are gone)")
        released = time.monotonic() - stopped
    finally:
        cluster.server.restart_on_same_port()
    back = time.monotonic()
    cluster.owners(3 * TAKEOVER)
    owned = time.monotonic() - back
    eventually(lambda: all((d.readyz() or {}).get("store", {}).get("writable")
                           for d in cluster.daemons), 15, "every daemon writing again")
    print(f"PostgreSQL stopped: no node owned after {released:.2f} s; started again: both "
          f"owned after {owned:.2f} s, every daemon writing after {time.monotonic() - back:.2f} s")


def check_media(cluster: Cluster, bucket: Bucket) -> None:
    """Every recording's object is the file the daemon hashed; no local copy kept."""
    for rec in cluster.recordings():
        assert rec.file is not None, rec.sid
        assert bucket.sha256(object_key("acme", rec.sid)) == rec.file.sha256, rec.sid
        assert not Path(rec.path).exists(), rec.path  # media.keep_local false


def check_callbacks(run: Run) -> None:
    got: dict[tuple[str, str], list[int]] = defaultdict(list)  # (sid|recordingId, status)
    for i, r in enumerate(run.receiver.received):
        got[event_of(r)].append(i)
    for sid in run.sids:
        for status in ("in-progress", "completed"):
            assert got.get((sid, status)), f"no {status} callback for {sid}"
    recorded = {event[0] for event in got if event[1] == "recording complete"}
    for rec in run.cluster.recordings():
        if rec.call_uuid in run.bandwidth:
            assert "rec-" + rec.sid[2:] in recorded, f"no recording event for {rec.sid}"
        if rec.call_uuid in run.calling:
            for state in ("recording", "finished"):
                assert got.get((rec.sid, f"calling {state}")), f"no {state} event for {rec.sid}"
    assert sum(rec.call_uuid in run.calling for rec in run.cluster.recordings()) == len(
        run.calling)
    for event, seen in got.items():
        if len(seen) > 1:  # only what the killed daemon may have been sending, sent again
            copies = {(run.receiver.received[i].body,
                       run.receiver.received[i].headers.get("Idempotency-Key")) for i in seen}
            assert len(copies) == 1 and seen[0] < run.before_kill, (event, len(seen))
    events_of_key: dict[str | None, set[tuple[str, str]]] = defaultdict(set)
    for r in run.receiver.received:
        events_of_key[r.headers.get("Idempotency-Key")].add(event_of(r))
    assert None not in events_of_key  # every callback has a key, one key per callback
    assert len(events_of_key) == len(got) and all(len(e) == 1 for e in events_of_key.values())


def event_of(r: Received) -> tuple[str, str]:
    """What one callback reports: (recording sid or Bandwidth id, status)."""
    if r.path == "/bandwidth":
        doc = json.loads(r.body)
        if doc["eventType"] == "recording":
            return doc["recordingId"], f"recording {doc['status']}"
        return doc["callId"], doc["eventType"]
    if r.path == "/calling":  # calling.call.record
        params = json.loads(r.body)["params"]
        return params["control_id"], f"calling {params['state']}"
    return r.form.get("RecordingSid", ""), r.form.get("RecordingStatus", "")
