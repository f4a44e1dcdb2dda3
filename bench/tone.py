"""The recording bench/media.py and bench/trim.py work on: a stereo 8 kHz 16-bit WAV (what
FreeSWITCH writes for a dual-channel call) of a 440 Hz tone, written a minute at a time."""

from __future__ import annotations

import wave

import numpy as np

RATE = 8000
CHANNELS = 2


def write_tone_wav(path: str, seconds: int, silent_ends_s: float = 0) -> None:
    """`silent_ends_s`: seconds of silence instead of the tone at each end."""
    with wave.open(path, "wb") as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(2)
        out.setframerate(RATE)
        for start in range(0, seconds, 60):
            t = np.arange(start * RATE, min(seconds, start + 60) * RATE) / RATE
            tone = 6000 * np.sin(2 * np.pi * 440 * t)
            if silent_ends_s:
                tone[(t < silent_ends_s) | (t >= seconds - silent_ends_s)] = 0
            out.writeframes(np.repeat(tone.astype("<i2"), CHANNELS).tobytes())
