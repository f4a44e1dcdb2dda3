"""Drives SignalWire's current Python SDK (`signalwire-sdk` 3.x), unchanged, from JSON lines.

Runs in the SDK's own virtualenv: `python signalwire3_driver.py BASE_URL PROJECT TOKEN
[CA_BUNDLE]`. The SDK's REST client takes a space host and speaks plain HTTP to a loopback
host (its own rule for local servers), https to any other; so over plain HTTP it is given
`127.0.0.1:<port>` and nothing else. Over HTTPS the CA goes through the SDK's own
SIGNALWIRE_REST_CA_FILE (and REQUESTS_CA_BUNDLE), and the base URL is set on its HTTP
client (its only change, as the 2.x driver sets `client.api.base_url`).

Ops: `record`, `pause`, `resume`, `stop` call `client.calling.record(...)`,
`record_pause`, `record_resume`, `record_stop` and return the answer; `event` reads a
received `calling.call.record` webhook with the SDK's own RELAY event parser and checks its
signatures with the SDK's own validators. One JSON command per line in, one JSON result out.
"""

import json
import os
import sys
from urllib.parse import urlsplit

if len(sys.argv) > 4 and sys.argv[4]:
    os.environ["SIGNALWIRE_REST_CA_FILE"] = sys.argv[4]
    # requests lets REQUESTS_CA_BUNDLE, when the environment has one, win over the CA the
    # SDK gives its session: the same CA goes there too (configuration, as for 2.x)
    os.environ["REQUESTS_CA_BUNDLE"] = sys.argv[4]

from signalwire.core.security.webhook_validator import (
    validate_webhook_signature,
    validate_webhook_signature_sha256,
)
from signalwire.relay.event import RecordEvent, parse_event
from signalwire.rest import RestClient, SignalWireRestError

base, project, token = sys.argv[1:4]
client = RestClient(project=project, token=token, host=urlsplit(base).netloc)
if base.startswith("https://"):
    client._http._base_url = base


def event(cmd):
    """What the SDK makes of a webhook the test's receiver got."""
    parsed = parse_event(json.loads(cmd["body"]))
    assert isinstance(parsed, RecordEvent), type(parsed)
    headers = cmd["headers"]
    return {"event_type": parsed.event_type, "call_id": parsed.call_id,
            "control_id": parsed.control_id, "state": parsed.state, "url": parsed.url,
            "duration": parsed.duration, "size": parsed.size, "record": parsed.record,
            "signed": validate_webhook_signature(token, headers["X-Signalwire-Signature"],
                                                 cmd["url"], cmd["body"]),
            "signed_sha256": validate_webhook_signature_sha256(
                token, headers["X-Signalwire-Sha256-Signature"], cmd["url"], cmd["body"])}


def run(cmd):
    op, calling = cmd["op"], client.calling
    if op == "record":
        return calling.record(cmd["call"], **cmd.get("args", {}))
    if op == "pause":
        return calling.record_pause(cmd["call"], **cmd["args"])
    if op == "resume":
        return calling.record_resume(cmd["call"], **cmd["args"])
    if op == "stop":
        return calling.record_stop(cmd["call"], **cmd["args"])
    if op == "event":
        return event(cmd)
    raise ValueError("unknown op " + op)


for line in sys.stdin:
    command = json.loads(line)
    try:
        result = {"ok": run(command)}
    except SignalWireRestError as exc:
        result = {"error": {"status": exc.status_code, "body": exc.body,
                            "message": str(exc)}}
    except Exception as exc:  # reported to the test, which fails on it
        result = {"error": {"status": None, "message": repr(exc)}}
    print(json.dumps(result, default=str), flush=True)
