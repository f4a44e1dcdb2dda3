"""Conformance: every capture's commands replayed against the simulator give what FreeSWITCH sent.

Compared per step and connection: the sequence of message kinds (content type and event name),
each envelope's header names in order, command/reply texts and api/response bodies (modulo
uuids, job ids and the capture's paths), disconnect notices byte for byte, closed sockets, and
each event's set of header names. Values that depend on time, sequence or host are not compared.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from .replay import (
    REPLAYABLE,
    Message,
    Replayer,
    Step,
    event_header_names,
    kind,
    steps_of,
    unique_id,
)

# api commands whose bodies depend on state outside the capture (uptime, other scenarios'
# leftover channels, timing): only their shape is compared.
SHAPE_ONLY = ("status", "show ", "uuid_dump ")
# Differences between the simulator and the capture that are known and accepted.
RACE = (
    "FreeSWITCH races B's playback thread against A's hangup: in this run B's playback ended "
    "first (HANGUP carries playback_* variables, EXECUTE_COMPLETE no Hangup-Cause); the "
    "simulator follows events_plain_call, where the hangup won"
)
PARK_RACE = (
    "FreeSWITCH races the caller leg's park (an inline &park) against the scripted leg's "
    "hangup: here the caller left its park before it was hung up (no Hangup-Cause on its "
    "CHANNEL_UNPARK); the simulator follows script_tts, where the hangup won"
)
KNOWN: dict[str, str] = {
    "broadcast_beep:12-conn1-sendmsg_U": PARK_RACE,
    "broadcast_beep:14-conn1-api_uuid_exists_U": PARK_RACE,
    "events_json_call:06-conn1-api_uuid_kill_U": RACE,
    "errors:31-conn1-api_uuid_kill_U": RACE,
}


@functools.cache
def replayed(name: str, tmp: str) -> tuple[Replayer, list[Step]]:
    replayer = Replayer(name, Path(tmp))
    return replayer, replayer.run()


@pytest.fixture(scope="module")
def replay_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replay")


def _cases() -> list[pytest.param]:
    cases = []
    for name in REPLAYABLE:
        for step in steps_of(name):
            case_id = f"{name}:{step.label}"
            marks = (
                [pytest.mark.xfail(reason=KNOWN[case_id], strict=True)] if case_id in KNOWN else []
            )
            cases.append(pytest.param(name, step.index, id=case_id, marks=marks))
    return cases


@pytest.mark.parametrize(("name", "index"), _cases())
def test_replay_step(name: str, index: int, replay_root: Path) -> None:
    replayer, steps = replayed(name, str(replay_root / name))
    step = steps[index]
    problems = []
    for conn in sorted(set(step.expected) | set(step.got)):
        expected, got = step.expected.get(conn, []), step.got.get(conn, [])
        problems += [f"conn{conn}: {p}" for p in compare(replayer, step, expected, got)]
    if step.expect_closed != step.closed:
        problems.append(f"closed: expected {sorted(step.expect_closed)}, got {sorted(step.closed)}")
    assert not problems, "\n".join(problems)


def compare(
    replayer: Replayer, step: Step, expected: list[Message], got: list[Message]
) -> list[str]:
    kinds_expected, kinds_got = [kind(m) for m in expected], [kind(m) for m in got]
    aligned = align_per_channel(replayer, expected, got)
    if aligned is None and kinds_expected != kinds_got:
        return [f"messages differ:\n  capture:   {kinds_expected}\n  simulator: {kinds_got}"]
    got = aligned or got
    problems: list[str] = []
    for want, have in zip(expected, got, strict=True):
        problems += compare_message(replayer, step, want, have)
    return problems


def align_per_channel(
    replayer: Replayer, expected: list[Message], got: list[Message]
) -> list[Message] | None:
    """`got` reordered like `expected` if only the order of channel events differs.

    FreeSWITCH runs every channel (and each application on it) in its own thread, so during a
    hangup the order of channel events varies from run to run: the three event-format
    captures of the same call disagree, even within one channel. Replies and channel-less
    messages must keep their order, and the same events must arrive for the same channels.
    """

    def key(message: Message, to_capture: bool) -> tuple[str, str]:
        uuid = unique_id(message)
        return (kind(message), replayer.to_capture(uuid) if to_capture else uuid)

    want_keys = [key(m, False) for m in expected]
    have_keys = [key(m, True) for m in got]
    if sorted(want_keys) != sorted(have_keys):
        return None
    if _non_channel_order(want_keys) != _non_channel_order(have_keys):
        return None
    queues: dict[tuple[str, str], list[Message]] = {}
    for message, k in zip(got, have_keys, strict=True):
        queues.setdefault(k, []).append(message)
    return [queues[k].pop(0) for k in want_keys]


def _non_channel_order(keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Replies and channel-less messages, in order."""
    return [k for k in keys if not k[1]]


def compare_message(replayer: Replayer, step: Step, want: Message, have: Message) -> list[str]:
    names_want, names_have = [k for k, _ in want.headers], [k for k, _ in have.headers]
    if names_want != names_have:
        return [f"{kind(want)} envelope {names_want} != {names_have}"]
    if have.content_type.startswith("text/event-"):
        return compare_event(want, have)
    if have.content_type == "api/response":
        return compare_api(replayer, step, want, have)
    if have.content_type == "text/disconnect-notice":
        text = replayer.to_capture(have.raw.decode())
        return [] if text == want.raw.decode() else [f"notice {text!r} != {want.raw!r}"]
    if want.header("Socket-Mode") is not None:  # outbound `connect`: channel data as headers
        return compare_connect(replayer, want, have)
    wanted = [(k, v) for k, v in want.headers]
    got = [(k, replayer.to_capture(v)) for k, v in have.headers]
    return [] if wanted == got else [f"reply {got} != {wanted}"]


def compare_connect(replayer: Replayer, want: Message, have: Message) -> list[str]:
    trailer = ("Content-Type", "Reply-Text", "Socket-Mode", "Control")
    wanted = [(k, v) for k, v in want.headers if k in trailer]
    got = [(k, v) for k, v in have.headers if k in trailer]
    problems = [] if wanted == got else [f"connect trailer {got} != {wanted}"]
    names_want, names_have = {k for k, _ in want.headers}, {k for k, _ in have.headers}
    if names_want != names_have:
        missing, extra = sorted(names_want - names_have), sorted(names_have - names_want)
        problems.append(f"connect headers: missing {missing}, extra {extra}")
    return problems


def compare_event(want: Message, have: Message) -> list[str]:
    names_want, names_have = set(event_header_names(want)), set(event_header_names(have))
    if names_want == names_have:
        return []
    missing, extra = sorted(names_want - names_have), sorted(names_have - names_want)
    return [f"{kind(want)} headers: missing {missing}, extra {extra}"]


def compare_api(replayer: Replayer, step: Step, want: Message, have: Message) -> list[str]:
    command = step.block.payload.decode().removeprefix("api ").strip()
    body_want, body_have = want.body.decode(), replayer.to_capture(have.body.decode())
    if command.startswith(SHAPE_ONLY):
        return compare_shape(command, body_want, body_have)
    return [] if body_want == body_have else [f"api body {body_have!r} != {body_want!r}"]


def compare_shape(command: str, want: str, have: str) -> list[str]:
    if want.startswith("{") and have.startswith("{"):
        keys = [_row_keys(json.loads(want)), _row_keys(json.loads(have))]
        return [] if keys[0] == keys[1] or not keys[0] or not keys[1] else [f"json keys {keys}"]
    first_want, first_have = want.split("\n", 1)[0], have.split("\n", 1)[0]
    if command.startswith("uuid_dump") or command.startswith("status"):
        lines_want = [line.split(":", 1)[0] for line in want.split("\n")]
        lines_have = [line.split(":", 1)[0] for line in have.split("\n")]
        if command.startswith("status"):
            return [] if len(lines_want) == len(lines_have) else ["status line count differs"]
        missing = set(lines_want) - set(lines_have)
        extra = set(lines_have) - set(lines_want)
        return [] if not (missing or extra) else [f"dump: missing {missing}, extra {extra}"]
    return [] if first_want == first_have else [f"first line {first_have!r} != {first_want!r}"]


def _row_keys(data: dict[str, object]) -> list[str]:
    rows = data.get("rows")
    if isinstance(rows, list) and rows:
        return list(rows[0])
    return [k for k in data if k not in ("row_count", "rows")] if "rows" not in data else []
