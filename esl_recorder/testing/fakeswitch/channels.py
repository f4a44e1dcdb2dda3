"""Channel state: one FreeSWITCH session (a call leg) and the call it belongs to."""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from esl_recorder.testing.fakeswitch import media

if TYPE_CHECKING:
    from esl_recorder.testing.fakeswitch.apps import AppRun, Message
    from esl_recorder.testing.fakeswitch.recorder import Recording

# What each dialplan extension of context `rectest` sends once it runs (Hz; empty = nothing).
EXTENSIONS: dict[str, tuple[int, ...]] = {
    "tone_a": (440,),
    "tone_b": (880,),
    "silence": (),
    "echo": (),
    "bridge_tone_b": (),
    "park": (),
    "outbound_esl": (),
    "script_park": (),
}
APPLICATION = {
    "tone_a": ("playback", "tone_stream://%(1000,0,440);loops=-1"),
    "tone_b": ("playback", "tone_stream://%(1000,0,880);loops=-1"),
    "silence": ("park", ""),
    "park": ("park", ""),
    "echo": ("echo", ""),
    "bridge_tone_b": ("bridge", "{loopback_bowout=false}loopback/tone_b/rectest"),
    "outbound_esl": ("socket", "127.0.0.1:8084 async full"),
    "script_park": ("park", ""),
}
# Extensions whose channel waits, parked, for a call script (sendmsg execute) to answer it.
SCRIPT_EXTENSIONS = {"script_park": {"esl_recorder_script": "demo"}}
SOUND_PREFIX = "/usr/freeswitch/share/freeswitch/sounds/en/us/callie"
BASE_VARIABLES = {
    "read_codec": "L16",
    "read_rate": "8000",
    "write_codec": "L16",
    "write_rate": "8000",
    "sound_prefix": SOUND_PREFIX,
}


def new_uuid() -> str:
    return str(uuid_module.uuid4())


@dataclass(eq=False)
class Call:
    """The legs created together by one originate (2 loopback legs, 4 for a bridged call)."""

    legs: dict[str, Channel] = field(default_factory=dict)
    kind: str = "loopback"  # loopback | bridge | inbound | script
    on_answer: list[Callable[[str], None]] = field(default_factory=list)  # originate waits


@dataclass(eq=False)
class Channel:
    uuid: str
    name: str
    role: str
    direction: str
    ext: str
    call: Call
    created_us: int
    variables: dict[str, str] = field(default_factory=dict)
    answered: bool = False
    early_media: bool = False
    hungup: bool = False
    state: str = "CS_INIT"
    answered_us: int = 0
    hangup_us: int = 0
    bridged_us: int = 0
    peer: Channel | None = None  # the other loopback leg: what it sends, this one hears
    bridged: Channel | None = None  # bridge partner: this one sends what the partner hears
    recordings: list[Recording] = field(default_factory=list)
    hangup_cause: str = "NORMAL_CLEARING"
    parked: bool = False
    sample_index: int = 0
    # the application engine (apps.py): messages queued by sendmsg, applications running
    # (a stack: a playback runs messages that arrive without event-lock inside itself), the
    # uuid of the application the dialplan left the channel in (park, socket)
    app_queue: list[Message] = field(default_factory=list)
    apps: list[AppRun] = field(default_factory=list)
    dialplan_run: AppRun | None = None
    scripted: bool = False  # the application engine knows its dialplan application
    executing: int = 0  # an application's code is running (a hangup completes it first)
    app_audio: media.Playback | None = None

    @property
    def answer_state(self) -> str:
        if self.hungup:
            return "hangup"
        if self.answered:
            return "answered"
        return "early" if self.early_media else "ringing"

    @property
    def call_state(self) -> str:
        if self.hungup:
            return "HANGUP"
        if self.answered:
            return "ACTIVE"
        return "EARLY" if self.early_media else "RINGING"

    @property
    def has_media(self) -> bool:
        return not self.hungup and (self.answered or self.early_media)

    @property
    def playback(self) -> object | None:
        """The playback playing or waiting to play on this channel (sendmsg, uuid_broadcast)."""
        running = [run for run in self.apps if run.msg.app == "playback"]
        queued = [msg for msg in self.app_queue if msg.app == "playback"]
        return (running or queued or [None])[-1]

    @property
    def sends_audio(self) -> bool:
        """It writes media: a playing application, its extension's tone, a bridge, echo."""
        return self.has_media and (
            self.app_audio is not None or bool(EXTENSIONS.get(self.ext))
            or self.bridged is not None or self.ext == "echo"
        )

    def get_var(self, name: str) -> str | None:
        if name in self.variables:
            return self.variables[name]
        return self.builtin_variables().get(name)

    def builtin_variables(self) -> dict[str, str]:
        values = dict(BASE_VARIABLES)
        values.update(uuid=self.uuid, call_uuid=self.uuid, channel_name=self.name)
        values["direction"] = self.direction
        if self.peer is not None:
            values["other_loopback_leg_uuid"] = self.peer.uuid
            values["loopback_leg"] = self.role.rsplit("_", 1)[-1].upper()
        app, data = APPLICATION.get(self.ext, ("park", ""))
        if self.answered:
            values["current_application"] = app
            if data:
                values["current_application_data"] = data
        return values

    def take_playback_frame(self) -> media.Frame | None:
        """Consume this tick's frame of the application playing (playback, speak), if any."""
        if self.app_audio is None or not self.has_media:
            return None
        return self.app_audio.next_frame() or media.silence()


class FrameSet:
    """The read/write frames of every channel for one 20 ms tick (computed once, memoised)."""

    def __init__(self, channels: list[Channel]) -> None:
        self._playback = {ch: ch.take_playback_frame() for ch in channels}
        self._write: dict[Channel, media.Frame] = {}

    def write(self, ch: Channel, depth: int = 0) -> media.Frame:
        """What `ch` sends during this tick."""
        if ch in self._write:
            return self._write[ch]
        frame = self._compute_write(ch, depth)
        if depth == 0 or frame is not None:
            self._write[ch] = frame
        return frame

    def read(self, ch: Channel, depth: int = 0) -> media.Frame:
        """What `ch` hears during this tick."""
        if ch.peer is None or not ch.has_media or depth > 6:
            return media.silence()
        return self.write(ch.peer, depth + 1)

    def _compute_write(self, ch: Channel, depth: int) -> media.Frame:
        if not ch.has_media or depth > 6:
            return media.silence()
        played = self._playback.get(ch)
        if played is not None:
            return played
        if ch.bridged is not None:
            return self.read(ch.bridged, depth + 1)
        if ch.ext == "echo":
            return self.read(ch, depth + 1)
        return media.tone_frame(EXTENSIONS.get(ch.ext, ()), ch.sample_index)
