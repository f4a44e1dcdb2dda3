"""Drives the SignalWire Python SDK (`signalwire` 2.x, on twilio 6.54), unchanged, from
JSON lines.

Runs in the SDK's own virtualenv: `python signalwire_driver.py BASE_URL PROJECT TOKEN
[CA_BUNDLE]`. The SDK takes a space URL and always speaks https to it; over plain HTTP
the driver gives the client the base URL instead (its only change). Paths are the SDK's
own (`/2010-04-01/Accounts/...`). One JSON command per line in, one JSON result out.
"""

import json
import os
import sys
from urllib.parse import urlsplit

if len(sys.argv) > 4 and sys.argv[4]:
    os.environ["REQUESTS_CA_BUNDLE"] = sys.argv[4]

from signalwire.rest import Client
from twilio.base.exceptions import TwilioRestException

base, project, token = sys.argv[1:4]
client = Client(project, token, signalwire_space_url=urlsplit(base).netloc)
if not base.startswith("https://"):
    client.api.base_url = base
elif len(sys.argv) > 4 and sys.argv[4]:
    # twilio 6.54 sends through Session.send, which never reads REQUESTS_CA_BUNDLE: the CA
    # goes to the session the SDK's own http client holds (configuration, as the base URL)
    client.http_client.session.verify = sys.argv[4]


def doc(rec):
    return {"sid": rec.sid, "status": rec.status, "call_sid": rec.call_sid,
            "channels": rec.channels, "duration": rec.duration, "uri": rec.uri,
            "account_sid": rec.account_sid, "source": rec.source}


def run(cmd):
    op = cmd["op"]
    call = client.calls(cmd["call"]) if "call" in cmd else None
    if op == "create":
        return doc(call.recordings.create(**cmd.get("args", {})))
    if op == "update":
        return doc(call.recordings(cmd["sid"]).update(**cmd["args"]))
    if op == "fetch":
        return doc(client.recordings(cmd["sid"]).fetch())
    if op == "fetch_on_call":
        return doc(call.recordings(cmd["sid"]).fetch())
    if op == "list":
        return [doc(r) for r in client.recordings.list(**cmd.get("args", {}))]
    if op == "list_on_call":
        return [doc(r) for r in call.recordings.list(**cmd.get("args", {}))]
    if op == "delete":
        return client.recordings(cmd["sid"]).delete()
    raise ValueError("unknown op " + op)


for line in sys.stdin:
    command = json.loads(line)
    try:
        result = {"ok": run(command)}
    except TwilioRestException as exc:
        result = {"error": {"status": exc.status, "code": exc.code, "message": exc.msg}}
    except Exception as exc:  # reported to the test, which fails on it
        result = {"error": {"status": None, "message": repr(exc)}}
    print(json.dumps(result, default=str), flush=True)
