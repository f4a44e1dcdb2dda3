"""Every FreeSWITCH command the daemon sends is built here, by pure functions.

Nothing else formats `uuid_record`. Every argument is validated first: user input can
never become a FreeSWITCH argument unchecked (`uuid_record` splits on spaces and honours
quotes and backslashes; the `{}` block is URL-decoded and split on commas).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ..domain.names import TONE_STREAM, check_path, check_uuid
from ..errors import InvalidArgument

__all__ = ["check_path", "check_uuid"]  # re-exported: every builder checks with these

RECORD_ACTIONS = ("start", "stop", "pause", "resume", "mask", "unmask")

# `-` too: Kazoo's custom channel variables are named so (ecallmgr_Call-Interaction-ID)
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_VAR_VALUE = re.compile(r"[A-Za-z0-9_.:/+@-]{0,256}")
_DTMF = re.compile(r"[0-9A-Da-d*#]{1,32}")
_EVENT_NAME = re.compile(r"[A-Za-z0-9_:-]{1,64}")  # CUSTOM subclasses: sofia::register
_FILE = re.compile(r"/(?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_-][A-Za-z0-9_.-]*\.[A-Za-z0-9]{1,8}")
_CAUSE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
_EXTENSION = re.compile(r"[A-Za-z0-9_.+*#@-]{1,64}")
_WORD = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _vars_block(variables: Mapping[str, str | int | bool]) -> str:
    parts = []
    for name, value in variables.items():
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if not _VAR_NAME.fullmatch(name) or not _VAR_VALUE.fullmatch(text):
            raise InvalidArgument(f"unsafe recording variable {name}={text!r}")
        parts.append(f"{name}={text}")
    return "{" + ",".join(parts) + "}"


def uuid_record_start(
    uuid: str, path: str, limit_s: int, variables: Mapping[str, str | int | bool]
) -> str:
    """`uuid_record <uuid> start <path> <limit> {vars}`: options per recording, never setvar."""
    if not 0 <= limit_s <= 86400:
        raise InvalidArgument(f"limit out of range: {limit_s}")
    block = _vars_block(variables) if variables else ""
    line = f"uuid_record {check_uuid(uuid)} start {check_path(path)} {int(limit_s)}"
    return f"{line} {block}" if block else line


def uuid_record(uuid: str, action: str, path: str) -> str:
    """stop / pause / resume / mask / unmask of one recording (by its exact path)."""
    if action not in RECORD_ACTIONS or action == "start":
        raise InvalidArgument(f"unknown uuid_record action: {action!r}")
    return f"uuid_record {check_uuid(uuid)} {action} {check_path(path)}"


def uuid_broadcast(uuid: str, media: str, leg: str = "both") -> str:
    """Play a tone_stream (the beep: FreeSWITCH has no beep option) or an absolute file
    path into the call."""
    if not (TONE_STREAM.fullmatch(media) or (_FILE.fullmatch(media) and "/../" not in media)):
        raise InvalidArgument(f"not a tone_stream or a safe file path: {media!r}")
    if leg not in ("aleg", "bleg", "both"):
        raise InvalidArgument(f"bad leg: {leg!r}")
    return f"uuid_broadcast {check_uuid(uuid)} {media} {leg}"


def uuid_kill(uuid: str, cause: str = "NORMAL_CLEARING") -> str:
    """Hang up a call with a hangup cause (FreeSWITCH's upper-case cause names)."""
    if not _CAUSE.fullmatch(cause):
        raise InvalidArgument(f"not a hangup cause: {cause!r}")
    return f"uuid_kill {check_uuid(uuid)} {cause}"


def uuid_transfer(uuid: str, extension: str, dialplan: str = "XML",
                  context: str = "default") -> str:
    """Send the call to `<extension> <dialplan> <context>`."""
    if not _EXTENSION.fullmatch(extension) or extension.startswith("-"):
        raise InvalidArgument(f"not a safe extension: {extension!r}")
    if not _WORD.fullmatch(dialplan) or not _WORD.fullmatch(context):
        raise InvalidArgument(f"not a safe dialplan/context: {dialplan!r} {context!r}")
    return f"uuid_transfer {check_uuid(uuid)} {extension} {dialplan} {context}"


_DIAL_STRING = re.compile(r"[A-Za-z0-9_.:/+@=;-]{1,512}")
_APPLICATION = re.compile(
    r"&[A-Za-z_][A-Za-z0-9_]{0,63}\([A-Za-z0-9_.:/+@=%-]{0,256}\)"
    r"|[A-Za-z0-9_.+*#-]{1,64}(?: [A-Za-z]{1,16}(?: [A-Za-z0-9_.-]{1,64})?)?")


def originate(dial_string: str, application: str,
              variables: Mapping[str, str | int | bool]) -> str:
    """`originate {vars}<dial string> <application>`: place a call (send it with bgapi).

    The dial string has no spaces, braces, commas or quotes (the `{}` block is ours);
    the application is `&app(args)` or `<extension> [<dialplan> [<context>]]`."""
    if not _DIAL_STRING.fullmatch(dial_string):
        raise InvalidArgument(f"unsafe dial string: {dial_string!r}")
    if not _APPLICATION.fullmatch(application):
        raise InvalidArgument(f"unsafe originate application: {application!r}")
    block = _vars_block(variables) if variables else ""
    return f"originate {block}{dial_string} {application}"


def uuid_exists(uuid: str) -> str:
    return f"uuid_exists {check_uuid(uuid)}"


def uuid_buglist(uuid: str) -> str:
    return f"uuid_buglist {check_uuid(uuid)}"


def uuid_setvar(uuid: str, name: str, value: str) -> str:
    if not _VAR_NAME.fullmatch(name) or not _VAR_VALUE.fullmatch(value) or not value:
        raise InvalidArgument(f"bad variable: {name!r}={value!r}")
    return f"uuid_setvar {check_uuid(uuid)} {name} {value}"


def uuid_getvar(uuid: str, name: str) -> str:
    if not _VAR_NAME.fullmatch(name):
        raise InvalidArgument(f"bad variable name: {name!r}")
    return f"uuid_getvar {check_uuid(uuid)} {name}"


def show_channels_json() -> str:
    return "show channels as json"


def status() -> str:
    """What the liveness probe asks (any reply means the node is alive)."""
    return "status"


def event_subscription(names: Sequence[str]) -> str:
    """`event plain <names>`: the events a connection receives."""
    for name in names:
        if not _EVENT_NAME.fullmatch(name):
            raise InvalidArgument(f"bad event name: {name!r}")
    return "event plain " + " ".join(names)


# Applications a script may run on its call (sendmsg execute). The argument is one line of
# printable text: sendmsg is a header block, so a line break would forge headers.
_APP_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_APP_ARG = re.compile(r"[^\x00-\x1f\x7f]{1,2048}")
_EVENT_UUID = re.compile(r"[A-Za-z0-9-]{1,64}")


def sendmsg_execute(uuid: str, app: str, arg: str | None, event_uuid: str) -> str:
    """`sendmsg <uuid>` + `call-command: execute`: run dialplan application `app` on a
    parked call. `event-lock: true` keeps the next message queued until this one finished
    (without it a second playback runs inside the first); FreeSWITCH echoes `Event-UUID` as
    the `Application-UUID` of the CHANNEL_EXECUTE_COMPLETE that reports the result."""
    if not _APP_NAME.fullmatch(app):
        raise InvalidArgument(f"not an application name: {app!r}")
    if arg is not None and (not _APP_ARG.fullmatch(arg) or arg != arg.strip()):
        raise InvalidArgument(f"unsafe {app} argument: {arg[:80]!r}")
    if not _EVENT_UUID.fullmatch(event_uuid):
        raise InvalidArgument(f"bad Event-UUID {event_uuid!r}")
    lines = [f"sendmsg {check_uuid(uuid)}", "call-command: execute", f"execute-app-name: {app}"]
    if arg is not None:
        lines.append(f"execute-app-arg: {arg}")
    lines += ["event-lock: true", f"Event-UUID: {event_uuid}"]
    return "\n".join(lines)
