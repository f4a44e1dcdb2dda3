"""`esl-recorder outbox`: dead deliveries listed from the store, without secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from store_backends import StoreFactory

from esl_recorder.cli import main
from esl_recorder.delivery.request import OutboundRequest

SECRET_URL = "https://hook:pa55word@example.com/status?token=s3cret"


@pytest.fixture
def config(tmp_path: Path, store_factory: StoreFactory, store_section: dict[str, Any]) -> Path:
    """A config whose store holds one dead, one pending and one delivered callback."""
    store = store_factory()
    dead = OutboundRequest("POST", SECRET_URL, {"X-Twilio-Signature": "c2lnbmF0dXJl"},
                           "RecordingSid=RE1")
    ids = [store.enqueue("recording-status", key, r.origin, r.to_payload(), now=1_700_000_000)
           for key, r in (("RE1", dead), ("RE2", OutboundRequest("GET", "http://b.test/x")),
                          ("CA3", OutboundRequest("POST", "http://c.test/y")))]
    store.finish_attempts(delivered=[(ids[2], 1_700_000_001)], retried=[],
                          dead=[(ids[0], 1_700_086_400, "HTTP 503 (expired after 9 attempts)")])
    store.close()
    path = tmp_path / "esl_recorder.yaml"
    path.write_text(yaml.safe_dump({"store": store_section}))
    return path


def test_dead_callbacks_are_listed_without_secrets(config: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["outbox", "-c", str(config)]) == 0
    out = capsys.readouterr().out
    summary, header, *rows = out.splitlines()
    assert "1 dead, 1 pending, 1 delivered" in summary
    store = yaml.safe_load(config.read_text())["store"]  # the store it read is named
    url = urlsplit(store.get("url", ""))
    where = f"postgresql://{url.hostname}:{url.port}{url.path}" if url.scheme else store["path"]
    assert summary.startswith(f"# outbox {where}: "), summary  # (no user, no password)
    assert header.split() == ["id", "state", "kind", "key", "attempts", "queued",
                              "last/next", "url", "error"]
    assert len(rows) == 1
    assert rows[0].split()[:5] == ["1", "dead", "recording-status", "RE1", "1"]
    assert "POST https://example.com/status?…" in rows[0]
    assert rows[0].endswith("HTTP 503 (expired after 9 attempts)")
    assert "2023-11-14T22:13:20Z" in rows[0] and "2023-11-15T22:13:20Z" in rows[0]
    for secret in ("pa55word", "s3cret", "hook", "c2lnbmF0dXJl", "RecordingSid"):
        assert secret not in out


def test_every_state_as_json_lines(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["outbox", "-c", str(config), "--state", "all", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["state"], r["key"]) for r in records] == [
        (3, "delivered", "CA3"), (2, "pending", "RE2"), (1, "dead", "RE1")]
    assert records[2]["url"] == "https://example.com/status?…"
    assert records[1]["method"] == "GET" and records[1]["finished_at"] is None


def test_limit_and_a_missing_store(config: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["outbox", "-c", str(config), "--state", "all", "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3  # summary, header, one row
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"store": {"path": str(tmp_path / "none.db")}}))
    assert main(["outbox", "-c", str(other)]) == 1
    assert "no outbox store at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()  # listing never creates a store


def test_the_console_script_lists_dead_callbacks(config: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "esl_recorder", "outbox", "-c", str(config),
                           "--json"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    [record] = [json.loads(line) for line in done.stdout.splitlines()]
    assert (record["key"], record["state"], record["attempts"]) == ("RE1", "dead", 1)
