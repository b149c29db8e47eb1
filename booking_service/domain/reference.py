"""Booking references: short, human-readable, unique (`BK-7KQ2M9XD`).

Eight symbols of Crockford's base32 (no I, L, O or U, so nothing reads as another symbol or a word)
give 2^40 references; uniqueness is the database's job, which refuses a rare collision so the caller
draws again.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "BK-"
#: A booking group's references (domain/group.py) read as such: `GR-7KQ2M9XD`.
GROUP_PREFIX = "GR-"
LENGTH = 8

# What a person may type for each symbol (Crockford's decoding: O is 0, I and L are 1).
_READS_AS = {**{c: c for c in ALPHABET}, "O": "0", "I": "1", "L": "1"}


def new_reference(prefix: str = PREFIX) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize_reference(text: str) -> str | None:
    """The canonical form of a reference as typed (any case, with or without prefix and dashes),
    or None when it cannot be one."""
    symbols = text.strip().upper().replace("-", "").replace(" ", "")
    if symbols.startswith(PREFIX[:-1]) and len(symbols) == LENGTH + len(PREFIX) - 1:
        symbols = symbols[len(PREFIX) - 1 :]
    if len(symbols) != LENGTH or any(c not in _READS_AS for c in symbols):
        return None
    return PREFIX + "".join(_READS_AS[c] for c in symbols)
