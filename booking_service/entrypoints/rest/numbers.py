"""The one rule for every number the gateway reads from text (a header or a query parameter):
digits only, a bounded count of them, and a range. A value that breaks it names itself in a 400,
never reaches int() unbounded (Python refuses strings of more than 4300 digits with a ValueError)
nor a 64-bit field out of range.
"""

from __future__ import annotations

import re

from booking_service.domain.errors import FieldViolation

INT32 = (-(1 << 31), (1 << 31) - 1)
INT64 = (-(1 << 63), (1 << 63) - 1)
UINT32 = (0, (1 << 32) - 1)
UINT64 = (0, (1 << 64) - 1)

#: Enough digits for any 64-bit value, and no more.
_WHOLE = re.compile(r"[-+]?[0-9]{1,20}")


class BadNumber(ValueError):
    """A header or query value that should be a number in a range is not; `violation` names it."""

    def __init__(self, name: str, description: str) -> None:
        super().__init__(f"{name} {description}.")
        self.violation = FieldViolation(name, description)


def whole_number(name: str, raw: str, minimum: int, maximum: int) -> int:
    """`raw` as an integer within [minimum, maximum]; BadNumber naming `name` otherwise."""
    text = raw.strip()
    if not _WHOLE.fullmatch(text):
        raise BadNumber(name, f"must be a whole number between {minimum} and {maximum}")
    value = int(text)
    if not minimum <= value <= maximum:
        raise BadNumber(name, f"must be between {minimum} and {maximum}")
    return value
