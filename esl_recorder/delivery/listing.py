"""`esl-recorder outbox`: the outbox's items for operators, dead ones by default.

    esl-recorder outbox [-c FILE] [--state dead|pending|delivered|all] [--limit N] [--json]

Reads the daemon's store (settings store.path, or store.url for PostgreSQL) while the daemon
runs (SQLite's WAL lets a reader in beside the writer). Newest first. URLs are shown without
credentials and without their query string (tokens live there); bodies and headers
(signatures) are not shown. Text: a summary line, then one line per item; --json: one
object per line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

from ..domain.ports import OutboxItem
from ..settings import StoreSettings
from ..store.opener import open_store
from .request import safe_url

STATES = ("dead", "pending", "delivered")
COLUMNS = ("id", "state", "kind", "key", "attempts", "queued", "last/next", "url", "error")


def show_outbox(settings: StoreSettings, state: str, limit: int, as_json: bool,
                out: TextIO | None = None) -> int:
    """Print the items (to stdout); returns the exit code (1: no SQLite store at its path)."""
    out = out or sys.stdout
    path = settings.path
    if not settings.url and path != ":memory:" and not os.path.isfile(path):
        print(f"error: no outbox store at {path} (settings store.path)", file=sys.stderr)
        return 1
    store = open_store(settings)
    try:
        counts = {s: store.outbox_count(s) for s in STATES}
        items = store.outbox_items(None if state == "all" else state, limit,
                                   newest_first=True)
    finally:
        store.close()
    if as_json:
        for item in items:
            out.write(json.dumps(item_record(item)) + "\n")
        return 0
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    where = safe_url(settings.url) if settings.url else path
    out.write(f"# outbox {where}: {summary}; showing {len(items)} {state}, newest first\n")
    out.write(table([COLUMNS, *(item_row(i) for i in items)]))
    return 0


def item_record(item: OutboxItem) -> dict[str, Any]:
    payload = item.payload
    return {"id": item.id, "state": item.state, "kind": item.kind, "key": item.key,
            "attempts": item.attempts, "created_at": item.created_at,
            "next_attempt_at": item.next_attempt_at, "finished_at": item.finished_at,
            "method": payload.get("method"), "url": safe_url(str(payload.get("url", ""))),
            "object_key": payload.get("key"), "last_error": item.last_error}


def item_row(item: OutboxItem) -> tuple[str, ...]:
    when = item.finished_at if item.state != "pending" else item.next_attempt_at
    if "url" in item.payload:
        url = f"{item.payload.get('method', '?')} {safe_url(str(item.payload['url']))}"
    else:  # a media upload or removal: the object key at the S3 endpoint
        url = f"object {item.payload.get('key', '?')} at {item.target}"
    return (str(item.id), item.state, item.kind, item.key, str(item.attempts),
            stamp(item.created_at), stamp(when), url, item.last_error or "")


def stamp(at: float | None) -> str:
    if at is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def table(rows: Iterable[tuple[str, ...]]) -> str:
    rows = list(rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
             for r in rows]
    return "".join(line.rstrip() + "\n" for line in lines)
