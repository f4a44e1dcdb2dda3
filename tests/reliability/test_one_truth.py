"""Finding 6 of issue 13: an answer that is an error leaves no recording behind it, and no
recording stays queued or running for ever."""

from __future__ import annotations

import gevent
import requests
from api.compat_helpers import LAML, LAML_AUTH, TEXML, TEXML_AUTH, start_commands
from api.conftest import ACCOUNTS, Api
from api.receiver import Receiver
from daemon.conftest import DaemonFactory

from esl_recorder.domain.options import RecordOptions
from esl_recorder.domain.recording import State, StopReason
from esl_recorder.testing.fakeswitch import FakeSwitch
from esl_recorder.testing.fakeswitch.server import HeldCommand


def create_as_the_link_drops(api: Api, uuid: str,
                             lock_out: bool = False) -> tuple[HeldCommand, requests.Response]:
    """A LaML create whose `uuid_record start` is on the wire (held, not yet run) when the
    ESL connection drops; with `lock_out` the daemon cannot reconnect until the switch's
    password is set back."""
    held = api.switch.hold_commands(f"uuid_record {uuid} start")
    create = gevent.spawn(api.request, "POST", f"{LAML}/Calls/{uuid}/Recordings.json",
                          headers=LAML_AUTH)
    api.switch.wait_for_command(f"uuid_record {uuid} start")
    if lock_out:
        api.switch.password = "locked-out"
    api.switch.drop_connections()
    return held, create.get(timeout=10)


def test_a_create_refused_while_freeswitch_is_unreachable_leaves_nothing(api: Api) -> None:
    laml_call, texml_call = api.call(), api.call()
    api.switch.stop()
    client = api.daemon.app.clients["fs1"]
    api.daemon.wait_until(lambda: not client.connected, what="FreeSWITCH gone")
    for path, auth in ((f"{LAML}/Calls/{laml_call}/Recordings.json", LAML_AUTH),
                       (f"{TEXML}/Calls/{texml_call}/Recordings.json", TEXML_AUTH)):
        r = api.request("POST", path, headers=auth)
        assert r.status_code == 503, r.text
    assert api.daemon.service.list("acme") == []
    api.switch.start()
    assert client.wait_connected(5)
    # after the reconnect's resync too: nothing was created, so nothing is listed absent
    listed = api.request("GET", f"{LAML}/Recordings.json", headers=LAML_AUTH).json()
    assert listed["recordings"] == []
    r = api.request("POST", f"{LAML}/Calls/{laml_call}/Recordings.json", headers=LAML_AUTH)
    assert r.status_code == 200, r.text
    assert [rec.sid for rec in api.daemon.service.list("acme")] == [r.json()["sid"]]


def test_a_create_whose_call_hangs_up_before_its_command_runs_answers_call_gone(
        api: Api) -> None:
    """The call's hangup reaches the daemon while `uuid_record start` waits on FreeSWITCH
    (it was on the wire before the command was read): the command's answer decides, not the
    hangup. FreeSWITCH finds no session, so the recording failed (the call was gone before
    it could start) and the create answers 404 for the call, as for a call gone before it;
    the store says failed, and no error about a refused transition reaches the caller."""
    uuid = api.call()
    held = api.switch.hold_commands(f"uuid_record {uuid} start")
    create = gevent.spawn(api.request, "POST", f"{LAML}/Calls/{uuid}/Recordings.json",
                          headers=LAML_AUTH)
    api.switch.wait_for_command(f"uuid_record {uuid} start")
    [rec] = api.daemon.service.list("acme", call_uuid=uuid)
    api.switch.hangup(uuid)
    api.daemon.wait_until(lambda: (c := api.daemon.app.tracker.get(uuid)) is None or c.hungup,
                          what="the hangup seen by the daemon")
    assert api.daemon.service.get(rec.sid).state is State.QUEUED  # its command is out
    held.release()
    r = create.get(timeout=10)
    assert r.status_code == 404, r.text
    again = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH)
    assert r.json() == again.json()  # the answer for a call already gone
    failed = api.daemon.wait_state(rec.sid, State.FAILED)
    assert failed.stop_reason is StopReason.ERROR and "gone" in (failed.error or ""), failed
    assert api.daemon.app.store.get_recording(rec.sid).state is State.FAILED


def test_a_stop_that_finds_the_call_gone_answers_stopped_as_the_store_says(api: Api) -> None:
    """The call hangs up as its recording is stopped: `uuid_record stop` finds no session,
    and FreeSWITCH fires RECORD_STOP later, when the channel's media bug closes. The stop
    answered `in-progress` before (seen on a live FreeSWITCH: 4 of 107 stops racing a
    hangup), which told the caller its stop had not taken; it answers `stopped`, the store
    says so, and the recording completes when the event comes."""
    uuid = api.call()
    created = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH)
    sid = created.json()["sid"]
    api.switch.advance(1.0)
    release_record_stop = api.switch.hold_events("RECORD_STOP")
    api.switch.hangup(uuid)
    api.daemon.wait_until(lambda: (c := api.daemon.app.tracker.get(uuid)) is None or c.hungup,
                          what="the hangup seen by the daemon")
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings/{sid}.json", headers=LAML_AUTH,
                    data={"Status": "stopped"})
    assert r.status_code == 200 and r.json()["status"] == "stopped", r.text
    assert api.daemon.app.store.get_recording(sid).state is State.STOPPED
    release_record_stop()
    done = api.daemon.wait_state(sid, State.COMPLETED)
    assert done.file is not None and done.file.duration_ms >= 1000


def test_a_create_whose_link_drops_while_its_command_is_out_keeps_its_recording(
        api: Api) -> None:
    """The ESL connection drops after `uuid_record start` was written, before FreeSWITCH
    answered: FreeSWITCH may have run it (here it does). The create's 503 names the
    recording it made, which stays queued until the reconnect finds it recording, and is
    then followed to the end. It was thrown away before, as if the command had never left,
    while FreeSWITCH went on writing a file nobody would report."""
    uuid = api.call()
    client = api.daemon.app.clients["fs1"]
    held, r = create_as_the_link_drops(api, uuid)
    assert r.status_code == 503, r.text
    [rec] = api.daemon.service.list("acme", call_uuid=uuid)
    assert rec.sid in r.json()["message"] and rec.state is State.QUEUED, r.text
    held.release()  # FreeSWITCH runs it: it records the call
    assert client.wait_connected(5)
    api.daemon.wait_state(rec.sid, State.IN_PROGRESS)  # found recording by the reconcile
    api.switch.advance(1.0)
    api.daemon.service.stop(rec.sid)
    done = api.daemon.wait_state(rec.sid, State.COMPLETED)
    assert done.file is not None and done.file.duration_ms >= 1000


def test_a_stop_while_the_start_is_unanswered_is_kept_until_freeswitch_is_back(
        api: Api) -> None:
    """The link drops while `uuid_record start` is out, and FreeSWITCH runs it; a stop asked
    before the reconnect marked the queued recording absent (200) while FreeSWITCH went on
    recording it (seen on the live server: a Bandwidth toggle during an ESL cut). The stop
    is answered 503 naming the recording, kept, and carried out by the reconnect: the
    recording completes, stopped as asked."""
    uuid = api.call()
    client = api.daemon.app.clients["fs1"]
    held, created = create_as_the_link_drops(api, uuid, lock_out=True)  # out till the stop
    assert created.status_code == 503, created.text
    [rec] = api.daemon.service.list("acme", call_uuid=uuid)
    held.release()  # FreeSWITCH runs it: it records the call
    api.switch.advance(1.0)
    r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings/{rec.sid}.json",
                    headers=LAML_AUTH, data={"Status": "stopped"})
    assert r.status_code == 503 and rec.sid in r.json()["message"], r.text
    assert api.daemon.app.store.get_recording(rec.sid).state is State.QUEUED
    api.switch.password = "ClueCon"
    assert client.wait_connected(5)
    done = api.daemon.wait_state(rec.sid, State.COMPLETED, State.ABSENT, State.FAILED)
    assert done.state is State.COMPLETED and done.stop_reason is StopReason.REQUESTED, done
    assert done.file is not None and done.file.duration_ms >= 1000


def test_a_recording_never_stays_queued_past_the_configured_time(
        daemon_factory: DaemonFactory, switch: FakeSwitch, receiver: Receiver) -> None:
    daemon = daemon_factory(accounts=ACCOUNTS, recording={"unfinished_timeout": 0.3},
                            delivery={"initial_delay": 0.05, "max_delay": 0.2})
    assert daemon.app.clients["fs1"].wait_connected(5) and daemon.app.http is not None
    with requests.Session() as http:
        api = Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)
        uuid = api.call(answered=False)  # waits for an answer that never comes
        r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH,
                        data={"RecordingStatusCallback": receiver.url(),
                              "RecordingStatusCallbackEvent": "absent"})
        assert (r.status_code, r.json()["status"]) == (200, "queued"), r.text
        rec = daemon.wait_state(r.json()["sid"], State.FAILED)
        assert rec.error is not None and rec.error.startswith("not started within")
        (got,) = receiver.wait(1)
        assert got.form["RecordingStatus"] == "absent"
        assert start_commands(switch, uuid) == []


def test_a_create_timed_out_on_a_silent_freeswitch_names_its_recording_and_settles(
        daemon_factory: DaemonFactory, switch: FakeSwitch) -> None:
    """A FreeSWITCH that keeps TCP open and stops answering: the create's 503 names the
    recording it made (the command may have run), and that recording does not stay queued:
    once the node answers again it is followed like any other and ends completed."""
    daemon = daemon_factory(accounts=ACCOUNTS, esl={
        "command_timeout": 0.5, "liveness_timeout": 1.0, "reconnect_initial_delay": 0.05,
        "reconnect_max_delay": 0.3})
    client = daemon.app.clients["fs1"]
    assert client.wait_connected(5) and daemon.app.http is not None
    with requests.Session() as http:
        api = Api(daemon, switch, f"http://127.0.0.1:{daemon.app.http.server_port}", http)
        uuid = api.call()
        switch.go_silent()
        r = api.request("POST", f"{LAML}/Calls/{uuid}/Recordings.json", headers=LAML_AUTH)
        assert r.status_code == 503, r.text
        [rec] = daemon.service.list("acme", call_uuid=uuid)
        assert rec.sid in r.json()["message"], r.text
        daemon.wait_until(lambda: not client.connected, what="the silent node declared dead")
        switch.speak_again()
        assert client.wait_connected(5)
        rec = daemon.wait_until(
            lambda: (got := daemon.service.get(rec.sid)).state is not State.QUEUED and got,
            what="the recording no longer queued")
        assert rec.state is State.IN_PROGRESS, rec  # the held command ran: found at resync
        switch.advance(1.0)
        daemon.service.stop(rec.sid)
        assert daemon.wait_state(rec.sid, State.COMPLETED).file is not None


def test_a_recording_on_a_node_that_never_comes_back_ends_after_its_length_limit(
        daemon_factory: DaemonFactory, switch: FakeSwitch) -> None:
    """While its node is away a running recording waits for the reconnect's reconcile; once
    the node has been away past the recording's length limit (and the unfinished timeout)
    FreeSWITCH cannot be recording it any more: it is finished from what is on disk."""
    daemon = daemon_factory(recording={"unfinished_timeout": 0.3})
    client = daemon.app.clients["fs1"]
    assert client.wait_connected(5)
    uuid = switch.originate("loopback/tone_b/rectest", "tone_a")
    daemon.wait_call(uuid)
    rec = daemon.service.start(uuid, RecordOptions(max_length_s=1))
    assert rec.state is State.IN_PROGRESS
    switch.crash(restart=False)  # gone for good, its call and recording with it
    daemon.wait_until(lambda: not client.connected, what="FreeSWITCH gone")
    rec = daemon.wait_state(rec.sid, State.COMPLETED, State.ABSENT, State.FAILED)
    assert rec.stop_reason is StopReason.LOST
    assert rec.ended_at is not None and rec.started_at is not None
    assert rec.ended_at - rec.started_at >= 1.0 + 0.3
