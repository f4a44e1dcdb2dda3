"""Crossbar's recordings API: list (account's, a user's; paginated), fetch (document or
media), delete; X-Auth-Token and tenancy."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .conftest import ACME_ID, GLOBEX_TOKEN

GREGORIAN = 62167219200


def recorded(kazoo, count: int, user: str = "") -> list[str]:
    sids = []
    for _ in range(count):
        call = kazoo.call(user=user)
        sids += [r.sid for r in kazoo.finish(call)]
    return sids


def test_list_pages_newest_first_and_a_users_own(make_kazoo) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"record_call": {"format": "wav"}}}})
    plain = recorded(kazoo, 3)
    alices = recorded(kazoo, 2, user="alice")
    answer = kazoo.request("GET", f"{ACME_ID}/recordings", params={"page_size": 2})
    assert answer.status_code == 200, answer.text
    first = answer.json()
    assert first["status"] == "success" and first["page_size"] == 2
    assert [d["id"] for d in first["data"]] == alices[::-1]
    rest = kazoo.request("GET", f"{ACME_ID}/recordings",
                         params={"page_size": 10, "start_key": first["next_start_key"]}).json()
    assert [d["id"] for d in rest["data"]] == plain[::-1] and "next_start_key" not in rest
    mine = kazoo.request("GET", f"{ACME_ID}/users/alice/recordings",
                         params={"page_size": 1}).json()
    assert [d["id"] for d in mine["data"]] == alices[-1:]
    more = kazoo.request("GET", f"{ACME_ID}/users/alice/recordings",
                         params={"start_key": mine["next_start_key"]}).json()
    assert [d["id"] for d in more["data"]] == alices[:1]
    doc = first["data"][0]
    assert doc["media_source"] == "recorded" and doc["media_type"] == "wav"
    assert doc["content_type"] == "audio/wav" and doc["owner_id"] == "alice"
    assert doc["name"] == f"call_recording_{doc['call_id']}.wav"
    assert doc["start"] > GREGORIAN and doc["duration_ms"] >= 900


def test_fetch_the_document_or_the_media_then_delete(make_kazoo) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"record_call": {"format": "wav"}}}})
    sid, = recorded(kazoo, 1)
    path = Path(kazoo.daemon.service.get(sid).path)
    doc = kazoo.request("GET", f"{ACME_ID}/recordings/{sid}").json()
    assert doc["data"]["id"] == sid and doc["data"]["status"] == "completed"
    for how in ({"headers": {"Accept": "audio/wav"}}, {"params": {"accept": "audio/mpeg"}}):
        media = kazoo.http.get(f"{kazoo.url}/v2/accounts/{ACME_ID}/recordings/{sid}",
                               timeout=10, **{**how, "headers": {
                                   "X-Auth-Token": kazoo.daemon.app.settings.accounts[0]
                                   .kazoo_auth_token, **how.get("headers", {})}})
        assert media.status_code == 200
        assert media.headers["Content-Type"].startswith("audio/")
        assert hashlib.sha256(media.content).digest() == hashlib.sha256(
            path.read_bytes()).digest()
    gone = kazoo.request("DELETE", f"{ACME_ID}/recordings/{sid}")
    assert gone.status_code == 200 and gone.json()["data"]["id"] == sid
    assert not path.exists()
    again = kazoo.request("GET", f"{ACME_ID}/recordings/{sid}")
    assert again.status_code == 404 and again.json()["message"] == "bad_identifier"
    assert again.json()["data"]["message"] == "bad identifier"


def test_another_account_sees_nothing_and_no_token_is_401(make_kazoo) -> None:
    kazoo = make_kazoo({"accounts": {"acme": {"record_call": {"format": "wav"}}}})
    sid, = recorded(kazoo, 1)
    globex = kazoo.request("GET", f"globex/recordings/{sid}", token=GLOBEX_TOKEN)
    unknown = kazoo.request("GET", "globex/recordings/RE" + "0" * 32, token=GLOBEX_TOKEN)
    assert globex.status_code == unknown.status_code == 404
    assert kazoo.request("GET", "globex/recordings", token=GLOBEX_TOKEN).json()["data"] == []
    for path in (f"{ACME_ID}/recordings", f"{ACME_ID}/recordings/{sid}", ACME_ID):
        assert kazoo.request("GET", path, token="").status_code == 401
        assert kazoo.request("GET", path, token=GLOBEX_TOKEN).status_code == 401
    assert kazoo.request("PATCH", f"{ACME_ID}/users/x", token=GLOBEX_TOKEN,
                         json={"data": {"record_call": True}}).status_code == 401
    assert kazoo.request("GET", f"{ACME_ID}/users/x").status_code == 404


def test_bad_paging_is_a_400_in_crossbars_envelope(make_kazoo) -> None:
    kazoo = make_kazoo()
    for params in ({"page_size": "0"}, {"page_size": "x"}, {"start_key": "-1"},
                   {"created_from": "soon"}):
        answer = kazoo.request("GET", f"{ACME_ID}/recordings", params=params)
        assert answer.status_code == 400, params
        assert answer.json()["status"] == "error" and answer.json()["error"] == "400"


def test_crossbar_auth_as_kazoo_clients_send_it(make_kazoo) -> None:
    """X-Auth-Token (Crossbar's header, what kazoo-sdk and the Monster UI send) and
    `Authorization: Bearer <token>` (Crossbar's get_auth_token takes it too); a wrong or
    missing token is Crossbar's 401 envelope, which names neither the token nor the
    account, and counts as an auth failure."""
    kazoo = make_kazoo({"accounts": {"acme": {"record_call": {"format": "wav"}}}})
    url = f"{kazoo.url}/v2/accounts/{ACME_ID}"
    token = kazoo.daemon.app.settings.accounts[0].kazoo_auth_token
    for headers in ({"X-Auth-Token": token}, {"Authorization": f"Bearer {token}"},
                    {"Authorization": f"bearer {token}"}):
        answer = kazoo.http.get(url, headers=headers, timeout=10)
        assert answer.status_code == 200, (headers, answer.text)
        assert answer.json()["status"] == "success" and answer.json()["data"]["id"] == ACME_ID
    failures = kazoo.daemon.app.prometheus.get_sample_value(
        "esl_recorder_api_auth_failures_total", {"dialect": "kazoo"}) or 0
    wrong = [{"X-Auth-Token": token[:-1] + ("x" if token[-1] != "x" else "y")},
             {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {token}"},
             {"X-Auth-Token": GLOBEX_TOKEN}, {"X-Auth-Token": ""}, {}]
    for headers in wrong:
        answer = kazoo.http.get(url, headers=headers, timeout=10)
        assert answer.status_code == 401, headers
        body = answer.json()
        assert body["status"] == "error" and body["error"] == "401"
        assert body["message"] == "invalid_credentials"
        assert body["data"] == {"message": "invalid credentials"}
        assert body["auth_token"] == "" and body["request_id"]
        assert token not in answer.text and GLOBEX_TOKEN not in answer.text
    assert kazoo.daemon.app.prometheus.get_sample_value(
        "esl_recorder_api_auth_failures_total", {"dialect": "kazoo"}) == failures + len(wrong)
