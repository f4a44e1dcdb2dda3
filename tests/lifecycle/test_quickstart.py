"""The README's quick start, run verbatim: install, then `esl-recorder demo` for a few seconds
(it records a demo call, whose media downloads), Ctrl-C, exit 0; then the test command."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import wave
from io import BytesIO
from pathlib import Path

import gevent
import requests

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def quickstart_commands() -> list[str]:
    text = README.read_text()
    section = text.split("<!-- quickstart:begin -->", 1)[1].split("<!-- quickstart:end -->")[0]
    return [line for block in re.findall(r"```sh\n(.*?)```", section, re.S)
            for line in block.splitlines() if line.strip()]


def test_the_quick_start_is_the_demo_then_the_tests() -> None:
    assert quickstart_commands() == ["pip install -e '.[test]' && esl-recorder demo",
                                     "pytest -q"]


def test_the_demo_records_a_call_whose_media_downloads_and_stops_on_ctrl_c() -> None:
    first = quickstart_commands()[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESL_RECORDER_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.Popen(["bash", "-c", first], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        with gevent.Timeout(90, AssertionError(f"no completed recording in {lines}")):
            while not any(line.startswith("Metrics:") for line in lines):
                line = proc.stdout.readline()
                assert line, f"demo ended early: {lines}"
                lines.append(line.rstrip("\n"))
        out = "\n".join(lines)
        done = re.search(r"^recording (\S+) completed: (http://127\.0\.0\.1:\d+/\S+\.wav)$", out,
                         re.M)
        assert done, out
        media = done.group(2)
        creds = re.search(rf"curl -s -u (\S+):(\S+) -o demo\.wav {re.escape(media)}$", out, re.M)
        assert creds, out
        got = requests.get(media, auth=(creds.group(1), creds.group(2)), timeout=10)
        assert got.status_code == 200
        with wave.open(BytesIO(got.content)) as wav:
            assert wav.getnframes() / wav.getframerate() >= 1.5
        assert requests.get(media, timeout=10).status_code == 401
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()



# commands that stay in the foreground until stopped
FOREGROUND = re.compile(r"esl-recorder (run|demo|fakeswitch)\b|python -m esl_recorder\b"
                        r"|docker compose\b.*\bup\b(?!.*(\s-d\b|--detach|--wait))")


def shell_blocks(text: str) -> list[list[str]]:
    """The command lines of each fenced block (sh, bash or unlabelled), continuations
    joined, comments left out."""
    blocks: list[list[str]] = []
    current: list[str] | None = None  # the shell block being read
    fenced = False
    for line in text.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
            current = [] if fenced and stripped[3:] in ("", "sh", "bash") else None
            if current is not None:
                blocks.append(current)
        elif current is not None and stripped and not stripped.startswith("#"):
            current.append(line.split(" #", 1)[0])
    return blocks


def test_no_readme_block_runs_a_line_behind_a_foreground_process() -> None:
    """A command that serves until stopped ends its block: a line after it in the same
    block would never run (each terminal of a how-to gets a block of its own)."""
    readmes = [README, *sorted(p for p in ROOT.glob("*/**/README.md")
                               if not any(part.startswith(".") for part in p.parts))]
    blocked = [f"{readme.relative_to(ROOT)}: {line}" for readme in readmes
               for block in shell_blocks(readme.read_text()) for line in block[:-1]
               if FOREGROUND.search(line)]
    assert blocked == []
