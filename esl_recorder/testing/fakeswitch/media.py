"""Audio frames: tones, silence, mixing, energy, resampling, and the tone_stream parser."""

from __future__ import annotations

import functools
import math
import re
import wave
from array import array
from dataclasses import dataclass, field

RATE = 8000
FRAME_SAMPLES = 160
FRAME_SECONDS = FRAME_SAMPLES / RATE
AMPLITUDE = 10187  # per-tone peak measured on FreeSWITCH's tone_stream (recordings_facts.json)
VALID_RATES = (8000, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

Frame = array  # array('h') of FRAME_SAMPLES signed 16-bit samples
ENDLESS_MS = 50_000  # an endless stream (loops=-1, silence_stream://-1) is cut at 50 s


@functools.cache
def _tone_second(freq: int) -> array:
    """One second of a sine at an integer frequency: it repeats exactly every second."""
    step = 2 * math.pi * freq / RATE
    return array("h", (round(AMPLITUDE * math.sin(step * n)) for n in range(RATE)))


def tone_frame(freqs: tuple[int, ...], sample_index: int) -> Frame:
    """The frame starting at absolute sample `sample_index` of the sum of `freqs`."""
    if not freqs:
        return silence()
    start = sample_index % RATE
    if len(freqs) == 1:
        table = _tone_second(freqs[0])
        end = start + FRAME_SAMPLES
        return table[start:end] if end <= RATE else table[start:] + table[: end - RATE]
    tables = [_tone_second(f) for f in freqs]
    out = array("h", bytes(2 * FRAME_SAMPLES))
    for i in range(FRAME_SAMPLES):
        pos = (start + i) % RATE
        out[i] = clamp(sum(t[pos] for t in tables))
    return out


def tone_samples(freq: int, count: int) -> array:
    """`count` samples of a sine at `freq` from sample 0."""
    table = _tone_second(freq)
    whole, rest = divmod(count, RATE)
    return table * whole + table[:rest]


def silence() -> Frame:
    return array("h", bytes(2 * FRAME_SAMPLES))


def clamp(value: int) -> int:
    return -32768 if value < -32768 else 32767 if value > 32767 else value


def mix(a: Frame, b: Frame) -> Frame:
    return array("h", (clamp(x + y) for x, y in zip(a, b, strict=True)))


def energy(frame: Frame) -> int:
    """FreeSWITCH's silence-detection energy: average absolute sample value."""
    return sum(abs(s) for s in frame) // max(len(frame), 1)


def resample(frame: Frame, rate: int) -> Frame:
    """Linear interpolation from 8 kHz to `rate`."""
    if rate == RATE:
        return frame
    n_out = len(frame) * rate // RATE
    out = array("h", bytes(2 * n_out))
    last = len(frame) - 1
    for i in range(n_out):
        pos = i * RATE / rate
        lo = int(pos)
        hi = min(lo + 1, last)
        frac = pos - lo
        out[i] = clamp(round(frame[lo] * (1 - frac) + frame[hi] * frac))
    return out


@dataclass
class Playback:
    """Audio queued by uuid_broadcast: samples at 8 kHz, consumed frame by frame."""

    samples: array = field(default_factory=lambda: array("h"))
    pos: int = 0
    spec: str = ""

    def next_frame(self) -> Frame | None:
        if self.pos >= len(self.samples):
            return None
        chunk = self.samples[self.pos : self.pos + FRAME_SAMPLES]
        self.pos += FRAME_SAMPLES
        if len(chunk) < FRAME_SAMPLES:
            chunk.extend([0] * (FRAME_SAMPLES - len(chunk)))
        return chunk


_TONE = re.compile(r"%\(([^)]*)\)")


def parse_playable(spec: str) -> Playback | None:
    """tone_stream://%(on,off,f1[,f2]);loops=N, silence_stream://ms, or a wav file path."""
    spec = spec.removeprefix("playback::").removeprefix("playback:")
    playback = _playable(spec)
    if playback is not None:
        playback.spec = spec
    return playback


def _playable(spec: str) -> Playback | None:
    if spec.startswith("tone_stream://"):
        return _tone_stream(spec.removeprefix("tone_stream://"))
    if spec.startswith("silence_stream://"):
        text = spec.removeprefix("silence_stream://").split(",")[0].strip()
        ms = int(text) if text.lstrip("-").isdigit() else 0
        ms = ENDLESS_MS if ms < 0 else ms  # -1: until something stops it
        return Playback(array("h", bytes(2 * ms * RATE // 1000)))
    return _wav_file(spec)


def _tone_stream(body: str) -> Playback | None:
    loops = 1
    loop_match = re.search(r"loops=(-?\d+)", body)
    if loop_match:
        loops = int(loop_match.group(1))
    loops = 50 if loops < 0 else max(loops, 1)  # endless tones are capped at 50 rounds
    one = array("h")
    for group in _TONE.findall(body):
        parts = [int(float(p)) for p in group.split(",") if p.strip()]
        if len(parts) < 3:
            continue
        on, off, freqs = parts[0], parts[1], tuple(parts[2:])
        table = [_tone_second(f) for f in freqs]
        n_on = on * RATE // 1000
        one.extend(clamp(sum(t[i % RATE] for t in table)) for i in range(n_on))
        one.extend([0] * (off * RATE // 1000))
    if not one:
        return None
    return Playback(one * loops)


def _wav_file(path: str) -> Playback | None:
    """A 16-bit PCM wav, mixed down to mono and brought to 8 kHz (mod_sndfile does both)."""
    try:
        with wave.open(path, "rb") as wav:
            if wav.getsampwidth() != 2:
                return None
            channels, rate = wav.getnchannels(), wav.getframerate()
            data = array("h", wav.readframes(wav.getnframes()))
    except (OSError, wave.Error, EOFError):
        return None
    if channels > 1:
        data = array("h", (sum(data[i:i + channels]) // channels
                           for i in range(0, len(data) - channels + 1, channels)))
    return Playback(to_channel_rate(data, rate))


def to_channel_rate(samples: array, rate: int) -> array:
    """Linear interpolation from `rate` to the channel's 8 kHz."""
    if rate == RATE or not samples:
        return samples
    count = len(samples) * RATE // rate
    last = len(samples) - 1
    out = array("h", bytes(2 * count))
    for i in range(count):
        pos = i * rate / RATE
        lo = min(int(pos), last)
        hi = min(lo + 1, last)
        frac = pos - lo
        out[i] = clamp(round(samples[lo] * (1 - frac) + samples[hi] * frac))
    return out
