"""ETags: a booking's version as a strong entity tag (`"3"`), the one form written and read.

One version is one representation (every answer carries the booking with its history up to that
version), so the tag is strong. `If-Match` on a change stands for `expected_version` and must be
exactly one such tag: RFC 9110 13.1.1 compares If-Match strongly, so a weak validator (`W/"3"`)
never matches, and `*` (any current representation) would make the change blind to the version
it was made from, which every change here must name. Both are refused, naming what to send.

A strong comparison is of the opaque-tags character by character (RFC 9110 8.8.3.2), so only the
form written here names a version: `"3"`, never `"03"`, `"+3"` or `" 3"` (a blank is not even
allowed in an entity-tag, 8.8.3). Versions start at 1, so `"0"` names none. Anything else is refused
as well, rather than read as a number that never matches the ETag it was written from.
"""

from __future__ import annotations

import re

from booking_service.domain.errors import FieldViolation
from booking_service.entrypoints.rest.numbers import INT64, BadNumber, whole_number

HEADER = "If-Match"
_EXAMPLE = "the ETag of the last answer (the booking's or the policy's), such as \"3\""
#: The opaque-tag of every ETag written: a version (1 or more) in decimal, as etag() writes it.
_CANONICAL = re.compile(r"[1-9][0-9]*")


class BadPrecondition(ValueError):
    """An If-Match value that is not one strong ETag; `violation` names the header and the fix."""

    def __init__(self, message: str, description: str) -> None:
        super().__init__(message)
        self.violation = FieldViolation(HEADER, description)


def etag(version: int) -> str:
    """The strong ETag of a booking at `version`."""
    return f'"{version}"'


def version_of(if_match: str) -> int:
    """The version an If-Match header names: exactly the ETag etag() writes for it (a version in
    the int64 range, 1 or more); BadPrecondition otherwise."""
    value = if_match.strip(" \t")
    if value == "*":
        raise BadPrecondition(
            "If-Match: * is not accepted: every change names the version it was made from.",
            f"must be {_EXAMPLE} (or the expected_version field), not *: a change to any version is "
            "not accepted",
        )
    if value.startswith("W/"):
        raise BadPrecondition(
            f"If-Match: {value[:40]} is a weak ETag; changes need the strong one.",
            f"must be a strong ETag, {_EXAMPLE} without W/: a weak one never matches (RFC 9110 13.1.1)",
        )
    if "," in value:
        raise BadPrecondition(
            "If-Match names several ETags; a change is made from one version.",
            f"must be one ETag, {_EXAMPLE}",
        )
    if len(value) < 2 or not (value.startswith('"') and value.endswith('"')):
        raise BadPrecondition(
            'If-Match must be an ETag this service wrote, in quotes, such as "3".',
            f"must be {_EXAMPLE}, quotes included",
        )
    tag = value[1:-1]
    if tag == "0":
        raise BadPrecondition(
            'If-Match: "0" names no version; versions start at 1.',
            f'must be {_EXAMPLE}: versions start at 1, so "0" is none',
        )
    if not _CANONICAL.fullmatch(tag):
        raise BadPrecondition(
            'If-Match must be an ETag exactly as this service wrote it, such as "3".',
            f"must be {_EXAMPLE}: a whole number as the ETag has it, without sign, leading zeros or "
            "blanks (If-Match compares ETags strongly, RFC 9110 8.8.3.2)",
        )
    try:
        return whole_number(HEADER, tag, 1, INT64[1])
    except BadNumber as exc:
        raise BadPrecondition(
            'If-Match must be an ETag this service wrote, such as "3".', exc.violation.description
        ) from None
