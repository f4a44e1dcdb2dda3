"""`show channels` / `show calls`: mod_commands' channel listings."""

from __future__ import annotations

import json
from datetime import datetime

from esl_recorder.testing.fakeswitch.channels import APPLICATION, Channel
from esl_recorder.testing.fakeswitch.core import SwitchCore

CHANNEL_FIELDS = [
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "application",
    "application_data",
    "dialplan",
    "context",
    "read_codec",
    "read_rate",
    "read_bit_rate",
    "write_codec",
    "write_rate",
    "write_bit_rate",
    "secure",
    "hostname",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "sent_callee_name",
    "sent_callee_num",
    "initial_cid_name",
    "initial_cid_num",
    "initial_ip_addr",
    "initial_dest",
    "initial_dialplan",
    "initial_context",
]
CALL_FIELDS = [
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "hostname",
    "sent_callee_name",
    "sent_callee_num",
    "b_uuid",
    "b_direction",
    "b_created",
    "b_created_epoch",
    "b_name",
    "b_state",
    "b_cid_name",
    "b_cid_num",
    "b_ip_addr",
    "b_dest",
    "b_presence_id",
    "b_presence_data",
    "b_accountcode",
    "b_callstate",
    "b_callee_name",
    "b_callee_num",
    "b_callee_direction",
    "b_sent_callee_name",
    "b_sent_callee_num",
    "call_created_epoch",
]


def channel_row(core: SwitchCore, ch: Channel) -> dict[str, str]:
    """The channel's `show channels` row (also kept for FakeSwitch.keep_listed)."""
    outbound = ch.direction == "outbound"
    app, data = APPLICATION.get(ch.ext, ("park", ""))
    created = ch.created_us / 1_000_000
    row = dict.fromkeys(CHANNEL_FIELDS, "")
    row.update(
        uuid=ch.uuid,
        direction=ch.direction,
        created=datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M:%S"),
        created_epoch=str(int(created)),
        name=ch.name,
        state=ch.state,
        cid_name="Outbound Call" if outbound else "",
        cid_num="rectest" if outbound else "0000000000",
        dest=ch.ext if outbound else ch.name.removeprefix("loopback/").rsplit("-", 1)[0],
        # an unanswered leg parked by its dialplan lists `park` (the live server's
        # script_park B leg: application park, callstate RINGING)
        application=app if ch.answered or ch.parked else "",
        application_data=data if ch.answered else "",
        dialplan="XML" if outbound else "xml",
        context="rectest",
        read_codec="L16",
        read_rate="8000",
        read_bit_rate="128000",
        write_codec="L16",
        write_rate="8000",
        write_bit_rate="128000",
        hostname="vm",
        callstate=ch.call_state,
        callee_name="" if outbound else "Outbound Call",
        callee_num="0000000000" if outbound else "rectest",
        callee_direction="RECV" if outbound else "",
        call_uuid=ch.uuid if outbound else "",
        initial_cid_num="0000000000",
        initial_dest=ch.name.removeprefix("loopback/").rsplit("-", 1)[0],
        initial_dialplan="xml",
        initial_context="rectest",
    )
    return row


def _rows(core: SwitchCore, fields: list[str]) -> list[dict[str, str]]:
    live = core.live_channels()
    full_rows = [channel_row(core, ch) for ch in live]
    shown = {ch.uuid for ch in live}
    full_rows += [row for uuid, row in core.stale_rows.items() if uuid not in shown]
    return [{f: full.get(f, "") for f in fields} for full in full_rows]


def show(core: SwitchCore, args: str) -> str:
    """`show channels|calls [count|as json]`."""
    words = args.split()
    if not words or words[0] not in ("channels", "calls"):
        return "-USAGE: show <channels|calls|...> [as json]\n"
    fields = CHANNEL_FIELDS if words[0] == "channels" else CALL_FIELDS
    rows = _rows(core, fields)
    if words[1:2] == ["count"]:
        return f"\n{len(rows)} total.\n"
    if words[1:3] == ["as", "json"]:
        if not rows:
            return '{"row_count": 0}\n'
        return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"))
    lines = [",".join(fields)] + [",".join(r[f] for f in fields) for r in rows]
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"
