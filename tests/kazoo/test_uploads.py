"""A finished Kazoo recording with a `url` goes there by PUT or POST, with Kazoo's file name
and query parameters, through the durable outbox (a real local HTTP receiver)."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import yaml
from api.receiver import Receiver
from daemon.conftest import DaemonFactory, killed_after, process_config
from media.proxy import Relay

from esl_recorder.delivery.uploads import KIND as URL_UPLOAD
from esl_recorder.domain.recording import State
from esl_recorder.testing.fakeswitch import FakeSwitch

from .conftest import ACCOUNTS, ACME_ID, FAST_RETRIES, Kazoo


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def policy(url: str, **more: object) -> dict[str, object]:
    return {"accounts": {"acme": {"record_call": {"format": "wav", "url": url, **more}}}}


KAZOO_FIELDS = ["from", "to", "caller_id_name", "caller_id_number", "call_id", "cdr_id",
                "interaction_id", "owner_id", "account_id", "start", "duration_ms",
                "recording_id"]  # kzc_recording.erl handler_fields_for_protocol, in order


def test_put_to_the_url_with_kazoos_name_and_query(make_kazoo, receiver: Receiver) -> None:
    kazoo = make_kazoo(policy(receiver.url("/store/")))
    call = kazoo.call(caller_number="+15551230000", user="alice",
                      caller_id_name="Ann O'Brien & Co/Sales",
                      **{"ecallmgr_Call-Interaction-ID": "63741914152-5813c485"})
    rec, = kazoo.finish(call)
    got, = receiver.wait(1)
    assert got.method == "PUT"
    assert got.path == f"/store/call_recording_{call}.wav"
    assert [kv.split("=")[0] for kv in got.query.split("&")] == KAZOO_FIELDS
    assert "caller_id_name=Ann%20O%27Brien%20%26%20Co%2FSales&" in got.query  # URL-encoded
    query = parse_qs(got.query, keep_blank_values=True)
    assert query["call_id"] == [call] and query["account_id"] == ["acme"]
    assert query["cdr_id"][0].endswith(f"-{call}") and len(query["cdr_id"][0]) == 7 + len(call)
    assert query["caller_id_name"] == ["Ann O'Brien & Co/Sales"]
    assert query["interaction_id"] == ["63741914152-5813c485"]
    assert query["owner_id"] == ["alice"] and query["recording_id"] == [rec.sid]
    assert rec.file is not None and query["duration_ms"] == [str(rec.file.duration_ms)]
    assert int(query["start"][0]) > 62167219200  # Gregorian seconds, as Kazoo counts
    doc = kazoo.request("GET", f"{ACME_ID}/recordings/{rec.sid}").json()["data"]
    assert doc["caller_id_name"] == "Ann O'Brien & Co/Sales"
    assert doc["interaction_id"] == "63741914152-5813c485"
    assert got.headers["Content-Type"] == "audio/x-wav"
    assert rec.file is not None and sha256(got.body) == rec.file.sha256
    assert sha256(kazoo.daemon.media(rec)) == rec.file.sha256  # kept: keep_local


@pytest.mark.parametrize(("suffix", "path", "query_start"), [
    ("?token=abc", "/up", "token=abc&recording=call_recording_"),
    ("?token=abc&file=", "/up", "token=abc&file=call_recording_"),
    ("?token=abc&file", "/up", "token=abc&file=call_recording_"),
])
def test_post_and_a_url_with_a_query(make_kazoo, receiver: Receiver, suffix: str, path: str,
                                     query_start: str) -> None:
    kazoo = make_kazoo(policy(receiver.url("/up") + suffix, method="post"), keep_local=False)
    call = kazoo.call()
    rec, = kazoo.finish(call)
    got, = receiver.wait(1)
    assert got.method == "POST" and got.path == path
    assert got.query.startswith(query_start + f"{call}.wav&from=")
    assert rec.file is not None and sha256(got.body) == rec.file.sha256
    kazoo.daemon.wait_until(lambda: not os.path.exists(rec.path), what="file removed")
    if kazoo.daemon.app.settings.media.backend == "s3":  # removed once in the bucket too
        assert sha256(kazoo.daemon.media(rec)) == rec.file.sha256


def test_without_url_the_file_stays_local(make_kazoo, receiver: Receiver) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"record_call": True},
                                     "globex": {"record_call": {"url": receiver.url()}}}})
    local = kazoo.call()
    uploaded = kazoo.call(account="globex")
    kazoo.finish(local)
    kazoo.finish(uploaded)
    got, = receiver.wait(1)
    assert got.path.endswith(f"call_recording_{uploaded}.wav")
    uploads = [i for i in kazoo.daemon.app.outbox.items() if i.kind == URL_UPLOAD]
    assert len(uploads) == 1  # nothing queued for the local one


def test_a_receiver_that_fails_then_recovers_gets_the_same_bytes(make_kazoo,
                                                                 receiver: Receiver) -> None:
    receiver.status = 503
    kazoo = make_kazoo(policy(receiver.url("/r/")))
    call = kazoo.call()
    rec, = kazoo.finish(call, seconds=3)
    prometheus = kazoo.daemon.app.prometheus
    kazoo.daemon.wait_until(lambda: (prometheus.get_sample_value(
        "esl_recorder_upload_attempts_total", {"result": "retry"}) or 0) >= 2,
        what="failed attempts")
    receiver.status = 200
    got, = receiver.wait(1, timeout=10)
    assert rec.file is not None and sha256(got.body) == rec.file.sha256
    assert len(got.body) == rec.file.size


def test_a_refused_upload_is_dead_and_listed(make_kazoo, receiver: Receiver) -> None:
    receiver.status = 403  # "never": given up at once
    kazoo = make_kazoo(policy(receiver.url("/r/")))
    rec, = kazoo.finish(kazoo.call())
    dead = kazoo.daemon.wait_until(lambda: kazoo.daemon.app.outbox.dead(), what="dead item")
    assert dead[0].kind == "url-upload" and dead[0].key == f"upload:{rec.sid}"
    assert "HTTP 403" in (dead[0].last_error or "")
    assert not kazoo.daemon.app.prometheus.get_sample_value(  # sent, and answered 403
        "esl_recorder_delivery_targets_refused_total", {"kind": URL_UPLOAD})
    # never removed without a confirmed upload (with media in S3: its upload there)
    assert rec.file is not None and sha256(kazoo.daemon.media(rec)) == rec.file.sha256


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_kill_9_mid_upload_still_delivers_after_restart(
        switch: FakeSwitch, tmp_path: Path, receiver: Receiver,
        daemon_factory: DaemonFactory, store_section: dict[str, Any],
        media_section: dict[str, Any]) -> None:
    relay = Relay(("127.0.0.1", receiver.port), free_port())
    policies = tmp_path / "policies.yaml"
    policies.write_text(yaml.safe_dump(policy(relay.url + "/k9/")))
    kazoo = {"policy_file": str(policies), "default_format": "wav"}
    config = process_config(tmp_path, switch, store=store_section, media=media_section,
                            accounts=ACCOUNTS, kazoo=kazoo,
                            delivery={**FAST_RETRIES, "allowed_networks": ["127.0.0.0/8"]})
    relay.hold()  # the upload reaches the relay and goes no further
    relay.start()
    proc = subprocess.Popen([sys.executable, "-m", "esl_recorder", "run", "-c", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with killed_after(proc):
        switch.wait_for_command("show channels", timeout=20)  # attached: its resync
        call = switch.inbound_call("tone_a", {"esl_recorder_account_id": "acme"},
                                   answered=True)
        switch.wait_for_command(lambda c: c.startswith("uuid_record") and call in c,
                                timeout=20)
        switch.advance(2.0)
        switch.hangup(call)
        relay.wait_for(f"PUT /k9/call_recording_{call}.wav".encode(), timeout=20)
    assert proc.returncode == -signal.SIGKILL and not receiver.received
    relay.release()
    daemon = daemon_factory(accounts=ACCOUNTS, kazoo=kazoo, delivery=FAST_RETRIES)
    rec, = daemon.app.store.list_recordings(account="acme")
    rec = daemon.wait_state(rec.sid, State.COMPLETED)
    got = receiver.wait(1, timeout=20)[-1]
    assert rec.file is not None and sha256(got.body) == rec.file.sha256
    relay.stop()


def test_an_upload_target_deliveries_may_not_reach_is_never_contacted(
        switch: FakeSwitch, tmp_path: Path, receiver: Receiver,
        daemon_factory: DaemonFactory) -> None:
    """A policy's upload url on loopback, with loopback not in delivery.allowed_networks: the
    upload goes dead with the reason, and the receiver never hears of it (issue 13 item 1)."""
    policies = tmp_path / "policies.yaml"
    policies.write_text(yaml.safe_dump(policy(receiver.url("/r/"))))
    daemon = daemon_factory(accounts=ACCOUNTS, kazoo={"default_format": "wav",
                                                      "policy_file": str(policies)},
                            delivery={**FAST_RETRIES, "allowed_networks": []})
    assert daemon.app.clients["fs1"].wait_connected(5) and daemon.app.http is not None
    with requests.Session() as http:
        kazoo = Kazoo(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http,
                      policies)
        (rec,) = kazoo.finish(kazoo.call())
    dead = daemon.wait_until(lambda: daemon.app.outbox.dead(), what="the upload given up")
    assert [d.kind for d in dead] == [URL_UPLOAD]
    assert "target refused: address 127.0.0.1 is not public" in (dead[0].last_error or "")
    assert dead[0].attempts == 1 and receiver.received == []
    assert daemon.app.prometheus.get_sample_value(
        "esl_recorder_delivery_targets_refused_total", {"kind": URL_UPLOAD}) == 1
    assert rec.state is State.COMPLETED and rec.file is not None
    assert sha256(daemon.media(rec)) == rec.file.sha256  # kept: never removed unsent
