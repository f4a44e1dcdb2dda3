"""The daemon in its own process, for the kill -9 delivery test: runs until killed and
reports on stdout, one JSON object per line:

  {"port": N}                                 once the ESL connection is up
  {"call": uuid, "answered": bool}            on every call event
  {"recording": sid, "state": state}          on every recording change (after the
                                              dialect has queued its callbacks for it)
  {"outbox": result, "id": N, "key": key}     on every stored delivery result

Usage: python delivery_driver.py CONFIG
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

import gevent.event  # noqa: E402

from esl_recorder.app import build_app  # noqa: E402
from esl_recorder.settings import load_settings  # noqa: E402


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def main(config: str) -> None:
    app = build_app(load_settings(config, env={}))
    app.tracker.subscribe(lambda name, call: say(call=call.uuid, answered=call.answered))
    app.recordings.subscribe(lambda rec, previous: say(recording=rec.sid,
                                                       state=rec.state.value))
    app.outbox.subscribe(lambda item, result: say(outbox=result, id=item.id, key=item.key))
    app.start()
    if not app.clients["fs1"].wait_connected(10):
        sys.exit("delivery_driver: no ESL connection")
    assert app.http is not None
    say(port=app.http.server_port)
    gevent.event.Event().wait()  # run until killed


if __name__ == "__main__":
    main(sys.argv[1])
