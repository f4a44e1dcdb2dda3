import math
import struct
import wave
from pathlib import Path

import pytest

from esl_recorder.domain import audio


def write_wav(path: Path, seconds: float, channels: int = 1, rate: int = 8000,
              loud: tuple[float, float] = (0.0, 1e9)) -> None:
    frames = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        value = int(8000 * math.sin(2 * math.pi * 440 * t)) if loud[0] <= t < loud[1] else 0
        frames += struct.pack("<h", value) * channels
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


def test_facts_come_from_the_file(tmp_path: Path) -> None:
    p = tmp_path / "a.wav"
    write_wav(p, 1.5, channels=2, rate=16000)
    facts = audio.inspect(str(p))
    assert (facts.duration_ms, facts.channels, facts.sample_rate) == (1500, 2, 16000)
    assert facts.size == p.stat().st_size == 44 + 1.5 * 16000 * 4
    assert len(facts.sha256) == 64


def test_stale_header_left_by_a_crash_is_repaired(tmp_path: Path) -> None:
    p = tmp_path / "crash.wav"
    write_wav(p, 2.0)
    with open(p, "r+b") as fh:  # what libsndfile leaves before close: zero sizes
        fh.seek(4)
        fh.write(struct.pack("<I", 36))
        fh.seek(40)
        fh.write(struct.pack("<I", 0))
        fh.seek(0, 2)
        fh.write(b"\x01")  # half a frame written when the process died
    assert audio.read_wav_layout(str(p)).stale
    assert audio.repair_wav_header(str(p))
    with wave.open(str(p)) as w:
        assert (w.getnframes(), w.getframerate()) == (16000, 8000)
    assert not audio.repair_wav_header(str(p))


def test_trim_cuts_leading_and_trailing_silence(tmp_path: Path) -> None:
    p = tmp_path / "t.wav"
    write_wav(p, 3.0, loud=(1.0, 2.0))
    removed = audio.trim_wav_silence(str(p), keep_ms=0)
    assert 1990 <= removed <= 2010
    assert 990 <= audio.inspect(str(p)).duration_ms <= 1010


def test_trim_keeps_a_file_without_silence(tmp_path: Path) -> None:
    p = tmp_path / "full.wav"
    write_wav(p, 1.0)
    before = p.read_bytes()
    assert audio.trim_wav_silence(str(p)) == 0
    assert p.read_bytes() == before


def test_not_audio(tmp_path: Path) -> None:
    p = tmp_path / "x.wav"
    p.write_bytes(b"hello world, not a riff file")
    with pytest.raises(audio.AudioError):
        audio.inspect(str(p))


def test_mp3_duration_from_frame_headers(tmp_path: Path) -> None:
    # MPEG-2.5 Layer III, 16 kbit/s, 8 kHz, mono: what mod_shout writes for an 8 kHz call.
    header = bytes([0xFF, 0xE2, 0x28, 0xC4])  # version 0 (2.5), layer III, br idx 2, rate 8k
    length = 576 // 8 * 16000 // 8000
    frame = header + bytes(length - 4)
    p = tmp_path / "a.mp3"
    p.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x05hello" + frame * 50)
    facts = audio.inspect(str(p))
    assert (facts.channels, facts.sample_rate) == (1, 8000)
    assert facts.duration_ms == 50 * 576 * 1000 // 8000
