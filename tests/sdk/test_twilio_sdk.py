"""The official `twilio` Python package, pointed at this server, drives LaML recordings, over
plain HTTP and over HTTPS (the `tls` fixture of tests/sdk/conftest.py).

twilio 9.x builds a URL as `Domain.base_url + "/" + Version.version + "/" + path` and follows
`next_page_uri` as `Domain.base_url + uri`. With base_url = this server and the v2010
version string = "api/laml/2010-04-01" (SignalWire's prefix), the SDK's own paths and the
absolute paths this server puts in `next_page_uri` both resolve.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from api.compat_helpers import expected_start, finish, recording, start_commands, wait_done
from api.conftest import ACME_LAML, Api
from api.receiver import Receiver
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from esl_recorder.domain.recording import State


def sdk_client(api: Api, ca_bundle: str, project: str = ACME_LAML[0],
               token: str = ACME_LAML[1]) -> Client:
    """The SDK unchanged but for its base URL and, over https, the CA it trusts."""
    client = Client(project, token, account_sid=project)
    client.api.base_url = api.url
    client.api.v2010.version = "api/laml/2010-04-01"
    if ca_bundle:
        assert client.http_client.session is not None
        client.http_client.session.verify = ca_bundle
        client.http_client.session.trust_env = False  # REQUESTS_CA_BUNDLE would win
    return client


@pytest.fixture
def client(api: Api, ca_bundle: str) -> Iterator[Client]:
    yield sdk_client(api, ca_bundle)


def test_the_sdk_creates_pauses_resumes_stops_fetches_lists_and_deletes(
        api: Api, client: Client, receiver: Receiver) -> None:
    uuid = api.call()
    created = client.calls(uuid).recordings.create(
        recording_channels="dual", recording_status_callback=receiver.url("/sdk"),
        recording_status_callback_event=["in-progress", "completed"], trim="do-not-trim")
    rec = recording(api, created.sid)
    assert start_commands(api.switch, uuid) == [expected_start(rec, stereo="true")]
    assert (created.status, created.channels, created.call_sid) == ("in-progress", 2, uuid)
    assert (created.source, created.account_sid) == ("StartCallRecordingApi", ACME_LAML[0])
    assert created.start_time is not None and created.start_time.tzinfo is UTC

    api.switch.advance(1.0)
    paused = client.calls(uuid).recordings("Twilio.CURRENT").update(status="paused",
                                                                    pause_behavior="skip")
    assert (paused.sid, paused.status) == (created.sid, "paused")
    assert api.switch.commands[-1] == f"uuid_record {uuid} pause {rec.path}"
    api.switch.advance(1.0)
    resumed = client.calls(uuid).recordings(created.sid).update(status="in-progress")
    assert resumed.status == "in-progress"
    assert api.switch.commands[-1] == f"uuid_record {uuid} resume {rec.path}"
    api.switch.advance(1.0)
    stopped = client.calls(uuid).recordings(created.sid).update(status="stopped")
    assert stopped.status == "stopped"
    assert api.switch.commands[-1] == f"uuid_record {uuid} stop {rec.path}"
    assert wait_done(api, created.sid).state is State.COMPLETED

    fetched = client.recordings(created.sid).fetch()
    assert (fetched.status, fetched.duration, fetched.channels) == ("completed", 2, 2)
    assert fetched.uri.endswith(f"/Recordings/{created.sid}.json")
    assert client.calls(uuid).recordings(created.sid).fetch().call_sid == uuid
    assert [r.sid for r in client.recordings.list(call_sid=uuid)] == [created.sid]
    assert [r.sid for r in client.calls(uuid).recordings.list()] == [created.sid]

    first, second = receiver.wait(2)
    for got, status in ((first, "in-progress"), (second, "completed")):
        assert got.form["RecordingStatus"] == status
        assert RequestValidator(ACME_LAML[1]).validate(got.url, got.form,
                                                       got.headers["X-Twilio-Signature"])

    assert client.recordings(created.sid).delete() is True
    with pytest.raises(TwilioRestException) as err:
        client.recordings(created.sid).fetch()
    assert (err.value.status, err.value.code) == (404, 20404)


def test_the_sdk_pages_through_next_page_uri_and_filters_by_date(api: Api,
                                                                 client: Client) -> None:
    uuid = api.call()
    sids = [client.calls(uuid).recordings.create().sid for _ in range(5)]
    listed = client.recordings.list(page_size=2)  # three pages, followed by the SDK
    assert [r.sid for r in listed] == sids[::-1]
    page = client.calls(uuid).recordings.page(page_size=2)
    assert len(page._payload["recordings"]) == 2 and page.next_page_url is not None
    second = page.next_page()
    assert second is not None
    assert [r.sid for r in second] == sids[::-1][2:4]
    yesterday = datetime.now(UTC) - timedelta(days=1)
    assert len(client.recordings.list(date_created_after=yesterday)) == 5
    assert client.recordings.list(date_created_before=yesterday) == []
    assert len(client.calls(uuid).recordings.list(
        date_created=datetime.now(UTC).date())) == 5


def test_the_sdk_sees_errors_as_twilio_exceptions(api: Api, client: Client,
                                                  ca_bundle: str) -> None:
    uuid = api.call()
    with pytest.raises(TwilioRestException) as err:
        sdk_client(api, ca_bundle, token="wrong").calls(uuid).recordings.create()
    assert (err.value.status, err.value.code) == (401, 20003)
    with pytest.raises(TwilioRestException) as err:
        client.calls(uuid).recordings.create(recording_channels="quad")
    assert (err.value.status, err.value.code) == (400, 70002)
    assert "RecordingChannels" in err.value.msg
    sid = client.calls(uuid).recordings.create().sid
    finish(api, uuid)
    wait_done(api, sid)
    with pytest.raises(TwilioRestException) as err:
        client.calls(uuid).recordings(sid).update(status="paused")
    assert (err.value.status, err.value.code) == (422, 20422)
    assert start_commands(api.switch, uuid) == [expected_start(recording(api, sid))]
