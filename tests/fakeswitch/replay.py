"""Replay a FreeSWITCH wire capture against the simulator and line up what comes back.

The capture's SEND blocks are sent, in order, on the same connections, with the manual media
clock advanced to each block's `t`. Capture uuids are mapped to the simulator's as they are
learnt (position by position from replies and events), and capture paths under /tmp/fswire to a
temporary directory. Each step (a CONNECT or SEND) owns the messages that follow it until the
next step; an event that FreeSWITCH delivered after the next SEND but before that SEND's reply
(RECORD_START comes 10-30 ms late) is counted in the earlier step, where the simulator, whose
api is synchronous, delivers it.
"""

from __future__ import annotations

import json
import re
import socket
import wave
from dataclasses import dataclass, field
from pathlib import Path

from esl_recorder.testing.fakeswitch import FakeSwitch, commands, media
from esl_recorder.testing.transcripts import Block, read_blocks, wire_dir

from .wireclient import Message, WireClient, parse_message

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CAPTURE_ROOT = "/tmp/fswire"
CAPTURE_PREFIX = "/usr/freeswitch/share/freeswitch/sounds/en/us/callie"
FULL_DISK = "/mnt/fsfull"  # record_disk_full.txt's 64 KiB tmpfs
REPLAYABLE = (
    "auth",
    "events_plain_call",
    "events_json_call",
    "events_xml_call",
    "events_bridge_call",
    "record_variants",
    "errors",
    "dtmf",
    "show_channels",
    "filters",
    "outbound",
    "script_inbound",
    "script_dtmf",
    "script_tts",
    "heartbeat",
    "broadcast_beep",
    "script_outbound",
    "record_disk_full",
)
# The call-script captures come from a build whose version carries git metadata.
GIT_BUILD = ("script_inbound", "script_dtmf", "script_tts", "script_outbound", "heartbeat",
             "broadcast_beep", "record_disk_full")
# Files the capture tool created before a scenario (played by `playback`): 8 kHz mono tones.
PROMPTS = {"script_inbound/prompt_660Hz_1s.wav": (660, 1.0)}


@dataclass
class Step:
    index: int
    label: str
    block: Block
    expected: dict[int, list[Message]] = field(default_factory=dict)
    expect_closed: set[int] = field(default_factory=set)
    got: dict[int, list[Message]] = field(default_factory=dict)
    closed: set[int] = field(default_factory=set)


def is_event(message: Message) -> bool:
    return message.content_type.startswith("text/event-")


def steps_of(name: str) -> list[Step]:
    """The capture cut into steps (CONNECT / SEND) with the messages each one should produce."""
    blocks = read_blocks(wire_dir() / f"{name}.txt")
    steps: list[Step] = []
    awaiting_reply: dict[int, Step] = {}
    for block in blocks:
        if block.kind in ("CONNECT", "ACCEPT", "SEND"):
            step = Step(len(steps), _label(len(steps), block), block)
            steps.append(step)
            if block.kind == "SEND":
                awaiting_reply[block.conn] = step
        elif block.kind == "RECV" and steps:
            _place(steps, awaiting_reply, block)
        elif block.kind == "CLOSED" and steps:
            steps[-1].expect_closed.add(block.conn)
    return steps


def _place(steps: list[Step], awaiting: dict[int, Step], block: Block) -> None:
    message = parse_message(block.payload)
    pending = awaiting.get(block.conn)
    owner = steps[-1]
    if pending is not None and is_event(message) and pending.index > 0:
        owner = _previous_step_of_conn(steps, pending)
    elif pending is not None and not is_event(message):
        awaiting.pop(block.conn)
    owner.expected.setdefault(block.conn, []).append(message)


def _previous_step_of_conn(steps: list[Step], pending: Step) -> Step:
    return steps[pending.index - 1]


def _label(index: int, block: Block) -> str:
    if block.kind in ("CONNECT", "ACCEPT"):
        return f"{index:02d}-conn{block.conn}-{block.kind.lower()}"
    first = block.payload.decode().split("\n")[0]
    words = UUID.sub("U", first).split()
    return f"{index:02d}-conn{block.conn}-" + "_".join(words[:3])[:40]


class Replayer:
    """Runs one capture against a fresh simulator and fills `Step.got`."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        self.steps = steps_of(name)
        self.tmp = tmp
        self.cap_to_sim: dict[str, str] = {}
        self.clients: dict[int, WireClient] = {}
        self.now = 0.0
        self.closed: set[int] = set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.switch = FakeSwitch(
            clock="manual",
            recordings_root=str(tmp / "callie"),
            start_time=_capture_base(name),
            outbound_address=self.listener.getsockname(),
            heartbeat_first=7.5 if name == "heartbeat" else None,
            version=commands.GIT_VERSION if name in GIT_BUILD else commands.VERSION,
        )

    # -- mapping ----------------------------------------------------------------------------
    def to_sim(self, text: str) -> str:
        text = text.replace(CAPTURE_ROOT, str(self.tmp / "fswire"))
        text = text.replace(FULL_DISK, str(self.tmp / "fsfull"))
        text = text.replace(CAPTURE_PREFIX, str(self.tmp / "callie"))
        return UUID.sub(lambda m: self.cap_to_sim.get(m.group(0), m.group(0)), text)

    def to_capture(self, text: str) -> str:
        sim_to_cap = {v: k for k, v in self.cap_to_sim.items()}
        text = UUID.sub(lambda m: sim_to_cap.get(m.group(0), m.group(0)), text)
        text = text.replace(str(self.tmp / "fswire"), CAPTURE_ROOT)
        text = text.replace(str(self.tmp / "fsfull"), FULL_DISK)
        return text.replace(str(self.tmp / "callie"), CAPTURE_PREFIX)

    def learn(self, expected: Message, got: Message) -> None:
        for cap, sim in zip(_uuids(expected), _uuids(got), strict=False):
            if cap not in self.cap_to_sim and sim not in self.cap_to_sim.values():
                self.cap_to_sim[cap] = sim

    # -- running ----------------------------------------------------------------------------
    def _write_prompts(self) -> None:
        for relative, (freq, seconds) in PROMPTS.items():
            if relative.startswith(f"{self.name}/"):
                path = self.tmp / "fswire" / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                write_tone_wav(path, freq, seconds)

    def run(self) -> list[Step]:
        self._write_prompts()
        if self.name == "record_disk_full":
            self.switch.recordings_disk.limit(65536)
        self.switch.start()
        try:
            for step in self.steps:
                self._advance_to(step.block.t)
                self._collect_previous(step.index)
                self._do(step)
            self._collect_previous(len(self.steps))
        finally:
            for client in self.clients.values():
                client.close()
            self.switch.stop()
            self.listener.close()
        return self.steps

    def _advance_to(self, t: float) -> None:
        if t > self.now:
            self.switch.advance(t - self.now)
            self.now = t

    def _do(self, step: Step) -> None:
        block = step.block
        if block.kind == "CONNECT":
            self.clients[block.conn] = WireClient(self.switch.address, flush=self.switch.flush)
            return
        if block.kind == "ACCEPT":
            sock, _ = self.listener.accept()
            self.clients[block.conn] = WireClient.accepted(sock, flush=self.switch.flush)
            return
        client = self.clients[block.conn]
        client.send(self.to_sim(block.payload.decode()).encode())
        self._await_reply(step, client)

    def _await_reply(self, step: Step, client: WireClient) -> None:
        """Read up to this SEND's reply so the command ran before the clock moves on."""
        wanted = len(step.expected.get(step.block.conn, []))
        got = step.got.setdefault(step.block.conn, [])
        while wanted and not client.eof:
            try:
                message = client.read(timeout=2.0)
            except TimeoutError:
                return
            got.append(message)
            self._learn_pair(step, step.block.conn, len(got) - 1)
            if not is_event(message):
                return

    def _collect_previous(self, upto: int) -> None:
        if upto == 0:
            return
        step = self.steps[upto - 1]
        self.switch.flush()
        for conn, client in self.clients.items():
            got = step.got.setdefault(conn, [])
            for message in client.pending():
                got.append(message)
                self._learn_pair(step, conn, len(got) - 1)
            if conn not in self.closed and (client.eof or client.wait_closed(0.0)):
                self.closed.add(conn)
                step.closed.add(conn)

    def _learn_pair(self, step: Step, conn: int, index: int) -> None:
        expected = step.expected.get(conn, [])
        if index < len(expected):
            self.learn(expected[index], step.got[conn][index])


def write_tone_wav(path: Path, freq: int, seconds: float) -> None:
    frames = int(media.RATE * seconds)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(media.RATE)
        wav.writeframes(media.tone_samples(freq, frames).tobytes())


def _uuids(message: Message) -> list[str]:
    return UUID.findall(message.raw.decode("utf-8", "replace"))


def _capture_base(name: str) -> float | None:
    for block in read_blocks(wire_dir() / f"{name}.txt"):
        found = re.search(rb"Event-Date-Timestamp(?:: |\":\"|>)(\d{16})", block.payload)
        if found:
            return int(found.group(1)) / 1_000_000 - block.t
    return None


# -- comparison -----------------------------------------------------------------------------
def event_header_names(message: Message) -> list[str]:
    """Header names of an event in any of the three formats (body and its length left out)."""
    body = message.body.decode("utf-8", "replace")
    if message.content_type == "text/event-json":
        return [k for k in json.loads(body) if k not in ("_body", "Content-Length")]
    if message.content_type == "text/event-xml":
        headers = body.split("<headers>", 1)[1].split("</headers>", 1)[0]
        return re.findall(r"^\s*<([A-Za-z0-9_.-]+)>", headers, re.MULTILINE)
    head = body.split("\n\n", 1)[0]
    names = [line.split(": ", 1)[0] for line in head.split("\n") if line]
    return [n for n in names if n != "Content-Length"]


def event_name_of(message: Message) -> str:
    body = message.body.decode("utf-8", "replace")
    if message.content_type == "text/event-json":
        return str(json.loads(body).get("Event-Name"))
    found = re.search(r"Event-Name(?:: |>)([A-Z_]+)", body)
    return found.group(1) if found else ""


def kind(message: Message) -> str:
    if is_event(message):
        return f"{message.content_type}:{event_name_of(message)}"
    return message.content_type


def unique_id(message: Message) -> str:
    """The event's Unique-ID (any format), or '' for events without a channel."""
    if not is_event(message):
        return ""
    body = message.body.decode("utf-8", "replace")
    if message.content_type == "text/event-json":
        return str(json.loads(body).get("Unique-ID", ""))
    found = re.search(r"(?:^|\n)\s*(?:Unique-ID: |<Unique-ID>)([0-9a-f-]{36})", body)
    return found.group(1) if found else ""
