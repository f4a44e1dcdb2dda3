"""The shapes of the names the domain hands out or accepts: call uuids, recording paths,
recording sids. One place for each pattern; `esl.commands` checks them again before a
name becomes a FreeSWITCH argument, with these same functions."""

from __future__ import annotations

import re
import secrets

from ..errors import InvalidArgument

CALL_UUID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
RECORDING_PATH = re.compile(r"/(?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_-][A-Za-z0-9_.-]*\.(?:wav|mp3)")
# What the daemon may play into a call besides files: a generated tone, a stretch of silence.
TONE_STREAM = re.compile(r"tone_stream://[A-Za-z0-9%(),.;=-]{1,200}")
SILENCE_STREAM = re.compile(r"silence_stream://[0-9]{1,8}")
SID_HEX = "[0-9a-f]{32}"
RECORDING_SID = re.compile(f"RE({SID_HEX})")  # group 1: the 32 hex digits


def new_sid() -> str:
    """`RE` + 32 hex digits: unguessable, path-safe, Twilio-shaped."""
    return "RE" + secrets.token_hex(16)


def is_sid(text: str) -> bool:
    return RECORDING_SID.fullmatch(text) is not None


def check_uuid(uuid: str) -> str:
    """A call (channel) uuid: letters, digits, `_.-`, at most 128 characters."""
    if not CALL_UUID.fullmatch(uuid):
        raise InvalidArgument(f"not a channel uuid: {uuid!r}")
    return uuid


# <root>/<account>/<yyyy>/<mm>/<dd>/<sid>.<ext>: the components below the root
PATH_LEVELS_BELOW_ROOT = 5


def recording_path(root: str, account: str, day: str, sid: str, ext: str) -> str:
    """Where a recording's file goes (`day` is `yyyy/mm/dd`), checked by check_path."""
    return check_path(f"{root}/{account}/{day}/{sid}.{ext}")


def recording_root(path: str) -> str:
    """The recording root a path made by recording_path lies under."""
    return path.rsplit("/", PATH_LEVELS_BELOW_ROOT)[0]


def check_path(path: str) -> str:
    """Absolute, space-free, no `..`, ending .wav/.mp3: the recording's key in FreeSWITCH.
    Its characters are all ones FreeSWITCH never URL-encodes: events carry it as it is."""
    if not RECORDING_PATH.fullmatch(path) or "/../" in path or "/./" in path:
        raise InvalidArgument(f"not a safe absolute recording path: {path!r}")
    return path
