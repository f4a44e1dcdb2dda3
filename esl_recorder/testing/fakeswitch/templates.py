"""Event templates extracted from the captures (see extract_templates.py) and their rendering."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from esl_recorder.esl.codec import fs_url_decode

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_PLACEHOLDER = re.compile(r"@@([A-Za-z0-9_:]+)@@")

Headers = list[tuple[str, str]]


@functools.cache
def load_all() -> dict[str, Headers]:
    """Every template, keyed by file stem; values kept encoded until rendering."""
    templates: dict[str, Headers] = {}
    for path in sorted(TEMPLATE_DIR.glob("*.txt")):
        pairs: Headers = []
        for line in path.read_text().splitlines():
            name, _, value = line.partition(": ")
            pairs.append((name, value))
        templates[path.stem] = pairs
    return templates


def find(event_name: str, role: str = "", app: str = "") -> Headers:
    """The best template for an event, falling back from the specific role to the plain leg."""
    return find_keyed(event_name, role, app)[1]


def template_role(key: str) -> str:
    """The leg role a template was captured on (`a`, `inner_b`, ...), '' for none."""
    parts = key.split(".")
    return parts[1] if len(parts) > 1 and not parts[1].startswith("CS_") else ""


def find_keyed(event_name: str, role: str = "", app: str = "") -> tuple[str, Headers]:
    """Like find(), also returning the template's key."""
    templates = load_all()
    leg = role.rsplit("_", 1)[-1] if role else ""
    candidates = []
    for r in dict.fromkeys([role, leg, "a", "b", ""]):
        base = f"{event_name}.{r}" if r else event_name
        if app:
            candidates.append(f"{base}.{app}")
        candidates.append(base)
    for key in candidates:
        if key in templates:
            return key, templates[key]
    if not app:  # e.g. CHANNEL_BRIDGE, only captured on the bridged call's legs
        similar = sorted(k for k in templates if k.startswith(f"{event_name}."))
        same_leg = [k for k in similar if k.split(".")[1].endswith(leg or "a")]
        if similar:
            key = (same_leg or similar)[0]
            return key, templates[key]
    raise KeyError(f"no template for {event_name} role={role!r} app={app!r}")


def render(
    template: Headers,
    values: Mapping[str, str],
    fallback: Callable[[str], str] | None = None,
) -> Headers:
    """Decode the template values and fill its placeholders from `values` (or `fallback`)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        return fallback(name) if fallback is not None else ""

    return [(name, _PLACEHOLDER.sub(fill, value) if fills else value)
            for name, value, fills in _decoded(template)]


_DECODED: dict[int, tuple[Headers, list[tuple[str, str, bool]]]] = {}


def _decoded(template: Headers) -> list[tuple[str, str, bool]]:
    """The template's values decoded, each marked if it holds a placeholder; computed once
    per template (templates are never changed once loaded)."""
    entry = _DECODED.get(id(template))
    if entry is None or entry[0] is not template:
        values = [(name, fs_url_decode(value)) for name, value in template]
        entry = _DECODED[id(template)] = (
            template, [(name, value, "@@" in value) for name, value in values])
    return entry[1]
