"""Finding 6 of issue 13: an answer that is an error leaves no recording behind it."""

from __future__ import annotations

from api.compat_helpers import LAML, LAML_AUTH, TEXML, TEXML_AUTH
from api.conftest import Api


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
