"""Logging for the daemon: text or JSON lines on stderr, with known secrets masked (by the
formatters: in the line as written, and in a JSON line's fields before they are encoded).

Code logs with `logging.getLogger(__name__)` and passes call context as extras:
`log.info("recording started", extra={"call_uuid": uuid, "recording_sid": sid})`.
Both formats show those extras; JSON puts them in the object.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

from .settings import MASK, LogSettings

HANDLER_NAME = "esl_recorder"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

_secrets: tuple[str, ...] = ()  # longest first: a secret inside another is masked after it
_secrets_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Mask `value` wherever it would appear in a log line (passwords, tokens)."""
    global _secrets
    if value and len(value) >= 3:  # masking 1-2 characters would mangle every line
        with _secrets_lock:
            _secrets = tuple(sorted({*_secrets, value}, key=len, reverse=True))


def clear_secrets() -> None:
    """Forget every registered secret (tests)."""
    global _secrets
    with _secrets_lock:
        _secrets = ()


def mask_secrets(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields passed with `extra=` (call_uuid, recording_sid, node, ...)."""
    attrs = vars(record)
    if attrs.keys() <= STANDARD_ATTRS:  # most lines have none: one set operation in C
        return {}
    return {k: v for k, v in attrs.items() if k not in STANDARD_ATTRS
            and not k.startswith("_")}


def _mask_record(record: logging.LogRecord) -> None:
    """Replace registered secrets in the record's message and its extras."""
    try:
        message = record.getMessage()
    except Exception:  # bad %-args: leave it to the handler's own error reporting
        return
    record.msg, record.args = mask_secrets(message), None
    for key, value in extras(record).items():
        if isinstance(value, str):
            setattr(record, key, mask_secrets(value))


class TextFormatter(logging.Formatter):
    """`2026-11-20 22:20:01,123 INFO esl_recorder.x: message call_uuid=... recording_sid=...`"""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = " ".join(f"{k}={v}" for k, v in sorted(extras(record).items()))
        return f"{line} {fields}" if fields else line

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)  # message, extras and exception text, as written
        return mask_secrets(line) if _secrets else line


class JsonFormatter(BaseJsonFormatter):
    """One JSON object per line (python-json-logger): ts, level, logger, message, then the
    extras as fields of their own (call_uuid, recording_sid, node, ...), exc_info if any."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s %(message)s",
                         rename_fields={"levelname": "level", "name": "logger"},
                         json_default=str, json_ensure_ascii=False)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        log_data["ts"] = iso_time(record.created)
        super().add_fields(log_data, record, message_dict)

    def format(self, record: logging.LogRecord) -> str:
        if not _secrets:
            return super().format(record)
        # The fields first: a secret holding a character JSON escapes is not found in the
        # encoded line. Then the line: the exception text, for one.
        _mask_record(record)
        return mask_secrets(super().format(record))


def iso_time(created: float) -> str:
    """UTC, millisecond precision: `2026-11-20T22:20:01.123Z`."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{whole}.{int(created % 1 * 1000):03d}Z"


def set_level(level: str) -> None:
    """The root logger's level (SIGHUP applies the configuration file's log.level)."""
    logging.getLogger().setLevel(level)


def configure_logging(log: LogSettings, stream: TextIO | None = None) -> None:
    """Install one handler on the root logger (replacing a previous call's), at `log.level`."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if log.format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(log.level)
    logging.captureWarnings(True)
