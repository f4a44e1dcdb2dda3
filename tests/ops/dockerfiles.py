"""Just enough of a Dockerfile and .dockerignore reader for the file checks."""

from __future__ import annotations

import fnmatch
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Instruction:
    keyword: str
    args: str
    stage: int  # index of the FROM it belongs to


def instructions(dockerfile: Path) -> list[Instruction]:
    """The instructions, with continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    stage, pending = -1, ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, args = text.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        out.append(Instruction(keyword.upper(), args.strip(), stage))
    return out


def final_env(dockerfile: Path) -> dict[str, str]:
    """The ENV values (`KEY=value` form) of the image's last stage."""
    steps = instructions(dockerfile)
    last = max(step.stage for step in steps)
    return dict(word.partition("=")[::2] for step in steps
                if step.keyword == "ENV" and step.stage == last
                for word in shlex.split(step.args))


def stage_names(steps: list[Instruction]) -> set[str]:
    names = set()
    for step in steps:
        words = step.args.split()
        if step.keyword == "FROM" and len(words) >= 3 and words[-2].upper() == "AS":
            names.add(words[-1])
    return names


def copy_sources(step: Instruction) -> tuple[dict[str, str], list[str]]:
    """(flags, source paths) of a COPY/ADD instruction (shell form)."""
    words = shlex.split(step.args)
    flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
    paths = [w for w in words if not w.startswith("--")]
    return flags, paths[:-1]


def mount_stages(step: Instruction) -> list[str]:
    """The `from=` stages or contexts of the RUN --mount flags."""
    found = []
    for word in shlex.split(step.args):
        if not word.startswith("--mount="):
            break
        options = dict(kv.partition("=")[::2] for kv in word[len("--mount="):].split(","))
        if "from" in options:
            found.append(options["from"])
    return found


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore `patterns` leave `path` (relative to the context) out: the last
    pattern matching the path or one of its parent directories decides."""
    parts = Path(path.rstrip("/")).parts
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.lstrip("!").strip("/")
        depth = len(Path(body).parts)
        if any(len(Path(c).parts) == depth and fnmatch.fnmatchcase(c, body)
               for c in candidates):
            verdict = not negated
    return verdict


def dockerignore(dockerfile: Path, context: Path) -> list[str]:
    """The patterns BuildKit uses: <Dockerfile>.dockerignore beside it, else the context's."""
    for path in (dockerfile.with_name(dockerfile.name + ".dockerignore"),
                 context / ".dockerignore"):
        if path.exists():
            lines = (line.strip() for line in path.read_text().splitlines())
            return [line for line in lines if line and not line.startswith("#")]
    return []
