"""The simulated switch's state: channels, media time, event creation and delivery."""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from gevent.lock import RLock

from esl_recorder.testing.fakeswitch import media, templates
from esl_recorder.testing.fakeswitch.channels import Channel, FrameSet, new_uuid
from esl_recorder.testing.fakeswitch.templates import Headers
from esl_recorder.testing.fakeswitch.wavfile import Disk
from esl_recorder.testing.fakeswitch.wire import Event

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]


class SwitchCore:
    """Everything a FreeSWITCH process holds in memory, minus the sockets."""

    def __init__(self, start_time: float | None = None, sound_prefix: str = "") -> None:
        self.core_uuid = new_uuid()
        self.version = ""  # `api version` (FakeSwitch sets it)
        self.base_time = time.time() if start_time is None else start_time
        self.started = time.time()  # for HEARTBEAT's Up-Time
        self.sound_prefix = sound_prefix
        self.disk = Disk()  # the recordings file system: limit() it to make it fill
        self.channels: dict[str, Channel] = {}
        self.listeners: list[Listener] = []
        self.ticks = 0
        self.sessions_since_start = 0
        self.lock = RLock()
        self._seq = itertools.count(2000)
        self._later: list[Callable[[], None]] = []
        self.held_events: dict[str, list[Event]] = {}  # event name -> those held back
        # `show channels` rows kept after their channel is gone (FakeSwitch.keep_listed)
        self.stale_rows: dict[str, dict[str, str]] = {}
        self._timers: list[tuple[int, Callable[[], None]]] = []
        self.outbound: Callable[[Channel], None] | None = None  # runs the `socket` app
        self._frame_hooks: list[Callable[[FrameSet, list[Channel]], None]] = []
        self._tick_hooks: list[Callable[[list[Channel]], None]] = []  # before the frames
        self._after_hooks: list[Callable[[list[Channel]], None]] = []  # after them
        # call flow the application engine needs (set by FakeSwitch: dialplan functions)
        self.answer_channel: Callable[[Channel], None] | None = None
        self.hangup_channel: Callable[[Channel, str], None] | None = None
        self.finish_hangup: Callable[[Channel], None] | None = None

    # -- time ---------------------------------------------------------------------------------
    @property
    def media_time(self) -> float:
        return self.ticks * media.FRAME_SECONDS

    def now(self) -> float:
        """Wall-clock time as the switch sees it: base time plus media time."""
        return self.base_time + self.media_time

    def now_us(self) -> int:
        return round(self.now() * 1_000_000)

    # -- channels -----------------------------------------------------------------------------
    def locate(self, uuid: str) -> Channel | None:
        ch = self.channels.get(uuid)
        return ch if ch is not None and not ch.hungup else None

    def live_channels(self) -> list[Channel]:
        return [ch for ch in self.channels.values() if not ch.hungup]

    # -- events -------------------------------------------------------------------------------
    def fire(self, event: Event) -> None:
        held = self.held_events.get(event.name)
        if held is not None:
            held.append(event)
            return
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a broken client must not break the switch
                log.exception("event listener failed")

    def core_values(self) -> dict[str, str]:
        ts, date_local, date_gmt = _event_times(self.now())
        return {
            "core_uuid": self.core_uuid,
            "seq": str(next(self._seq)),
            "ts": ts,
            "date_local": date_local,
            "date_gmt": date_gmt,
        }

    def plain_event(self, name: str, extra: Iterable[tuple[str, str]] = ()) -> Event:
        """A non-channel event (BACKGROUND_JOB) from its template."""
        headers = templates.render(templates.layout(name), self.core_values())
        extra = list(extra)
        names = {name for name, _ in extra}
        headers = [h for h in headers if h[0] not in names and not h[0].startswith("Job-")]
        headers += extra
        return Event(name, headers)

    def heartbeat(self) -> Event:
        """HEARTBEAT as switch_core.c's send_heartbeat writes it (heartbeat.txt)."""
        up_ms = max(0, round((time.time() - self.started) * 1000))
        seconds, ms = divmod(up_ms, 1000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        days, hours = divmod(hours, 24)
        state = {
            "Up-Time": f"0 years, {days} days, {hours} hours, {minutes} minutes, "
                       f"{seconds} seconds, {ms} milliseconds, 0 microseconds",
            "Uptime-msec": str(up_ms),
            "Session-Count": str(len(self.live_channels())),
            "Session-Since-Startup": str(self.sessions_since_start),
        }
        headers = templates.render(templates.layout("HEARTBEAT"), self.core_values())
        return Event("HEARTBEAT", [(name, state.get(name, value)) for name, value in headers])

    def channel_event(
        self,
        ch: Channel,
        name: str,
        app: str = "",
        extra: Iterable[tuple[str, str]] = (),
        overrides: dict[str, str] | None = None,
        key: str | None = None,
    ) -> Event:
        """A channel event: the template for the leg's role (or `key`) filled from the
        channel's state."""
        values = self.core_values()
        values.update(
            name=ch.name,
            created_us=str(ch.created_us),
            answered_us=str(ch.answered_us),
            hangup_us=str(ch.hangup_us),
            bridged_us=str(ch.bridged_us),
        )
        values.update({f"uuid:{leg.role}": leg.uuid for leg in ch.call.legs.values()})
        layout = templates.layout_of(key) if key else templates.layout(name, ch.role, app)
        headers = templates.render(layout, values, _uuid_fallback(ch, layout.role))
        # a hung-up channel's events carry its cause (FreeSWITCH's basic event data)
        cause = ({"Hangup-Cause": ch.hangup_cause, "variable_hangup_cause": ch.hangup_cause}
                 if ch.hungup else {})
        _apply(headers, layout, {**cause, **(overrides or {})})
        if layout.last_variable >= 0:
            _merge_variables(headers, layout, ch.variables)
        if ch.scripted:  # the engine's variables are only those the channel holds
            headers = [h for h in headers if not h[0].startswith(templates.SCRIPT_VARIABLES)
                       or h[0][9:] in ch.variables]
        _caller_name(headers, ch.variables)  # last: it may add a header (moves the indexes)
        return Event(name, headers + list(extra))

    def emit(
        self,
        ch: Channel,
        name: str,
        app: str = "",
        extra: Iterable[tuple[str, str]] = (),
        overrides: dict[str, str] | None = None,
    ) -> None:
        """Build and fire a channel event; events without any template are skipped."""
        try:
            event = self.channel_event(ch, name, app, extra, overrides)
        except KeyError:
            log.debug("no template for %s/%s/%s", name, ch.role, app)
            return
        self.fire(event)

    # -- media clock --------------------------------------------------------------------------
    def later(self, action: Callable[[], None]) -> None:
        """Run `action` at the start of the next 20 ms tick."""
        self._later.append(action)

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        """Run `action` once `seconds` of media time have passed."""
        due = self.ticks + max(round(seconds / media.FRAME_SECONDS), 1)
        self._timers.append((due, action))

    def run_pending(self) -> None:
        """Run the actions queued for the next tick now (test-driven hangups finish at once)."""
        with self.lock:
            while self._later:
                pending, self._later = self._later, []
                for action in pending:
                    action()

    def on_frame(self, hook: Callable[[FrameSet, list[Channel]], None]) -> None:
        self._frame_hooks.append(hook)

    def on_tick(self, before: Callable[[list[Channel]], None],
                after: Callable[[list[Channel]], None]) -> None:
        """Hooks run on every tick before the frames are made and after they were used."""
        self._tick_hooks.append(before)
        self._after_hooks.append(after)

    def tick(self) -> None:
        """Produce one 20 ms frame for every channel."""
        with self.lock:
            pending, self._later = self._later, []
            for action in pending:
                action()
            self.ticks += 1
            due = [action for at, action in self._timers if at <= self.ticks]
            self._timers = [(at, action) for at, action in self._timers if at > self.ticks]
            for action in due:
                action()
            live = self.live_channels()
            for before in self._tick_hooks:
                before(live)
            live = self.live_channels()
            frames = FrameSet(live)
            for hook in self._frame_hooks:
                hook(frames, live)
            for after in self._after_hooks:
                after(live)
            for ch in live:
                ch.sample_index += media.FRAME_SAMPLES


@functools.lru_cache(maxsize=4)  # the events of one media tick (all, under a manual clock) share it
def _event_times(now: float) -> tuple[str, str, str]:
    """Event-Date-Timestamp, Event-Date-Local and Event-Date-GMT of the time `now`."""
    local = datetime.fromtimestamp(now)
    gmt = datetime.fromtimestamp(now, UTC)
    return (
        str(round(now * 1_000_000)),
        local.strftime("%Y-%m-%d %H:%M:%S"),
        gmt.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    )


def _uuid_fallback(ch: Channel, template_role: str) -> Callable[[str], str]:
    """Uuids for a template captured on another role: itself, its peer, its bridge partner."""

    def fill(name: str) -> str:
        role = name.removeprefix("uuid:")
        if name == role:
            return ""
        if role == template_role:
            return ch.uuid
        if ch.peer is not None and role[:-1] == template_role[:-1]:
            return ch.peer.uuid
        return ch.bridged.uuid if ch.bridged is not None else ""

    return fill


def _apply(headers: Headers, layout: templates.Layout, overrides: dict[str, str]) -> None:
    """Overrides replace the value of every header of their name (in place)."""
    for name, value in overrides.items():
        for index in layout.positions.get(name, ()):
            headers[index] = (name, value)


def _caller_name(headers: Headers, variables: dict[str, str]) -> None:
    """The caller id name the channel was given (FreeSWITCH's caller profile: `caller_id_name`
    here, or an originate's `origination_caller_id_name`) as Caller-Caller-ID-Name, where
    FreeSWITCH writes it: before Caller-Caller-ID-Number (no header when there is none)."""
    name = variables.get("origination_caller_id_name") or variables.get("caller_id_name")
    if not name:
        return
    names = [h[0] for h in headers]
    if "Caller-Caller-ID-Name" in names:
        headers[names.index("Caller-Caller-ID-Name")] = ("Caller-Caller-ID-Name", name)
    elif "Caller-Caller-ID-Number" in names:
        headers.insert(names.index("Caller-Caller-ID-Number"), ("Caller-Caller-ID-Name", name))


def _merge_variables(headers: Headers, layout: templates.Layout, variables: dict[str, str]) -> None:
    """Channel variables replace template values in place (the first header of their name);
    new ones follow the last variable, in the channel's order."""
    new = []
    for name, value in variables.items():
        header = f"variable_{name}"
        if header in layout.positions:
            headers[layout.positions[header][0]] = (header, value)
        else:
            new.append((header, value))
    end = layout.last_variable + 1
    headers[end:end] = new
