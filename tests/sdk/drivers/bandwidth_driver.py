"""Drives the Catapult v1 SDK (`bandwidth-sdk` 3.x), unchanged, from JSON lines.

Runs in the SDK's own virtualenv: `python bandwidth_driver.py BASE_URL USER TOKEN SECRET
[CA_BUNDLE]`. Reads one command per line on stdin ({"op": ..., ...}), calls the SDK, prints
one JSON result per line ({"ok": value} or {"error": {"status", "message"}}). The base URL
is the SDK's own `api_endpoint` option; a CA bundle goes through REQUESTS_CA_BUNDLE, which
the SDK's `requests` reads.
"""

import json
import os
import sys

if len(sys.argv) > 5 and sys.argv[5]:
    os.environ["REQUESTS_CA_BUNDLE"] = sys.argv[5]

import bandwidth
from bandwidth.voice.api_exception_module import BandwidthVoiceAPIException

base, user, token, secret = sys.argv[1:5]
voice = bandwidth.client("voice", user, token, secret, api_endpoint=base)
account = bandwidth.client("account", user, token, secret, api_endpoint=base)


def run(cmd):
    op = cmd["op"]
    if op == "create_call":
        return voice.create_call(**cmd["args"])
    if op == "get_call":
        return voice.get_call(cmd["call_id"])
    if op == "enable_recording":
        return voice.enable_call_recording(cmd["call_id"])
    if op == "disable_recording":
        return voice.disable_call_recording(cmd["call_id"])
    if op == "list_calls":
        return list(voice.list_calls(**cmd.get("args", {})))
    if op == "call_recordings":
        return list(voice.list_call_recordings(cmd["call_id"]))
    if op == "list_recordings":
        return list(voice.list_recordings(**cmd.get("args", {})))
    if op == "get_recording":
        return voice.get_recording(cmd["recording_id"])
    if op == "download_media":
        raw, mime = account.download_media_file(cmd["name"])
        return {"bytes": len(raw.read()), "type": mime}
    if op == "delete_media":
        return account.delete_media_file(cmd["name"])
    if op == "hangup":
        return voice.hangup_call(cmd["call_id"])
    if op == "transfer":
        return voice.transfer_call(cmd["call_id"], cmd["to"], caller_id=cmd.get("caller_id"))
    raise ValueError("unknown op " + op)


for line in sys.stdin:
    command = json.loads(line)
    try:
        result = {"ok": run(command)}
    except BandwidthVoiceAPIException as exc:
        result = {"error": {"status": exc.status_code, "message": exc.message,
                            "code": exc.code}}
    except Exception as exc:  # reported to the test, which fails on it
        result = {"error": {"status": getattr(exc, "status_code", None),
                            "message": repr(exc)}}
    print(json.dumps(result, default=str), flush=True)
