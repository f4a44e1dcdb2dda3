"""uuid_record: options, the media bug that writes the file, and its completion."""

from __future__ import annotations

import logging
import math
import os
from array import array
from dataclasses import dataclass, field

from esl_recorder.testing.fakeswitch import media
from esl_recorder.testing.fakeswitch.channels import Channel
from esl_recorder.testing.fakeswitch.wavfile import (
    AudioWriter,
    Disk,
    Mp3Writer,
    RawWriter,
    WavWriter,
    mp3_available,
)

log = logging.getLogger(__name__)

DEFAULT_SILENCE_THRESHOLD = 200


# A RECORD_WRITE_ONLY file of FreeSWITCH misses its first 220-280 ms: 1.78 s for 2 s in the
# captures; 240-260 ms less than the both-tracks file of the same 3 s in five differential runs.
WRITE_ONLY_LEAD_FRAMES = 12
# A recording of a channel that sends nothing when it starts (parked, sleeping) misses up to
# its first 0.5 s: 1.52 s for 2 s of a silent call (recordings_facts.json), 3.54 s for 4.03 s
# in script_dtmf, the broadcast beeps 0.5 s early in broadcast_beep's file.
SILENT_START_FRAMES = 25


def is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "yes", "on", "1", "enabled", "active")


def to_int(value: str | None, default: int = 0) -> int:
    try:
        return int(float(value)) if value not in (None, "") else default
    except ValueError:
        return default


@dataclass
class RecordOptions:
    """The RECORD_* variables, read when the recording starts (recording vars first)."""

    stereo: bool = False
    swap: bool = False
    read_only: bool = False
    write_only: bool = False
    rate: int = media.RATE
    min_sec: int = 0
    initial_timeout_ms: int = 0
    final_timeout_ms: int = 0
    threshold: int = 0
    answer_req: bool = False
    bridge_req: bool = False
    append: bool = False
    toggle: bool = False
    hangup_on_error: bool = False

    @classmethod
    def resolve(cls, channel: Channel, rec_vars: dict[str, str]) -> RecordOptions:
        # recording vars, then channel vars, then built-in ones: what channel.get_var gives,
        # without building the built-in variables for each of the 14 names read
        get = {**channel.builtin_variables(), **channel.variables, **rec_vars}.get

        rate = to_int(get("record_sample_rate"), media.RATE)
        detect = bool(get("RECORD_INITIAL_TIMEOUT_MS") or get("RECORD_FINAL_TIMEOUT_MS"))
        append = is_true(get("RECORD_APPEND"))
        return cls(
            stereo=is_true(get("RECORD_STEREO")) or is_true(get("RECORD_STEREO_SWAP")),
            swap=is_true(get("RECORD_STEREO_SWAP")),
            read_only=is_true(get("RECORD_READ_ONLY")),
            write_only=is_true(get("RECORD_WRITE_ONLY")),
            rate=rate if rate in media.VALID_RATES else media.RATE,
            min_sec=to_int(get("RECORD_MIN_SEC"), 3 if append else 0),
            initial_timeout_ms=to_int(get("RECORD_INITIAL_TIMEOUT_MS")),
            final_timeout_ms=to_int(get("RECORD_FINAL_TIMEOUT_MS")),
            threshold=to_int(
                get("RECORD_SILENCE_THRESHOLD"), DEFAULT_SILENCE_THRESHOLD if detect else 0
            ),
            answer_req=is_true(get("RECORD_ANSWER_REQ")),
            bridge_req=is_true(get("RECORD_BRIDGE_REQ")),
            append=append,
            toggle=is_true(get("RECORD_TOGGLE_ON_REPEAT")),
            hangup_on_error=is_true(get("RECORD_HANGUP_ON_ERROR")),
        )

    @property
    def channels(self) -> int:
        return 2 if self.stereo and not (self.read_only or self.write_only) else 1


class RecordError(Exception):
    """The file could not be opened; `cause` is set on the channel when not None."""

    def __init__(self, cause: str | None) -> None:
        super().__init__(cause or "open failed")
        self.cause = cause


@dataclass(eq=False)
class Recording:
    channel: Channel
    path: str
    fmt: str  # wav | mp3 | native
    options: RecordOptions
    limit: int
    rec_vars: dict[str, str]
    start_wall: float
    writers: list[AudioWriter] = field(default_factory=list)
    paused: bool = False
    masked: bool = False
    frames: int = 0  # samples written per channel, counted at the channel rate (8 kHz)
    heard_sound: bool = False
    silent_ms: int = 0  # since the first frame of the current silence
    in_silence: bool = False
    elapsed_ms: int = 0
    write_lead: int = 0  # write-only frames left out so far (WRITE_ONLY_LEAD_FRAMES)
    silent_lead: int = 0  # frames left out while the channel sent nothing at the start
    disk: Disk | None = None  # the recordings file system (unlimited when None)
    write_failed: bool = False  # the file system filled: the rest is counted, not written

    @property
    def flags(self) -> dict[str, object]:
        return {
            "format": self.fmt,
            "stereo": self.options.stereo,
            "rate": self.options.rate,
            "paused": self.paused,
            "masked": self.masked,
            "limit": self.limit,
        }

    def open(self) -> None:
        """Create directories and open the file(s); raise RecordError like FreeSWITCH fails."""
        directory = os.path.dirname(self.path)
        try:
            if directory and not os.path.isdir(directory):  # one stat when it exists
                os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise RecordError("uri-failure") from exc
        try:
            self.writers = self._make_writers()
        except OSError as exc:
            raise RecordError(None) from exc

    def _make_writers(self) -> list[AudioWriter]:
        opts = self.options
        if self.fmt == "native":
            return [
                RawWriter(f"{self.path}-in.L16", opts.append),
                RawWriter(f"{self.path}-out.L16", opts.append),
            ]
        if self.fmt == "mp3":
            return [Mp3Writer(self.path, opts.channels, opts.rate, opts.append)]
        return [WavWriter(self.path, opts.channels, opts.rate, opts.append, self.disk)]

    def feed(self, read: media.Frame, write: media.Frame, now_wall: float) -> str | None:
        """Write one 20 ms tick; return a completion cause when the recording must stop."""
        ch = self.channel
        if self.options.answer_req and not ch.answered:
            return None
        if self.options.bridge_req and ch.bridged is None:
            return self._check_limit(now_wall)
        self.elapsed_ms += 20
        if not self.paused:
            self._write(read, write)
        cause = self._detect_silence(read, write)
        return cause or self._check_limit(now_wall)

    def _write(self, read: media.Frame, write: media.Frame) -> None:
        if self.options.write_only and self.write_lead < WRITE_ONLY_LEAD_FRAMES:
            self.write_lead += 1  # FreeSWITCH's write-only files start this much late
            return
        if not self.frames and self.silent_lead < SILENT_START_FRAMES and not (
                self.channel.sends_audio):
            self.silent_lead += 1
            return
        if self.masked:
            read, write = media.silence(), media.silence()
        self.frames += len(read)
        if self.write_failed:
            return
        try:
            self._write_frames(read, write)
        except OSError as exc:  # FreeSWITCH goes on recording: only RECORD_STOP tells
            log.info("recording %s: write failed (%s); counting on", self.path, exc)
            self.write_failed = True

    def _write_frames(self, read: media.Frame, write: media.Frame) -> None:
        if self.fmt == "native":
            self.writers[0].write(read)
            self.writers[1].write(write)
            return
        self.writers[0].write(self._layout(read, write))

    def _layout(self, read: media.Frame, write: media.Frame) -> array:
        opts = self.options
        rate = opts.rate
        if opts.read_only:
            return media.resample(read, rate)
        if opts.write_only:
            return media.resample(write, rate)
        if opts.stereo:
            left, right = (write, read) if opts.swap else (read, write)
            left, right = media.resample(left, rate), media.resample(right, rate)
            out = array("h", bytes(4 * len(left)))
            out[0::2] = left
            out[1::2] = right
            return out
        return media.resample(media.mix(read, write), rate)

    def _detect_silence(self, read: media.Frame, write: media.Frame) -> str | None:
        opts = self.options
        if not (opts.initial_timeout_ms or opts.final_timeout_ms):
            return None
        level = media.energy(media.mix(read, write))
        if level < opts.threshold:
            # FreeSWITCH's clock of a silence starts at its first frame (record_callback in
            # switch_ivr_async.c: "Start of silence detected"), so the frame that reaches the
            # timeout is written one frame after the timeout's length of silent frames
            self.silent_ms = self.silent_ms + 20 if self.in_silence else 0
            self.in_silence = True
        else:
            self.in_silence = False
            self.heard_sound = True
            self.silent_ms = 0
        if not self.heard_sound and opts.initial_timeout_ms:
            if self.elapsed_ms >= opts.initial_timeout_ms:
                return "no-input-timeout"
        elif self.heard_sound and opts.final_timeout_ms and self.silent_ms >= opts.final_timeout_ms:
            return "success-silence"
        return None

    def _check_limit(self, now_wall: float) -> str | None:
        if self.limit > 0 and math.floor(now_wall) >= math.floor(self.start_wall) + self.limit:
            return "success-maxtime"
        return None

    def finish(self, cause: str) -> tuple[str | None, dict[str, str]]:
        """Close the file(s); return the completion cause to report and the variables to set."""
        try:  # what is buffered reaches the disk before the size is read
            for writer in self.writers:
                writer.flush()
        except OSError:
            self.write_failed = True
        size = self.writers[0].size() if self.writers else 0
        for writer in self.writers:
            writer.close()
        ms = self.frames * 1000 // media.RATE
        values = {
            "record_samples": str(self.frames),
            "record_seconds": str(ms // 1000),
            "record_ms": str(ms),
        }
        if self.fmt == "native":
            return None, values
        if self.fmt == "wav":
            values = {"record_file_size": str(size), **values}
        if self.frames == 0:
            cause = "empty-file"
            self._delete()
            values["RECORD_DISCARDED"] = "true"
        elif not self.options.append and self.options.min_sec and ms < self.options.min_sec * 1000:
            cause = "input-too-short"
            self._delete()
            values["RECORD_DISCARDED"] = "true"
        if self.write_failed:
            cause = "uri-failure"
        values["record_completion_cause"] = cause
        return cause, values

    def abandon(self) -> None:
        for writer in self.writers:
            writer.abandon()

    def _delete(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            log.debug("could not delete %s", self.path)


def parse_record_vars(text: str) -> dict[str, str]:
    """`{k=v,k2=v2}` (already URL-decoded) into a dict, in order."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    out: dict[str, str] = {}
    for item in body.split(","):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            out[name.strip()] = value
    return out


def file_format(path: str) -> str | None:
    """wav / mp3 / native, or None for an extension no loaded module handles."""
    ext = os.path.splitext(os.path.basename(path))[1].lower()
    if not ext:
        return "native"
    if ext == ".wav":
        return "wav"
    if ext == ".mp3" and mp3_available():
        return "mp3"
    return None
