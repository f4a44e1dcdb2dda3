"""The `api` commands of mod_commands that the simulator implements, with FreeSWITCH's replies."""

from __future__ import annotations

import logging
from collections.abc import Callable

from esl_recorder.testing.fakeswitch import apps, dialplan, listing, media, recorder, recordings
from esl_recorder.testing.fakeswitch.channels import Call, Channel
from esl_recorder.testing.fakeswitch.core import SwitchCore
from esl_recorder.testing.fakeswitch.wire import serialize_json, serialize_plain

log = logging.getLogger(__name__)

VERSION = "FreeSWITCH Version 1.11.3-dev~64bit ( 64bit)"
# what the build with git metadata says (the call-script captures)
GIT_VERSION = (
    "FreeSWITCH Version 1.11.3-dev+git~20260821T141014Z~cc93a683ca~64bit "
    "(git cc93a68 2026-08-21 14:10:14Z 64bit)"
)
NO_CHANNEL = "-ERR No such channel!\n"
NO_SESSION = "-ERR Cannot locate session!\n"
NO_REPLY = "-ERR no reply\n"
BROADCAST_DELAY = 0.18  # seconds from the reply to the playback starting (broadcast_beep)
Post = Callable[[], None]
Handler = Callable[["Api", str], str]


class Pending(str):
    """An originate's result that comes once its call is answered (a call parked for a
    script): the text is the result then; `call.on_answer` is told when (cause '' for
    answered, else the hangup cause)."""

    call: Call

    @classmethod
    def of(cls, text: str, call: Call) -> Pending:
        pending = cls(text)
        pending.call = call
        return pending


class Api:
    """Runs one api command line; `post` collects actions to run after the reply is out."""

    def __init__(self, core: SwitchCore) -> None:
        self.core = core
        self.post: list[Post] = []

    def execute(self, line: str) -> tuple[str, list[Post]]:
        name, _, args = line.strip().partition(" ")
        handler = HANDLERS.get(name)
        self.post = []
        if handler is None:
            return f"-ERR {name} Command not found!\n", []
        with self.core.lock:
            try:
                body = handler(self, args.strip())
            except Exception:  # a simulator bug must not take the connection down
                log.exception("api %s failed", name)
                return f"-ERR {name} failed in the simulator\n", []
        return body, self.post

    def hangup(self, ch: Channel, cause: str) -> None:
        dialplan.hangup(self.core, ch, cause)


def _originate(api: Api, args: str) -> str:
    parts = args.split()
    if len(parts) < 2:
        return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"  # noqa: E501
    try:
        a, legs = dialplan.originate(api.core, parts[0], parts[1])
    except dialplan.OriginateError as exc:
        return f"-ERR {exc}\n"
    api.post.append(lambda: dialplan.after_originate(api.core, legs))
    if a.call.kind == "script" and not a.answered:
        return Pending.of(f"+OK {a.uuid}\n", a.call)
    return f"+OK {a.uuid}\n"


def _locate(api: Api, uuid: str) -> Channel | None:
    return api.core.locate(uuid)


def _uuid_kill(api: Api, args: str) -> str:
    uuid, _, cause = args.partition(" ")
    ch = _locate(api, uuid)
    if ch is None:
        return NO_CHANNEL
    api.hangup(ch, cause.strip() or "NORMAL_CLEARING")
    return "+OK\n"


def _uuid_exists(api: Api, args: str) -> str:
    return "true" if _locate(api, args.split(" ")[0]) else "false"


def _uuid_setvar(api: Api, args: str) -> str:
    parts = args.split(" ", 2)
    if len(parts) < 2:
        return "-USAGE: <uuid> <var> [value]\n"
    ch = _locate(api, parts[0])
    if ch is None:
        return NO_CHANNEL
    if len(parts) == 3 and parts[2] != "":
        ch.variables[parts[1]] = parts[2]
    else:
        ch.variables.pop(parts[1], None)
    return "+OK\n"


def _uuid_getvar(api: Api, args: str) -> str:
    parts = args.split(" ")
    if len(parts) < 2:
        return "-USAGE: <uuid> <var>\n"
    ch = _locate(api, parts[0])
    if ch is None:
        return NO_CHANNEL
    value = ch.get_var(parts[1])
    return "_undef_" if value in (None, "") else str(value)


def _uuid_dump(api: Api, args: str) -> str:
    uuid, _, fmt = args.partition(" ")
    ch = _locate(api, uuid)
    if ch is None:
        return NO_CHANNEL
    event = api.core.channel_event(ch, "CHANNEL_DATA", overrides=dialplan.state_overrides(ch))
    return serialize_json(event) if fmt.strip() == "json" else serialize_plain(event)


def _uuid_buglist(api: Api, args: str) -> str:
    ch = _locate(api, args.split(" ")[0])
    if ch is None:
        return NO_REPLY  # FreeSWITCH writes nothing; mod_event_socket says so
    parts = ["<media-bugs>\n"]
    for rec in ch.recordings:
        parts.append(
            " <media-bug>\n  <function>session_record</function>\n"
            f"  <target>{rec.path}</target>\n  <thread-locked>0</thread-locked>\n </media-bug>\n"
        )
    parts.append("</media-bugs>\n")
    return "".join(parts)


def _dtmf(api: Api, args: str, verb: str) -> str:
    parts = args.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> <dtmf_data>\n"
    ch = _locate(api, parts[0])
    if ch is None:
        return NO_SESSION
    if verb == "sent":
        target, source = (ch.peer or ch.bridged or ch), "UNKNOWN"
        for _, duration in dialplan.parse_dtmf(parts[1]):
            ch.variables["last_dtmf_duration"] = str(duration)
    else:
        target, source = ch, "APP"
    dialplan.dtmf(api.core, target, parts[1], source)
    return f"+OK {ch.uuid} {verb} DTMF {parts[1]}.\n"


def _uuid_broadcast(api: Api, args: str) -> str:
    """The path runs as a playback application on the channel (broadcast_beep.txt): `aleg`
    (the default) and `both` on the channel itself, `bleg` / `both` on its bridge partner;
    an unbridged channel has none, so `bleg` does nothing."""
    parts = args.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
    ch = _locate(api, parts[0])
    if ch is None:
        return "-ERR invalid uuid\n"
    leg = parts[2] if len(parts) > 2 else "aleg"
    targets = [] if leg == "bleg" else [ch]
    if leg in ("bleg", "both") and ch.bridged is not None:
        targets.append(ch.bridged)
    path = parts[1].removeprefix("playback::").removeprefix("playback:")
    start = api.core.ticks + round(BROADCAST_DELAY / media.FRAME_SECONDS)
    for target in targets:
        apps.enqueue(target, apps.Message("playback", path, not_before=start))
    return "+OK Message sent\n"


def _uuid_transfer(api: Api, args: str) -> str:
    """`-bleg` transfers the bridge partner; with `recording_follow_transfer` true on the
    given channel its recordings move to that partner first (mod_commands.c transfer_function
    -> switch_ivr_transfer_recordings: no event for the move; the RECORD_STOP comes later
    from the new leg). The given channel is left unbridged."""
    parts = args.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    ch = _locate(api, parts[0])
    if ch is None:
        return "-ERR No such channel!\n"
    dest = parts[2] if parts[1].startswith("-") and len(parts) > 2 else parts[1]
    if parts[1] in ("-bleg", "-both") and (ch.bridged or ch.peer):
        other = ch.bridged or ch.peer
        if other is not None:
            if parts[1] == "-bleg" and recorder.is_true(ch.get_var("recording_follow_transfer")):
                recordings.move(ch, other)
            if ch.bridged is other:
                ch.bridged = None
            dialplan.transfer(other, dest)
        if parts[1] == "-bleg":
            return "+OK\n"
    dialplan.transfer(ch, dest)
    return "+OK\n"


def _uuid_bridge(api: Api, args: str) -> str:
    parts = args.split()
    if len(parts) < 2:
        return "-USAGE: <uuid> <other_uuid>\n"
    a, b = _locate(api, parts[0]), _locate(api, parts[1])
    if a is None or b is None:
        return f"-ERR Invalid uuid {parts[0] if a is None else parts[1]}\n"
    dialplan.bridge(api.core, a, b)
    return f"+OK {b.uuid}\n"


def _status(api: Api, args: str) -> str:
    """mod_commands' status (heartbeat.txt); the uptime is media time."""
    up_ms = int(api.core.media_time * 1000)
    seconds, ms = divmod(up_ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    live = len(api.core.live_channels())
    return (
        f"UP 0 years, {days} days, {hours} hours, {minutes} minutes, {seconds} seconds, "
        f"{ms} milliseconds, 0 microseconds\n"
        "FreeSWITCH (Version 1.11.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit) is ready\n"
        f"{api.core.sessions_since_start} session(s) since startup\n"
        f"{live} session(s) - peak {live}, last 5min {live} \n"
        "0 session(s) per Sec out of max 1000, peak 0, last 5min 0 \n"
        "2000 session(s) max\nmin idle cpu 0.00/99.03\nCurrent Stack Size/Max 240K/8192K\n"
    )


MODULES = (
    "mod_console", "mod_logfile", "mod_event_socket", "mod_loopback", "mod_commands", "mod_db",
    "mod_dptools", "mod_expr", "mod_hash", "mod_dialplan_xml", "mod_sndfile", "mod_native_file",
    "mod_tone_stream", "mod_shout", "mod_flite",
)


def _module_exists(api: Api, args: str) -> str:
    return "true" if args.strip() in MODULES else "false"


HANDLERS: dict[str, Handler] = {
    "module_exists": _module_exists,
    "version": lambda api, args: (api.core.version or VERSION) + "\n",
    "status": _status,
    "show": lambda api, args: listing.show(api.core, args),
    "originate": _originate,
    "uuid_kill": _uuid_kill,
    "uuid_exists": _uuid_exists,
    "uuid_setvar": _uuid_setvar,
    "uuid_getvar": _uuid_getvar,
    "uuid_dump": _uuid_dump,
    "uuid_buglist": _uuid_buglist,
    "uuid_send_dtmf": lambda api, args: _dtmf(api, args, "sent"),
    "uuid_recv_dtmf": lambda api, args: _dtmf(api, args, "received"),
    "uuid_broadcast": _uuid_broadcast,
    "uuid_transfer": _uuid_transfer,
    "uuid_bridge": _uuid_bridge,
    "uuid_record": lambda api, args: recordings.uuid_record(api.core, args, api.hangup),
}
