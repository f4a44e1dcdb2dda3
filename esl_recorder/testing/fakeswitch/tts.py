"""The `speak` application's text to speech: mod_flite's voices, simulated.

No speech engine runs here: `speak` produces speech-like audio (a voiced buzz at the voice's
pitch, shaped into syllables) that lasts as long as flite took on the captured FreeSWITCH
(script_tts.txt: `flite|kal|Hello world` 1.11 s, `Hello again` with slt 1.22 s from sendmsg to
EXECUTE_COMPLETE) and is about as loud (RMS per 100 ms: kal 1100-1800, slt 4500-7500).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

from esl_recorder.testing.fakeswitch import media

ENGINES = ("flite",)


@dataclass(frozen=True)
class Voice:
    pitch: int  # Hz
    ms_per_char: int
    amplitude: int


VOICES = {
    "kal": Voice(110, 67, 2400),
    "kal16": Voice(110, 67, 2400),
    "awb": Voice(120, 72, 4000),
    "rms": Voice(105, 72, 4000),
    "slt": Voice(190, 77, 8500),
}
LEAD_MS = 250  # silence before the words (script_tts: speech from 0.3 s of the file)
TAIL_MS = 100  # and after them
SYLLABLE_HZ = 4.0


@dataclass(frozen=True)
class Request:
    engine: str
    voice: str
    text: str


def parse(arg: str, variables: dict[str, str]) -> Request | None:
    """`engine|voice|text`, `voice|text` or `text` (engine and voice from tts_engine /
    tts_voice). None when there is no engine or no voice (FreeSWITCH hangs up)."""
    parts = arg.split("|", 2)
    engine = variables.get("tts_engine", "")
    voice = variables.get("tts_voice", "")
    if len(parts) == 3:
        engine, voice, text = parts
    elif len(parts) == 2:
        voice, text = parts
    else:
        text = parts[0]
    if not engine or not voice:
        return None
    return Request(engine, voice, text)


def duration_ms(request: Request) -> int:
    voice = VOICES.get(request.voice)
    if voice is None:
        return 0
    return LEAD_MS + TAIL_MS + voice.ms_per_char * len(request.text.strip())


def synthesize(request: Request) -> media.Playback | None:
    """Speech-like audio for `request`, or None for an unknown engine or voice."""
    voice = VOICES.get(request.voice)
    if request.engine not in ENGINES or voice is None:
        return None
    total = duration_ms(request) * media.RATE // 1000
    lead = LEAD_MS * media.RATE // 1000
    end = max(total - TAIL_MS * media.RATE // 1000, lead)
    samples = array("h", bytes(2 * total))
    for n in range(lead, end):
        t = n / media.RATE
        envelope = 0.55 + 0.45 * math.sin(2 * math.pi * SYLLABLE_HZ * (t - lead / media.RATE))
        phase = 2 * math.pi * voice.pitch * t
        buzz = math.sin(phase) + 0.5 * math.sin(2 * phase) + 0.33 * math.sin(3 * phase)
        samples[n] = media.clamp(round(voice.amplitude * envelope * buzz / 1.3))
    return media.Playback(samples, spec=f"{request.engine}|{request.voice}|{request.text}")
