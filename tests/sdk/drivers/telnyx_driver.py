"""Drives the Telnyx Python SDK (`telnyx` 4.x: its TeXML REST recording methods), unchanged,
from JSON lines.

Runs in the SDK's own virtualenv: `python telnyx_driver.py BASE_URL ACCOUNT_SID API_KEY
[CA_BUNDLE]`. BASE_URL is the server's root; the SDK's own base URL option gets it + `/v2`.
A CA bundle is given to the SDK's httpx client (`verify`). One JSON command per line in,
one JSON result per line out.
"""

import json
import sys

import telnyx

base, account, key = sys.argv[1:4]
ca_bundle = sys.argv[4] if len(sys.argv) > 4 else ""
options = {"http_client": telnyx.DefaultHttpxClient(verify=ca_bundle)} if ca_bundle else {}
client = telnyx.Telnyx(api_key=key, base_url=base + "/v2", max_retries=0, **options)
texml = client.texml.accounts


def doc(model):
    return None if model is None else model.model_dump(mode="json")


def run(cmd):
    op = cmd["op"]
    if op == "create":
        return doc(texml.calls.recordings_json.recordings_json(
            cmd["call"], account_sid=account, **cmd.get("args", {})))
    if op == "update":
        return doc(texml.calls.recordings.recording_sid_json(
            cmd["sid"], account_sid=account, call_sid=cmd["call"], status=cmd["status"]))
    if op == "list_on_call":
        return doc(texml.calls.recordings_json.retrieve_recordings_json(
            cmd["call"], account_sid=account))
    if op == "fetch":
        return doc(texml.recordings.json.retrieve_recording_sid_json(
            cmd["sid"], account_sid=account))
    if op == "delete":
        return texml.recordings.json.delete_recording_sid_json(cmd["sid"], account_sid=account)
    raise ValueError("unknown op " + op)


for line in sys.stdin:
    command = json.loads(line)
    try:
        result = {"ok": run(command)}
    except telnyx.APIStatusError as exc:
        result = {"error": {"status": exc.status_code, "message": str(exc)}}
    except Exception as exc:  # reported to the test, which fails on it
        result = {"error": {"status": None, "message": repr(exc)}}
    print(json.dumps(result, default=str), flush=True)
