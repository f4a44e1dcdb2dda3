"""Event templates extracted from the captures (see extract_templates.py) and their rendering."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from esl_recorder.esl.codec import fs_url_decode

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_PLACEHOLDER = re.compile(r"@@([A-Za-z0-9_:]+)@@")

Headers = list[tuple[str, str]]

# Channel variables the application engine (apps.py) sets and clears: the call-script
# captures' templates leave them out, and a channel the engine runs applications on reports
# only those it holds (see extract_templates).
SCRIPT_VARIABLES = (
    "variable_current_application",
    "variable_current_loop",
    "variable_total_loops",
    "variable_playback_",
    "variable_app_uuid",
    "variable_endpoint_disposition",
    "variable_esl_recorder_script",
    "variable_tts_",
    "variable_last_app",
    "variable_last_arg",
)


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


@dataclass(frozen=True)
class Layout:
    """A template prepared once for rendering (templates never change once loaded)."""

    headers: Headers  # decoded values, placeholders still in them
    # (index, header name, str.format pattern, placeholder names) of each value to fill
    slots: tuple[tuple[int, str, str, tuple[str, ...]], ...]
    positions: dict[str, tuple[int, ...]]  # where each header name occurs
    last_variable: int  # index of the last `variable_` header, -1 when there is none
    role: str  # the leg role the template was captured on (template_role)

    @classmethod
    def build(cls, key: str, template: Headers) -> Layout:
        headers = [(name, fs_url_decode(value)) for name, value in template]
        slots = []
        positions: dict[str, tuple[int, ...]] = {}
        for index, (name, value) in enumerate(headers):
            positions[name] = (*positions.get(name, ()), index)
            if names := tuple(_PLACEHOLDER.findall(value)):
                escaped = value.replace("{", "{{").replace("}", "}}")
                slots.append((index, name, _PLACEHOLDER.sub("{}", escaped), names))
        variables = [i for i, (name, _) in enumerate(headers) if name.startswith("variable_")]
        last = variables[-1] if variables else -1
        return cls(headers, tuple(slots), positions, last, template_role(key))


@functools.cache
def layout(event_name: str, role: str = "", app: str = "") -> Layout:
    """The prepared template find_keyed() picks (cached: rendering an event is the hot path)."""
    return Layout.build(*find_keyed(event_name, role, app))


@functools.cache
def layout_of(key: str) -> Layout:
    """The prepared template of an exact key."""
    return Layout.build(key, load_all()[key])


def render(
    template: Layout,
    values: Mapping[str, str],
    fallback: Callable[[str], str] | None = None,
) -> Headers:
    """The template's headers with their placeholders filled from `values` (or `fallback`)."""

    def fill(name: str) -> str:
        if name in values:
            return values[name]
        return fallback(name) if fallback is not None else ""

    headers = list(template.headers)
    for index, name, pattern, names in template.slots:
        headers[index] = (name, pattern.format(*map(fill, names)))
    return headers
