"""Measure what a recording holds: channels, rate, duration, and which tone per channel."""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass


@dataclass(frozen=True)
class WavInfo:
    channels: int
    rate: int
    duration: float
    tones: list[set[int]]  # per channel: which of 440/880 Hz are present
    rms_windows: list[float]  # channel 0, per 100 ms


def goertzel(samples: list[int], rate: int, freq: float) -> float:
    """Amplitude of `freq` in `samples`."""
    n = len(samples)
    if n == 0:
        return 0.0
    k = round(n * freq / rate)
    w = 2 * math.pi * k / n
    coeff = 2 * math.cos(w)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2, s1 = s1, s0
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2 * math.sqrt(max(power, 0.0)) / n


def analyse(path: str) -> WavInfo:
    with wave.open(path) as w:
        channels, rate, frames = w.getnchannels(), w.getframerate(), w.getnframes()
        raw = w.readframes(frames)
    samples = memoryview(raw).cast("h").tolist()
    per_channel = [samples[c::channels] for c in range(channels)]
    tones = []
    for chan in per_channel:
        window = chan[: rate // 2]
        tones.append({f for f in (440, 880) if goertzel(window, rate, f) > 1000})
    win = rate // 10
    ch0 = per_channel[0]
    rms = [math.sqrt(sum(x * x for x in ch0[i:i + win]) / win)
           for i in range(0, len(ch0) - win + 1, win)]
    return WavInfo(channels, rate, frames / rate, tones, rms)
