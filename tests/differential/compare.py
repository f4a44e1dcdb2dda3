"""Compare a simulator transcript with a live FreeSWITCH transcript: a list of differences.

What must agree, after normalising what differs by nature (uuids, times, counters, the host
name, the recordings directory):
- framing: for every reply, its Content-Type, its envelope header names in order, and whether
  the server closed the socket;
- reply texts: Reply-Text and every api/response body (`show channels as json` compared row by
  row as data, rows sorted by channel name; `status` by its framing only, see FRAMING_ONLY);
- events: per channel (by Channel-Name) the sequence of event names. Events of different
  channels may interleave in any order, as FreeSWITCH's own threads deliver them that way, and
  within a channel the pairs in SWAPPABLE may come either way round; BACKGROUND_JOB events form
  one sequence of their own;
- each event's header names (as a set: FreeSWITCH itself builds some in hash order) and its
  Hangup-Cause (what the daemon reports a call ended with);
- the Record-Completion-Cause of every RECORD_STOP, per file;
- the files: present or not, channels, sample rate, duration within 50 ms (for MP3, counted in
  whole 72 ms frames, within 50 ms plus one frame), and for WAV which of 440 Hz / 880 Hz sounds
  on which channel.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from daemon.tones import analyse
from fakeswitch.wireclient import Message, event_headers

from .transcript import Transcript

DURATION_TOLERANCE_S = 0.05
MP3_FRAME_S = 576 / 8000  # an MPEG-2.5 layer III frame at 8 kHz: mp3 lengths move in these
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_DATE = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?")
_NUMBER = re.compile(r"\b\d{6,}\b")  # epochs, microsecond times, sequence numbers
_UPTIME = re.compile(r"UP \d+ years?, \d+ days?, \d+ hours?, \d+ minutes?, \d+ seconds?, "
                     r"\d+ milliseconds?, \d+ microseconds?")


def normalise(text: str, t: Transcript, hosts: Iterable[str] = ()) -> str:
    text = text.replace(t.root, "<ROOT>")
    text = _UUID.sub("<UUID>", text)
    text = _DATE.sub("<DATE>", text)
    text = _UPTIME.sub("<UPTIME>", text)
    for host in hosts:
        if host:
            text = text.replace(host, "<HOST>")
    return _NUMBER.sub("<N>", text)


def _hosts(t: Transcript) -> set[str]:
    names = set()
    for m in t.events:
        h = dict(event_headers(m))
        names.update(v for k, v in h.items() if k in ("FreeSWITCH-Hostname", "FreeSWITCH-IPv4",
                                                      "FreeSWITCH-IPv6", "FreeSWITCH-Switchname"))
    return names


def _body(m: Message, t: Transcript, hosts: set[str]) -> str:
    text = m.body.decode(errors="replace")
    if text.startswith("{") and '"row_count"' in text:
        return _channels_json(text, t, hosts)
    return normalise(text, t, hosts)


# `show channels` reads FreeSWITCH's database, which a thread of its own updates after the
# channel changes: these columns of the A leg were seen still holding the originate's values
# (dest tone_b, dialplan xml) a second after the call ran its extension. Compared by name only.
LAGGING_COLUMNS = frozenset({"dest", "dialplan", "application", "application_data"})


def _channels_json(text: str, t: Transcript, hosts: set[str]) -> str:
    """The rows of this scenario's channels (a shared server may carry other calls)."""
    ours = {dict(event_headers(m)).get("Unique-ID") for m in t.events}
    rows = sorted((r for r in json.loads(text).get("rows") or [] if r.get("uuid") in ours),
                  key=lambda r: r.get("name", ""))
    norm = [{k: "<LAGGING>" if k in LAGGING_COLUMNS else normalise(str(v), t, hosts)
             for k, v in r.items()} for r in rows]
    return json.dumps(norm, sort_keys=True)


# Replies made of the server's own counters and build facts (`status`: uptime, sessions since
# startup, the limits of its switch.conf, the version of the source it was built from, with or
# without git): the daemon reads none of it (any reply to its liveness probe counts).
FRAMING_ONLY = frozenset({"api status"})


def compare_exchanges(sim: Transcript, live: Transcript) -> list[str]:
    diffs: list[str] = []
    labels = ([e.label for e in sim.exchanges], [e.label for e in live.exchanges])
    if labels[0] != labels[1]:
        diffs.append(f"exchanges differ: simulator {labels[0]} / freeswitch {labels[1]}")
        return diffs
    hs, hl = _hosts(sim), _hosts(live)
    for a, b in zip(sim.exchanges, live.exchanges, strict=True):
        where = f"reply to {a.label!r} ({normalise(a.command, sim)!r})"
        if a.reply.content_type != b.reply.content_type:
            diffs.append(f"{where}: Content-Type {a.reply.content_type!r} != "
                         f"{b.reply.content_type!r}")
        names = ([k for k, _ in a.reply.headers], [k for k, _ in b.reply.headers])
        if names[0] != names[1]:
            diffs.append(f"{where}: envelope headers {names[0]} != {names[1]}")
        texts = [normalise(x.reply.header("Reply-Text") or "", t, h)
                 for x, t, h in ((a, sim, hs), (b, live, hl))]
        if texts[0] != texts[1]:
            diffs.append(f"{where}: Reply-Text {texts[0]!r} != {texts[1]!r}")
        bodies = (_body(a.reply, sim, hs), _body(b.reply, live, hl))
        if bodies[0] != bodies[1] and a.command not in FRAMING_ONLY:
            diffs.append(f"{where}: body {bodies[0]!r} != {bodies[1]!r}")
    if sim.closed != live.closed:
        diffs.append(f"closed by the server: simulator {sim.closed} / freeswitch {live.closed}")
    return diffs


Stream = list[tuple[str, frozenset[str], str]]


def _streams(t: Transcript) -> dict[str, Stream]:
    """Per channel name (or BACKGROUND_JOB), the events in order: name, header names and
    Hangup-Cause ('' when the event has none)."""
    streams: dict[str, Stream] = defaultdict(list)
    for m in t.events:
        pairs = event_headers(m)
        h = dict(pairs)
        name = h.get("Event-Name", "?")
        key = "BACKGROUND_JOB" if name == "BACKGROUND_JOB" else h.get("Channel-Name", "?")
        streams[key].append((name, frozenset(k for k, _ in pairs), h.get("Hangup-Cause", "")))
    return streams


# Pairs of events FreeSWITCH fires from different threads for one channel, so they reach a
# listener in either order (each seen on the live server): the originate thread answers (or,
# for an unknown extension, hangs up) the A leg while its session thread announces it; the
# hangup and its completion likewise.
SWAPPABLE = {frozenset({"CHANNEL_CREATE", "CHANNEL_ANSWER"}),
             frozenset({"CHANNEL_CREATE", "CHANNEL_HANGUP"}),
             frozenset({"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"})}
NATURAL = {"CHANNEL_CREATE": 0, "CHANNEL_ANSWER": 1, "CHANNEL_HANGUP": 2,
           "CHANNEL_HANGUP_COMPLETE": 3}  # the order when no race intervenes


def canonical_order(events: Stream) -> tuple[Stream, set[int]]:
    """Neighbours that form a SWAPPABLE pair put in their NATURAL order, so either order
    compares equal; also the positions that were swapped (what they carry depends on the race)."""
    out, swapped = list(events), set()
    for i in range(len(out) - 1):
        a, b = out[i][0], out[i + 1][0]
        if frozenset({a, b}) in SWAPPABLE and NATURAL[a] > NATURAL[b]:
            out[i], out[i + 1] = out[i + 1], out[i]
            swapped |= {i, i + 1}
    return out, swapped


# B's playback thread races A's hangup: when the playback ends first, B's hangup events carry
# what it left (the simulator follows the capture where the hangup won; see tests/fakeswitch).
PLAYBACK_RACE = frozenset({
    "variable_current_application_response", "variable_playback_last_offset_pos",
    "variable_playback_ms", "variable_playback_samples", "variable_playback_seconds"})


# A channel's session thread sets these in its hangup state (switch_core_state_machine.c,
# switch_core_session_hangup_state: hangup_cause, hangup_cause_q850, then
# switch_channel_set_timestamps: the call's timestamps (answer_epoch, billsec, uduration,
# waitmsec, ...), digits_dialed, hold_accum_*, last_app, last_arg, caller_id; then the
# endpoint's own hangup handler: mod_loopback's is_loopback), racing the CHANNEL_HANGUP that
# the thread hanging the call up fires: on a busy machine the live server's hangup now and
# then carries them already. CHANNEL_HANGUP_COMPLETE always does.
TIMESTAMP_RACE = re.compile(r"variable_(?:\w*(?:epoch|stamp|sec|duration)|hangup_cause"
                            r"|hangup_cause_q850|digits_dialed|hold_accum_\w+|last_app"
                            r"|last_arg|caller_id|is_loopback)")


# The A leg of an originate to an extension is answered by the originate thread while it is
# transferred into that extension: on a busy machine the live server's CHANNEL_ANSWER now and
# then carries the caller profile and variables of after the transfer (Caller-Transfer-Source,
# transfer_history, current_application, a flipped caller id). Seen once in nine live runs.
TRANSFER_MARK = "Caller-Transfer-Source"


def _without_timestamps(names: frozenset[str]) -> frozenset[str]:
    return frozenset(n for n in names if not TIMESTAMP_RACE.fullmatch(n))


def _fixed(names: frozenset[str]) -> frozenset[str]:
    """The headers of an event that came out of order, minus what depends on the race: the
    channel variables and caller profile of that moment, and the Hangup-Cause an announcement
    made after the hangup carries."""
    return frozenset(n for n in names if not n.startswith(("variable_", "Caller-"))
                     and n != "Hangup-Cause")


def compare_events(sim: Transcript, live: Transcript) -> list[str]:
    diffs: list[str] = []
    a = {k: canonical_order(v) for k, v in _streams(sim).items()}
    b = {k: canonical_order(v) for k, v in _streams(live).items()}
    if set(a) != set(b):
        diffs.append(f"channels with events: simulator {sorted(a)} / freeswitch {sorted(b)}")
    for key in sorted(set(a) & set(b)):
        (sa, raced_a), (sb, raced_b) = a[key], b[key]
        names = ([e[0] for e in sa], [e[0] for e in sb])
        if names[0] != names[1]:
            diffs.append(f"{key}: event order simulator {names[0]} / freeswitch {names[1]}")
            continue
        for n, ((event, ha, cause_a), (_, hb, cause_b)) in enumerate(zip(sa, sb, strict=True)):
            if cause_a and cause_b and cause_a != cause_b:
                diffs.append(f"{key}: {event} #{n} Hangup-Cause simulator {cause_a!r} / "
                             f"freeswitch {cause_b!r}")
            answer_raced = event == "CHANNEL_ANSWER" and TRANSFER_MARK in ha ^ hb
            if n in raced_a | raced_b or answer_raced:  # what it carries depends on the race
                ha, hb = _fixed(ha), _fixed(hb)
            elif event.startswith("CHANNEL_HANGUP"):
                ha, hb = ha - PLAYBACK_RACE, hb - PLAYBACK_RACE
                if event == "CHANNEL_HANGUP":
                    ha, hb = _without_timestamps(ha), _without_timestamps(hb)
            if ha != hb:
                diffs.append(f"{key}: {event} #{n} header names: only simulator "
                             f"{sorted(ha - hb)}, only freeswitch {sorted(hb - ha)}")
    return diffs


def _causes(t: Transcript) -> dict[str, str]:
    out = {}
    for m in t.events:
        h = dict(event_headers(m))
        if h.get("Event-Name") == "RECORD_STOP":
            path = normalise(h.get("Record-File-Path", "").replace("%2F", "/"), t)
            out[path] = h.get("Record-Completion-Cause", "")
    return out


def compare_causes(sim: Transcript, live: Transcript) -> list[str]:
    a, b = _causes(sim), _causes(live)
    return [f"RECORD_STOP {path}: Record-Completion-Cause simulator {a.get(path)!r} / "
            f"freeswitch {b.get(path)!r}" for path in sorted(set(a) | set(b))
            if a.get(path) != b.get(path)]


def audio_facts(path: str) -> dict[str, object] | None:
    p = Path(path)
    if not p.exists():
        return None
    if p.suffix == ".mp3":
        return mp3_facts(p.read_bytes())
    info = analyse(path)
    return {"channels": info.channels, "rate": info.rate, "duration": info.duration,
            "tones": [sorted(t) for t in info.tones]}


_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_MP3_KBPS = {1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
             0: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}


def mp3_facts(data: bytes) -> dict[str, object]:
    """Walk the MPEG audio frames: sample rate, channels, duration (layer III)."""
    i, frames, rate, channels, samples = 0, 0, 0, 0, 0
    if data[:3] == b"ID3":
        i = 10 + ((data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9])
    while i + 4 <= len(data):
        b1, b2, b3 = data[i + 1], data[i + 2], data[i + 3]
        version = (b1 >> 3) & 3
        if data[i] != 0xFF or (b1 & 0xE0) != 0xE0 or version == 1 or (b2 >> 4) in (0, 15):
            break
        rate = _MP3_RATES[version][(b2 >> 2) & 3]
        kbps = _MP3_KBPS[1 if version == 3 else 0][b2 >> 4]
        per_frame = 1152 if version == 3 else 576
        size = (144 if version == 3 else 72) * kbps * 1000 // rate + ((b2 >> 1) & 1)
        channels = 1 if (b3 >> 6) == 3 else 2
        frames, samples, i = frames + 1, samples + per_frame, i + size
    return {"channels": channels, "rate": rate, "frames": frames,
            "duration": samples / rate if rate else 0.0}


def label_is_mp3(facts: dict[str, object]) -> bool:
    return "frames" in facts


def compare_files(sim: Transcript, live: Transcript) -> list[str]:
    diffs = []
    for label in sorted(set(sim.files) | set(live.files)):
        a = audio_facts(sim.files[label]) if label in sim.files else None
        b = audio_facts(live.files[label]) if label in live.files else None
        if a is None or b is None:
            if (a is None) != (b is None):
                diffs.append(f"file {label}: exists on simulator {a is not None}, "
                             f"on freeswitch {b is not None}")
            continue
        for key in sorted(set(a) | set(b)):
            va, vb = a.get(key), b.get(key)
            if key == "duration":
                slack = DURATION_TOLERANCE_S + (MP3_FRAME_S if label_is_mp3(a) else 0.0)
                if abs(float(str(va)) - float(str(vb))) > slack:
                    diffs.append(f"file {label}: duration {va:.3f} s != {vb:.3f} s")
            elif key != "frames" and va != vb:
                diffs.append(f"file {label}: {key} {va} != {vb}")
    return diffs


def compare(sim: Transcript, live: Transcript) -> list[str]:
    return (compare_exchanges(sim, live) + compare_events(sim, live)
            + compare_causes(sim, live) + compare_files(sim, live))
