"""What a client is told when a value does not fit its request field: the field and the kind of
problem, never the value.

protobuf's JSON parser quotes the value it could not place (`Value out of range: 4915112345678.`),
and a value in the wrong field may be guest data. Masking it would answer a client's page_size with
"[phone]" (the log masker is for logs only), so the answer is rebuilt from the field path and the
problem's kind instead: `page_size is out of range`.
"""

from __future__ import annotations

import re

_FIELD = re.compile(r"Failed to parse (\w+) field: ")
_UNKNOWN = re.compile(r'has no field named "([^"]*)"')
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
#: What the parser says, and what the answer says instead; first match wins.
_KINDS = (
    ("out of range", "is out of range"),
    ("for int()", "is not an integer"),
    ("parse integer", "is not an integer"),
    ("parse float", "is not a number"),
    ("parse double", "is not a number"),
    ("true or false", "is not true or false"),
    ("enum value", "is not one of its enum's names"),
    ("timestamp", "is not an RFC 3339 time with an offset (2027-05-02T14:00:00Z)"),
    ("duration", "is not a duration (such as 3600s)"),
    ("expected string", "is not a string"),
    ("base64", "is not base64"),
    ("surrogate", "is not valid UTF-8 text (an unpaired surrogate)"),
)


def parse_problem(error: Exception) -> str:
    """The field and the problem the parser's `error` is about, without the value it quotes."""
    text = str(error)
    path: list[str] = []
    while (found := _FIELD.match(text)) is not None:
        path.append(found.group(1))
        text = text[found.end() :]
    where = ".".join(path)
    unknown = _UNKNOWN.search(text)
    if unknown is not None:
        name = unknown.group(1)
        field = f"{where}.{name}" if where else name
        if _NAME.fullmatch(name):
            return f"there is no field {field}"
        return f"there is no such field in {where}" if where else "a field name is not known"
    kind = next((said for known, said in _KINDS if known in text), "has a value of the wrong type")
    return f"{where or 'a field'} {kind}"
