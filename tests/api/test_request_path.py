"""The request path leaves nothing for the garbage collector: a request's objects are freed
when it is answered (a cycle per request made every collection pause grow with the load)."""

from __future__ import annotations

import gc

from werkzeug.wrappers import Request

from .compat_helpers import LAML, LAML_AUTH
from .conftest import Api


def test_answered_requests_leave_no_request_objects_to_collect(api: Api) -> None:
    call = api.call()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds goes to gc.garbage
    try:
        for _ in range(5):
            r = api.request("POST", f"{LAML}/Calls/{call}/Recordings.json", headers=LAML_AUTH,
                            data={"RecordingChannels": "dual"})
            assert r.status_code == 200, r.text
            assert api.request("GET", f"{LAML}/Recordings.json",
                               headers=LAML_AUTH).status_code == 200
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, Request)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []
