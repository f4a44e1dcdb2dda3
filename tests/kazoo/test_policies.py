"""Policies at the account, user and device level record matching calls with no request."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from api.receiver import Receiver

from esl_recorder.domain.recording import State
from esl_recorder.errors import ConfigError
from esl_recorder.store.opener import open_store

from .conftest import ACCOUNT_VAR, ACME_ID, ACME_TOKEN

ON = {"enabled": True}


def test_account_record_call_records_its_calls_only(make_kazoo) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"record_call": True}}})
    other = kazoo.call(account="globex")
    mine = kazoo.call(account="acme")
    rec, = kazoo.recordings_of(mine)
    assert rec.source == "kazoo" and rec.account == "acme"
    assert rec.options.channels == 2  # Kazoo records stereo by default
    assert rec.options.max_length_s == 3600  # Kazoo's default time limit
    assert rec.meta["origin"] == "record_call account"
    done, = kazoo.finish(mine)
    assert done.state is State.COMPLETED and len(kazoo.daemon.media(done)) > 44
    assert kazoo.no_recording(other)


def test_user_policy_records_the_users_calls(make_kazoo) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"users": {"alice": {"record_call": True}}}}})
    bob = kazoo.call(user="bob")
    alice = kazoo.call(user="alice")
    rec, = kazoo.recordings_of(alice)
    assert rec.meta["level"] == "user" and rec.meta["owner_id"] == "alice"
    kazoo.finish(alice)
    assert kazoo.no_recording(bob)


def test_device_decides_over_its_user_even_when_it_disables(make_kazoo) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {
        "users": {"alice": {"record_call": {"format": "wav", "time_limit": 20000}}},
        "devices": {"desk-1": {"record_call": False},
                    "desk-2": {"call_recording": {"any": {"any": {**ON, "time_limit": 60}}}}},
    }}})
    silent = kazoo.call(user="alice", device="desk-1")
    device = kazoo.call(user="alice", device="desk-2")
    user = kazoo.call(user="alice", device="desk-3")  # a device with no policy: the user's
    assert kazoo.recordings_of(device)[0].options.max_length_s == 60
    by_user, = kazoo.recordings_of(user)
    assert by_user.meta["level"] == "user"
    assert by_user.options.max_length_s == 10800  # 20000 asked: clamped to Kazoo's 3 h
    kazoo.finish(device)
    kazoo.finish(user)
    assert kazoo.no_recording(silent)


def test_account_and_endpoint_record_twice_only_with_different_parameters(make_kazoo) -> None:
    kazoo = make_kazoo({"accounts": {
        "acme": {"record_call": True, "users": {"same": {"record_call": True},
                                                "other": {"record_call": {"time_limit": 60}}}},
    }})
    same = kazoo.call(user="same")
    other = kazoo.call(user="other")
    two = kazoo.recordings_of(other, 2)
    assert sorted(r.options.max_length_s for r in two) == [60, 3600]
    assert len({r.path for r in two}) == 2
    assert len(kazoo.finish(other)) == 2
    assert len(kazoo.finish(same)) == 1  # the same parameters twice: one recording


def test_direction_and_network_from_the_channel_variables(make_kazoo) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"call_recording": {"account": {
        "inbound": {"offnet": {**ON, "format": "wav"}}}}}}})
    onnet = kazoo.call(esl_recorder_direction="inbound", esl_recorder_network="onnet")
    unknown = kazoo.call()
    offnet = kazoo.call(esl_recorder_direction="inbound", esl_recorder_network="offnet")
    rec, = kazoo.recordings_of(offnet)
    assert rec.meta["origin"] == "inbound offnet account"
    kazoo.finish(offnet)
    assert kazoo.no_recording(onnet)
    assert kazoo.no_recording(unknown)


def test_disabled_entry_records_nothing(make_kazoo) -> None:
    """Kazoo records only when `enabled` is true in a call_recording entry."""
    kazoo = make_kazoo({"accounts": {"acme": {"call_recording": {"account": {
        "any": {"any": {"format": "wav"}}}}, "users": {"u": {"record_call": True}}}}})
    unset = kazoo.call()
    user = kazoo.call(user="u")
    kazoo.finish(user)
    assert kazoo.no_recording(unset)


def test_record_on_bridge_starts_at_the_bridge(make_kazoo) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"record_call": {"record_on_bridge": True}}}})
    a = kazoo.switch.originate("loopback/bridge_tone_b/rectest", "tone_a",
                               {"esl_recorder_account_id": "acme"})
    b = kazoo.switch.channel(a).peer.uuid
    rec, = kazoo.recordings_of(b)
    call = kazoo.daemon.app.tracker.get(b)
    assert call is not None and call.state.value == "bridged"
    kazoo.daemon.wait_state(rec.sid, State.IN_PROGRESS)
    assert not kazoo.daemon.service.for_call(a)  # the leg that never bridged is not recorded
    kazoo.switch.advance(1)
    kazoo.switch.hangup(a)
    kazoo.daemon.wait_state(rec.sid, State.COMPLETED)


def test_patch_takes_effect_for_the_next_call_and_survives_a_restart(make_kazoo) -> None:
    kazoo = make_kazoo()
    before = kazoo.call(user="carol")
    answer = kazoo.request("PATCH", f"{ACME_ID}/users/carol",
                           json={"data": {"record_call": True}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "success" and body["data"]["record_call"] is True
    assert body["data"]["id"] == "carol" and body["revision"].startswith("1-")
    assert body["request_id"]
    after = kazoo.call(user="carol")
    kazoo.finish(after)
    assert kazoo.no_recording(before)
    kazoo.daemon.stop()
    again = make_kazoo()
    call = again.call(user="carol")
    assert again.recordings_of(call)[0].meta["owner_id"] == "carol"
    got = again.request("GET", f"{ACME_ID}/users/carol").json()
    assert got["data"]["record_call"] is True and got["revision"].startswith("1-")


def test_patch_null_removes_a_key_declared_in_the_file(make_kazoo) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"record_call": True, "name": "Acme"}}})
    answer = kazoo.request("PATCH", ACME_ID, json={"data": {"record_call": None}})
    assert answer.status_code == 200, answer.text
    assert "record_call" not in answer.json()["data"]
    assert answer.json()["data"]["name"] == "Acme"
    off = kazoo.call()
    kazoo.request("PATCH", ACME_ID, json={"data": {"record_call": True}})
    on = kazoo.call()
    kazoo.finish(on)
    assert kazoo.no_recording(off)


@pytest.mark.parametrize(("data", "field"), [
    ({"record_call": "yes"}, "record_call"),
    ({"record_call": {"format": "ogg"}}, "record_call.format"),
    ({"record_call": {"time_limit": "long"}}, "record_call.time_limit"),
    ({"record_call": {"url": "ftp://x/"}}, "record_call.url"),
    ({"record_call": {"url": "http://10.1.2.3/rec/"}}, "record_call.url"),
    ({"call_recording": {"sideways": {}}}, "call_recording.sideways"),
    ({"call_recording": {"inbound": {"offnet": {"enabled": "on"}}}},
     "call_recording.inbound.offnet.enabled"),
    ({"record_call": {"record_sample_rate": 11025}}, "record_call.record_sample_rate"),
    ({"record_call": {"media_name": "../x"}}, "record_call.media_name"),
    ({"record_call": {"media_name": "a/b.mp3"}}, "record_call.media_name"),
    ({"record_call": {"media_name": ".hidden"}}, "record_call.media_name"),
    ({"record_call": {"media_name": "x" * 129}}, "record_call.media_name"),
    ({"record_call": {"media_name": "a\\b"}}, "record_call.media_name"),
    ({"record_call": {"should_follow_transfer": "yes"}}, "record_call.should_follow_transfer"),
])
def test_invalid_patch_is_a_validation_error_and_changes_nothing(make_kazoo, data,
                                                                  field) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"users": {"dave": {"record_call": True}}}}})
    answer = kazoo.request("PATCH", f"{ACME_ID}/users/dave",
                           json={"data": {"record_call": False, **data}})
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "error" and body["error"] == "400"
    assert body["message"] == "validation error"
    assert field in body["data"], body
    assert kazoo.request("GET", f"{ACME_ID}/users/dave").json()["data"]["record_call"] is True


def test_a_policys_media_name_names_its_recordings(make_kazoo) -> None:
    kazoo = make_kazoo()
    answer = kazoo.request("PATCH", f"{ACME_ID}/users/erin", json={"data": {
        "record_call": {"format": "wav", "media_name": "erin-line.1.wav"}}})
    assert answer.status_code == 200, answer.text
    rec, = kazoo.finish(kazoo.call(user="erin"))
    doc = kazoo.request("GET", f"{ACME_ID}/recordings/{rec.sid}").json()["data"]
    assert doc["name"] == "erin-line.1.wav"  # it ends with its extension: kept as it is
    assert kazoo.request("GET", f"{ACME_ID}/users/erin/recordings").json()["data"][0][
        "name"] == "erin-line.1.wav"


def test_malformed_bodies_fail_alone(make_kazoo) -> None:
    kazoo = make_kazoo()
    url = f"{kazoo.url}/v2/accounts/{ACME_ID}"
    for body, kind in ((b"{not json", "application/json"), (b"[1]", "application/json"),
                       (b'{"record_call": true}', "application/json"),
                       (b'{"data": [true]}', "application/json"),
                       (b"record_call=true", "text/plain")):
        wrong = kazoo.http.patch(url, data=body, timeout=10,
                                 headers={"Content-Type": kind, "X-Auth-Token": "nope"})
        assert wrong.status_code == 401  # the credentials are checked first
        assert wrong.json()["message"] == "invalid_credentials"
        answer = kazoo.http.patch(url, data=body, timeout=10,
                                  headers={"Content-Type": kind, "X-Auth-Token": ACME_TOKEN})
        assert answer.status_code in (400, 415), answer.text
        assert answer.json()["status"] == "error"
    good = kazoo.request("PATCH", ACME_ID, json={"data": {"record_call": True}})
    assert good.status_code == 200


def test_policy_file_reloaded_on_sighup_and_a_bad_one_keeps_the_policies(make_kazoo) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"users": {"erin": {"record_call": True}}}}})
    kazoo.write_policies({"accounts": {"acme": {"users": {"frank": {"record_call": True}}}}})
    kazoo.daemon.app.reload()
    erin = kazoo.call(user="erin")
    frank = kazoo.call(user="frank")
    kazoo.finish(frank)
    assert kazoo.no_recording(erin)
    for bad in ("accounts: [unclosed", "accounts:\n  acme:\n    record_call: maybe\n",
                "accounts:\n  acme:\n    users:\n      frank:\n        call_recording: 3\n",
                "things: {}\n"):
        kazoo.policy_file.write_text(bad)
        kazoo.daemon.app.reload()
        still = kazoo.call(user="frank")
        kazoo.finish(still)


def test_a_bad_policy_file_stops_the_start(make_kazoo, tmp_path: Path) -> None:
    (tmp_path / "policies.yaml").write_text("accounts:\n  acme:\n    record_call: 7\n")
    with pytest.raises(ConfigError, match="record_call"):
        make_kazoo()


def test_sighup_picks_up_changes_another_daemon_made_on_the_same_store(make_kazoo) -> None:
    kazoo = make_kazoo()
    other_daemon = open_store(kazoo.daemon.app.settings.store)  # its PATCH, as stored
    other_daemon.save_policy_patch("acme", "user", "gina", '{"record_call": true}', 1)
    other_daemon.close()
    before = kazoo.call(user="gina")
    kazoo.daemon.app.reload()
    after = kazoo.call(user="gina")
    kazoo.finish(after)
    assert kazoo.no_recording(before)


def test_a_call_over_before_its_policy_could_start_is_reported(
        make_kazoo, receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    """A daemon far behind the events (here: the switch holds them until the call is over)
    looks at a call when it has already ended: no recording, and a warning says so, where
    a call the policy skipped in silence would pass for one no policy covers."""
    kazoo = make_kazoo({"accounts": {"acme": {"record_call": {"url": receiver.url()}}}})
    kazoo.switch.go_silent()
    uuid = kazoo.switch.inbound_call("tone_a", {ACCOUNT_VAR: "acme"}, answered=True)
    kazoo.switch.hangup(uuid)
    with caplog.at_level(logging.WARNING, logger="esl_recorder.domain.policy_recorder"):
        kazoo.switch.speak_again()
        kazoo.daemon.wait_until(lambda: f"call {uuid}: the account policy of acme could not "
                                "record it: the call ended" in caplog.text,
                                what="the warning")
    assert kazoo.daemon.service.for_call(uuid) == []


def test_a_policy_start_cut_off_by_a_dropped_link_records_the_call_after_the_reconnect(
        make_kazoo, receiver: Receiver) -> None:
    """The ESL connection drops while the policy reads the call's upload fields: nothing
    started, so the call is looked at again at the reconnect and, still up, recorded from
    then (before, the call was never recorded: the policy had decided, then given up)."""
    kazoo = make_kazoo({"accounts": {"acme": {"record_call": {"url": receiver.url()}}}})
    client = kazoo.daemon.app.clients["fs1"]
    held = kazoo.switch.hold_commands("uuid_getvar")
    uuid = kazoo.switch.inbound_call("tone_a", {ACCOUNT_VAR: "acme"}, answered=True)
    kazoo.switch.wait_for_command(f"uuid_getvar {uuid}")
    kazoo.switch.drop_connections()
    held.release()
    assert client.wait_connected(5)
    (rec,) = kazoo.recordings_of(uuid)
    assert rec.meta.get("started_late") is True
    (done,) = kazoo.finish(uuid)
    assert done.state is State.COMPLETED
