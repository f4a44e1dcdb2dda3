"""A daemon process for the kill -9 tests (tests/daemon, tests/media): starts one recording,
prints it, then runs on.

Usage: python driver.py CONFIG CALL_UUID   (prints one JSON line {"sid", "path"})
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402

from esl_recorder.app import build_app  # noqa: E402
from esl_recorder.domain.options import RecordOptions  # noqa: E402
from esl_recorder.settings import load_settings  # noqa: E402


def main(config: str, call_uuid: str) -> None:
    app = build_app(load_settings(config, env={}))
    app.start()
    if not app.clients["fs1"].wait_connected(10):
        sys.exit("driver: no ESL connection")
    with gevent.Timeout(10):
        while app.tracker.get(call_uuid) is None:
            gevent.sleep(0.01)
    rec = app.service.start(call_uuid, RecordOptions())
    print(json.dumps({"sid": rec.sid, "path": rec.path}), flush=True)
    gevent.event.Event().wait()  # run until killed


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
