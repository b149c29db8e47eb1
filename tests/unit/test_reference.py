"""Booking references: short, unambiguous, forgiving when typed."""

from __future__ import annotations

import re

import pytest

from booking_service.domain.reference import new_reference, normalize_reference


def test_new_references_are_short_and_unambiguous() -> None:
    refs = {new_reference() for _ in range(2000)}
    assert len(refs) == 2000
    assert all(re.fullmatch(r"BK-[0-9A-HJKMNP-TV-Z]{8}", r) for r in refs)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("BK-7KQ2M9XD", "BK-7KQ2M9XD"),
        ("bk-7kq2m9xd", "BK-7KQ2M9XD"),
        ("7KQ2-M9XD", "BK-7KQ2M9XD"),
        (" bk7kq2m9xd ", "BK-7KQ2M9XD"),
        ("BK-OIL00000", "BK-01100000"),  # O reads as 0, I and L as 1
    ],
)
def test_typed_references_are_normalized(typed: str, canonical: str) -> None:
    assert normalize_reference(typed) == canonical


@pytest.mark.parametrize("typed", ["", "BK-", "BK-7KQ2M9X", "BK-7KQ2M9XDD", "BK-7KQ2M9XU", "' OR 1=1 --"])
def test_what_cannot_be_a_reference_is_refused(typed: str) -> None:
    assert normalize_reference(typed) is None
