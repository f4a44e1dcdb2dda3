"""The files the call-script captures recorded, made again by the simulator, against the facts
FreeSWITCH's files gave (recordings_facts_extra.json): length, channels, and where each test
tone (or speech) is, per channel."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import pytest

from esl_recorder.testing.transcripts import wire_dir

from .replay import CAPTURE_ROOT, Replayer
from .wireclient import WavInfo, goertzel, read_wav, rms

TONE_WINDOW = 0.05  # what the capture tool measured (record_tones)
SOUND_WINDOW = 0.1
# FreeSWITCH's lengths vary by a frame or two from run to run, the simulator starts an
# application on the next 20 ms tick where FreeSWITCH takes 20-40 ms, and the measured windows
# fall differently on a tone's edges
TOLERANCE = 0.12
# script_tts's file lacks 0.15 s that the simulator writes (FreeSWITCH's recording of a
# channel that has just started to send)
DURATION_TOLERANCE = 0.15


@functools.cache
def facts() -> dict[str, dict[str, object]]:
    data = json.loads((wire_dir() / "recordings_facts_extra.json").read_text())
    return {name: scenarios[0] for name, scenarios in data.items()}


@functools.cache
def replayed_files(name: str, tmp: str) -> Path:
    Replayer(name, Path(tmp)).run()
    return Path(tmp)


def recordings_of(name: str) -> list[dict[str, object]]:
    files = facts()[name].get("files", [])
    assert isinstance(files, list)
    return [f for f in files if "_rec" in f["path"] or "script.wav" in f["path"]
            or "beep_stereo" in f["path"]]


CASES = [(name, rec["path"]) for name in facts() for rec in recordings_of(name)]


def intervals(present: list[bool], window: float) -> list[tuple[float, float]]:
    """Runs of windows where something is present, as (start, end) like the capture tool's."""
    runs: list[tuple[float, float]] = []
    for index, here in enumerate(present):
        if not here:
            continue
        start, end = round(index * window, 2), round((index + 1) * window, 2)
        if runs and math.isclose(runs[-1][1], start):
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs


def parse_intervals(text: str, window: float) -> list[tuple[float, float]]:
    """The capture's runs; a run of one window (script_dtmf's 770 Hz in the first 50 ms: the
    onset of the file's first frame, not a tone) is left out."""
    if text.strip() == "-":
        return []
    runs = [(float(a), float(b)) for a, b in (part.split("-") for part in text.split())]
    return [(a, b) for a, b in runs if b - a > window + 1e-9]


def tone_runs(wav: WavInfo, channel: int, freq: int, threshold: float) -> list[tuple[float, float]]:
    step = int(wav.rate * TONE_WINDOW)
    samples = wav.samples[channel]
    present = [goertzel(samples[i:i + step], wav.rate, freq) > threshold
               for i in range(0, len(samples) - step + 1, step)]
    return intervals(present, TONE_WINDOW)


def assert_close(got: list[tuple[float, float]], want: list[tuple[float, float]], what: str,
                 tolerance: float = TOLERANCE) -> None:
    assert len(got) == len(want), f"{what}: {got} != {want}"
    for (a, b), (c, d) in zip(got, want, strict=True):
        assert abs(a - c) <= tolerance and abs(b - d) <= tolerance, f"{what}: {got} != {want}"


@pytest.mark.parametrize(("name", "capture_path"), CASES)
def test_recording_matches_freeswitch(
    name: str, capture_path: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = replayed_files(name, str(tmp_path_factory.mktemp(name)))
    want = next(f for f in recordings_of(name) if f["path"] == capture_path)
    wav = read_wav(str(root / "fswire" / capture_path.removeprefix(CAPTURE_ROOT + "/")))
    assert (wav.channels, wav.rate) == (want["channels"], want["sample_rate"])
    assert abs(wav.duration - float(want["duration_s"])) <= DURATION_TOLERANCE, wav.duration
    scenario = facts()[name]
    tones = scenario.get("record_tones")
    if isinstance(tones, dict):
        for channel, expected in enumerate(tones["per_channel"]):
            for key, text in expected.items():
                freq = int(key.removesuffix("Hz"))
                got = tone_runs(wav, channel, freq, float(tones["threshold_amp"]))
                want_runs = parse_intervals(text, TONE_WINDOW)
                assert_close(got, want_runs, f"{name} ch{channel} {key}")
    sound = scenario.get("sound")
    if isinstance(sound, dict):
        step = int(wav.rate * SOUND_WINDOW)
        samples = wav.samples[0]
        present = [rms(samples[i:i + step]) > float(sound["rms_threshold"])
                   for i in range(0, len(samples) - step + 1, step)]
        got = intervals(present, SOUND_WINDOW)
        want_runs = parse_intervals(sound["sound"], SOUND_WINDOW)
        assert_close(got, want_runs, f"{name} speech", tolerance=0.2)
