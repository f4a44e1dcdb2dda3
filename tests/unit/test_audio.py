import math
import struct
import wave
from pathlib import Path

import lameenc
import numpy as np
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


def _write_pcm(path: Path, samples: np.ndarray, rate: int = 8000) -> None:
    """Write frames x channels int16 samples as a 16-bit PCM WAV."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def test_trim_keeps_exactly_the_loud_span_and_its_margin(tmp_path: Path) -> None:
    rate, frames = 8000, 8000 * 5
    samples = np.zeros((frames, 2), dtype=np.int16)
    samples[:, 0] = 150  # under the threshold (200) on every frame: still silence
    samples[12_000, 1] = -32768  # the first loud frame: only its right sample, at full scale
    samples[12_001:20_000, 0] = 3000
    samples[27_999, 1] = 200  # the last loud frame: exactly the threshold
    p = tmp_path / "stereo.wav"
    _write_pcm(p, samples, rate)
    margin = rate * 100 // 1000
    start, end = 12_000 - margin, 27_999 + 1 + margin
    removed = audio.trim_wav_silence(str(p), keep_ms=100)
    assert removed == (frames - (end - start)) * 1000 // rate
    with wave.open(str(p)) as w:
        assert (w.getnchannels(), w.getnframes()) == (2, end - start)
        assert w.readframes(end - start) == samples[start:end].tobytes()
    assert audio.inspect(str(p)).duration_ms == (end - start) * 1000 // rate


def test_trim_finds_loud_frames_across_read_chunks(tmp_path: Path) -> None:
    # 80 s of stereo 8 kHz is 2.5 MB: read in several chunks, the loud span crossing them
    frames = 8000 * 80
    samples = np.zeros((frames, 2), dtype=np.int16)
    first, last = 262_143, 524_289
    samples[first, 0] = 5000
    samples[last, 1] = -5000
    p = tmp_path / "long.wav"
    _write_pcm(p, samples)
    audio.trim_wav_silence(str(p), keep_ms=0)
    with wave.open(str(p)) as w:
        assert w.getnframes() == last - first + 1
        kept = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    assert kept[0, 0] == 5000 and kept[-1, 1] == -5000


def test_trim_of_a_silent_file_leaves_no_audio(tmp_path: Path) -> None:
    p = tmp_path / "silent.wav"
    _write_pcm(p, np.full((8000, 1), -199, dtype=np.int16))
    assert audio.trim_wav_silence(str(p)) == 1000
    assert audio.inspect(str(p)).duration_ms == 0


def test_trim_refuses_what_is_not_16_bit_pcm(tmp_path: Path) -> None:
    p = tmp_path / "u8.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes([128]) * 8000)
    before = p.read_bytes()
    with pytest.raises(audio.AudioError):
        audio.trim_wav_silence(str(p))
    assert p.read_bytes() == before


@pytest.mark.parametrize(("seconds", "rate", "channels", "kbps"),
                         [(3, 8000, 1, 16), (60, 8000, 1, 16), (20, 16000, 2, 32),
                          (10, 44100, 2, 128)])
def test_mp3_duration_of_a_lame_encoded_file(tmp_path: Path, seconds: int, rate: int,
                                             channels: int, kbps: int) -> None:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(channels)
    encoder.set_quality(7)
    t = np.arange(seconds * rate) / rate
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    p = tmp_path / "lame.mp3"
    p.write_bytes(encoder.encode(np.repeat(tone, channels).tobytes()) + encoder.flush())
    facts = audio.inspect(str(p))
    assert (facts.channels, facts.sample_rate) == (channels, rate)
    # LAME adds its encoder delay and pads the last frame: at most ~1,700 samples more
    assert seconds * 1000 <= facts.duration_ms <= seconds * 1000 + 1700 * 1000 // rate


def test_mp3_without_frames_is_not_audio(tmp_path: Path) -> None:
    p = tmp_path / "x.mp3"
    p.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x05hello" + b"\x00" * 5000)
    with pytest.raises(audio.AudioError):
        audio.inspect(str(p))
