"""Reader for the FreeSWITCH wire captures (`shared/freeswitch-wire/*.txt`).

Each block is `@@@ <KIND> conn=<n> t=<s> len=<N> [k=v ...]\\n` + exactly N payload bytes + `\\n`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Block:
    kind: str  # CONNECT ACCEPT SEND RECV CLOSED LCLOSE PARTIAL NOTE
    conn: int
    t: float
    payload: bytes
    hints: dict[str, str] = field(default_factory=dict)


def wire_dir() -> Path:
    """Where the captures live: $ESL_RECORDER_WIRE_DIR, else the clone's own copy in
    tests/data/freeswitch-wire (taken from shared/freeswitch-wire)."""
    env = os.environ.get("ESL_RECORDER_WIRE_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "tests" / "data" / "freeswitch-wire"


def read_blocks(path: str | Path) -> list[Block]:
    return list(iter_blocks(Path(path).read_bytes()))


def iter_blocks(data: bytes) -> Iterator[Block]:
    pos = data.find(b"\n@@@ ")
    pos = 0 if data.startswith(b"@@@ ") else pos + 1
    while 0 <= pos < len(data):
        eol = data.index(b"\n", pos)
        fields = data[pos + 4 : eol].decode().split()
        kind, attrs = fields[0], dict(f.split("=", 1) for f in fields[1:])
        length = int(attrs.pop("len"))
        start = eol + 1
        payload = data[start : start + length]
        yield Block(kind, int(attrs.pop("conn")), float(attrs.pop("t")), payload, attrs)
        pos = start + length + 1
        if not data.startswith(b"@@@ ", pos):
            break


def received_stream(blocks: list[Block], conn: int = 1) -> bytes:
    """The exact byte stream FreeSWITCH sent on one connection."""
    return b"".join(b.payload for b in blocks if b.kind == "RECV" and b.conn == conn)
