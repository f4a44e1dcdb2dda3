"""Extract event templates from the FreeSWITCH wire captures.

Run it again whenever the captures change::

    python -m esl_recorder.testing.fakeswitch.extract_templates [WIRE_DIR]

For every plain-format event in the captures (and the CHANNEL_DATA of `uuid_dump` and of the
outbound `connect` reply) it
writes `templates/<key>.txt`, one `Name: value` line per header in FreeSWITCH's order, values
URL-encoded exactly as on the wire. The key is `<Event-Name>[.<role>][.<Application>]`:

* role is the loopback leg (`a` / `b`) of the standard `tone_b` call, `<ext>_<leg>` for other
  extensions (e.g. `no_such_extension_a`) and `inner_<leg>` for the `tone_b` pair that
  `bridge_tone_b` creates in the bridged-call capture;
* the Application is added for CHANNEL_EXECUTE_COMPLETE, the Channel-State for CHANNEL_STATE,
  `hangup` for a RECORD_STOP sent because the channel hung up, `connect` for the CHANNEL_DATA
  an outbound socket gets as `connect` reply (its Content-Type/Reply-Text/Socket-Mode/Control
  trailer is left out).

Values that the simulator computes are replaced by `@@placeholder@@` (an `@` is always encoded
as `%40` on the wire, so a placeholder cannot clash with real data): channel uuids become
`@@uuid:<role>@@`, plus `@@core_uuid@@`, `@@seq@@`, `@@ts@@`, `@@date_local@@`,
`@@date_gmt@@`, `@@name@@` (the channel name), `@@created_us@@`, `@@answered_us@@`,
`@@hangup_us@@`, `@@bridged_us@@`.
Headers that depend on the recording (`Record-*`, `Recording-Variable-*`) and the variables the
recorder or a test sets (`variable_record_*`, `variable_RECORD_*`, `variable_my_var`) are left
out: the simulator adds them from its own state. The first occurrence of a key wins, in the
order of `SOURCES`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from esl_recorder.testing.fakeswitch.templates import SCRIPT_VARIABLES
from esl_recorder.testing.transcripts import Block, read_blocks, wire_dir

# Captures of call scripts (sendmsg execute): their templates leave out what the simulator's
# application engine sets itself (the Application-* and Playback-* headers, the variables the
# applications change), and their keys tell the Application of CHANNEL_EXECUTE too and whether
# the channel had hung up (`.hangup`).
SCRIPT_SOURCES = (
    "script_inbound",
    "script_dtmf",
    "script_tts",
    "script_outbound",
    "broadcast_beep",
    "record_disk_full",
)
SCRIPT_MANAGED_HEADERS = (
    "Application",
    "Application-Data",
    "Application-Response",
    "Application-UUID",
    "Playback-File-Path",
    "Playback-File-Type",
    "Playback-Status",
)
# Script captures whose caller leg ran an inline application (`originate ... &park`): its
# profile differs from a caller sent through the dialplan (no transfer headers), so its
# templates get their own role, `script_park_inline_a`.
INLINE_CALLER_SOURCES = ("script_tts", "broadcast_beep")
SOURCES = (
    "events_plain_call",
    "events_bridge_call",
    "dtmf",
    "errors",
    "filters",
    "record_variants",
    "show_channels",
    "outbound",
    "heartbeat",
    *SCRIPT_SOURCES,
)
CONNECT_TRAILER = ("Content-Type", "Reply-Text", "Socket-Mode", "Control")
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_TIME_FIELDS = {
    "Caller-Channel-Created-Time": "created_us",
    "Caller-Profile-Created-Time": "created_us",
    "Caller-Channel-Answered-Time": "answered_us",
    "Caller-Channel-Hangup-Time": "hangup_us",
    "Caller-Channel-Bridged-Time": "bridged_us",
}
_FIXED = {
    "Event-Date-Local": "date_local",
    "Event-Date-GMT": "date_gmt",
    "Event-Date-Timestamp": "ts",
    "Event-Sequence": "seq",
}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_managed(name: str) -> bool:
    """Headers the simulator adds from its own state rather than from a template."""
    return (
        name.startswith(("Record-", "Recording-Variable-", "variable_record_", "variable_RECORD_"))
        or name == "variable_my_var"
    )


def parse_plain(text: str) -> list[tuple[str, str]]:
    """Header lines of one plain event (encoded values), body dropped."""
    head = text.split("\n\n", 1)[0]
    pairs = []
    for line in head.split("\n"):
        name, _, value = line.partition(": ")
        if name != "Content-Length":
            pairs.append((name, value))
    return pairs


def role_of(channel_name: str, source: str) -> str:
    ext, _, leg = channel_name.removeprefix("loopback/").rpartition("-")
    if ext == "tone_b":
        return f"inner_{leg}" if source == "events_bridge_call" else leg
    if source in INLINE_CALLER_SOURCES and leg == "a":
        return f"{ext}_inline_a"
    return f"{ext}_{leg}"


def is_script_managed(name: str) -> bool:
    """Headers of the script captures that the application engine adds itself."""
    return name in SCRIPT_MANAGED_HEADERS or name.startswith(SCRIPT_VARIABLES)


def template_key(headers: list[tuple[str, str]], source: str) -> str:
    values = dict(headers)
    key = values.get("Event-Name", "UNKNOWN")
    script = source in SCRIPT_SOURCES
    if "Channel-Name" in values:
        key += "." + role_of(values["Channel-Name"], source)
    executes = ("CHANNEL_EXECUTE",) if script else ("CHANNEL_EXECUTE_COMPLETE",)
    if key.startswith(executes) and "Application" in values:
        key += "." + values["Application"]
    if script and key.startswith(("CHANNEL_EXECUTE", "CHANNEL_UNPARK", "PLAYBACK_")):
        key += ".hangup" if "Hangup-Cause" in values else ""
    if key.startswith("CHANNEL_STATE") and "Channel-State" in values:
        key += "." + values["Channel-State"]
    if key.startswith("RECORD_") and "Hangup-Cause" in values:
        key += ".hangup"
    if key.startswith("CHANNEL_DATA") and "Socket-Mode" in values:
        key += ".connect"
    return key


def placeholderize(
    headers: list[tuple[str, str]], roles: dict[str, str], script: bool = False
) -> list[tuple[str, str]]:
    values = dict(headers)
    core = values.get("Core-UUID", "")
    channel_name = values.get("Channel-Name")
    out = []
    for name, value in headers:
        if is_managed(name) or (name in CONNECT_TRAILER and "Socket-Mode" in values):
            continue
        if script and is_script_managed(name):
            continue
        if name in _FIXED:
            value = f"@@{_FIXED[name]}@@"
        elif name in _TIME_FIELDS and value != "0":
            value = f"@@{_TIME_FIELDS[name]}@@"
        elif name == "Core-UUID":
            value = "@@core_uuid@@"
        elif channel_name and value == channel_name:
            value = "@@name@@"
        else:
            value = _UUID.sub(lambda m: _uuid_placeholder(m.group(0), roles, core), value)
        out.append((name, value))
    return out


def _uuid_placeholder(uuid: str, roles: dict[str, str], core: str) -> str:
    if uuid == core:
        return "@@core_uuid@@"
    return f"@@uuid:{roles[uuid]}@@" if uuid in roles else uuid


def channel_roles(blocks: list[Block], source: str) -> dict[str, str]:
    roles: dict[str, str] = {}
    for block in blocks:
        text = block.payload.decode("utf-8", "replace")
        uuid = re.search(r"\nUnique-ID: (\S+)", text)
        name = re.search(r"\nChannel-Name: (\S+)", text)
        if uuid and name and name.group(1).startswith("loopback/"):
            roles.setdefault(uuid.group(1), role_of(name.group(1), source))
    return roles


def event_texts(blocks: list[Block]) -> list[str]:
    """Plain event bodies, plus `uuid_dump` (CHANNEL_DATA) api bodies."""
    texts = []
    for block in blocks:
        if block.kind != "RECV":
            continue
        head, _, body = block.payload.decode("utf-8", "replace").partition("\n\n")
        if "text/event-plain" in head or body.startswith("Event-Name: CHANNEL_DATA"):
            texts.append(body)
        elif head.startswith("Event-Name: CHANNEL_DATA"):  # outbound `connect` reply
            texts.append(head)
    return texts


def extract(source_dir: Path) -> dict[str, list[tuple[str, str]]]:
    templates: dict[str, list[tuple[str, str]]] = {}
    for source in SOURCES:
        blocks = read_blocks(source_dir / f"{source}.txt")
        roles = channel_roles(blocks, source)
        for text in event_texts(blocks):
            headers = parse_plain(text)
            key = template_key(headers, source)
            script = source in SCRIPT_SOURCES
            templates.setdefault(key, placeholderize(headers, roles, script))
    return templates


def write(templates: dict[str, list[tuple[str, str]]], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.txt"):
        old.unlink()
    for key, headers in sorted(templates.items()):
        lines = [f"{name}: {value}" for name, value in headers]
        (target / f"{key}.txt").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    source_dir = Path(args[0]) if args else wire_dir()
    templates = extract(source_dir)
    write(templates, TEMPLATE_DIR)
    print(f"wrote {len(templates)} templates to {TEMPLATE_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
