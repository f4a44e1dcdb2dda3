"""SWML `play` of http(s) URLs: fetched once (through the delivery target policy) into
<recording.root>/_media and played from there; a URL deliveries may not reach fails the
script without a connection."""

from __future__ import annotations

import io
import logging
import math
import wave
from pathlib import Path

import pytest

from .conftest import ScriptedFactory


def tone_wav(seconds: float = 0.5, freq: int = 660) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(
            int(8000 * math.sin(2 * math.pi * freq * i / 8000)).to_bytes(2, "little",
                                                                         signed=True)
            for i in range(int(8000 * seconds))))
    return out.getvalue()


def test_a_url_is_fetched_once_and_played_from_a_local_copy(
        scripted_factory: ScriptedFactory, tmp_path: Path) -> None:
    sim = scripted_factory({"url": "version: 1.0.0"})
    audio = tone_wav()
    sim.documents.media["/greeting"] = (audio, "audio/wav")
    url = sim.documents.url("/greeting")
    sim.documents.documents["/url.swml"] = (
        "version: 1.0.0\nsections:\n  main:\n"
        f"    - play: {{urls: ['{url}', '{url}']}}\n")
    b = sim.call("url")
    sim.run(b)
    plays = [a for a in sim.applications(b) if a[0] == "playback"]
    assert len(plays) == 2 and plays[0] == plays[1]
    path = Path(plays[0][1])
    assert plays[0][2] == "FILE PLAYED"
    assert path.parent == tmp_path / "recordings" / "_media" and path.suffix == ".wav"
    assert path.read_bytes() == audio
    assert sim.documents.requests["/greeting"] == 1


@pytest.mark.parametrize("url,problem", [
    ("http://10.1.2.3/hello.wav", "not public and not in delivery.allowed_networks"),
    ("ftp://127.0.0.1/hello.wav", "cannot play"),
    ("/etc/../etc/passwd.wav", "not a tone, a silence or a safe absolute"),
])
def test_unplayable_urls_fail_the_script(scripted_factory: ScriptedFactory,
                                         caplog: pytest.LogCaptureFixture, url: str,
                                         problem: str) -> None:
    sim = scripted_factory({"bad": f"version: 1.0.0\nsections:\n  main:\n"
                                   f"    - play: {{url: '{url}'}}\n"})
    b = sim.call("bad")
    sim.run(b)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and b in errors[0] and problem in errors[0], errors
    assert [a[0] for a in sim.applications(b)] == ["hangup"]
