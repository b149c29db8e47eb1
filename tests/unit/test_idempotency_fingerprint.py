"""The fingerprint tells a repeated request from a different one under the same key."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from booking_service.domain.values import Actor, ChangeSource
from booking_service.service_layer.idempotency import erased_fingerprint, fingerprint
from tests.helpers import create_command

START = datetime(2030, 1, 2, 18, tzinfo=UTC)


def test_the_same_request_has_the_same_fingerprint() -> None:
    assert fingerprint(create_command(START, key="a")) == fingerprint(create_command(START, key="a"))


def test_the_key_and_the_caller_do_not_count() -> None:
    first = create_command(START, key="a")
    again = replace(first, idempotency_key="b", actor=Actor("someone-else", ChangeSource.API))
    assert fingerprint(first) == fingerprint(again)


def test_any_other_difference_counts() -> None:
    base = create_command(START)
    for changed in (
        replace(base, party_size=3),
        replace(base, start_time=START + timedelta(minutes=1)),
        replace(base, unit_id="other"),
        replace(base, special_requests="cot"),
    ):
        assert fingerprint(changed) != fingerprint(base)


def test_the_erased_fingerprint_forgets_only_the_guests_data() -> None:
    """What a key keeps once the guest is erased: the same for requests that differ only in the
    guest's data, different for any other difference, and never the full fingerprint."""
    base = replace(create_command(START), special_requests="window seat")
    other_guest_data = replace(
        base, guest=replace(base.guest, name="Someone", email="s@example.com"), special_requests="cot"
    )
    assert erased_fingerprint(other_guest_data) == erased_fingerprint(base) != fingerprint(base)
    assert erased_fingerprint(replace(base, party_size=3)) != erased_fingerprint(base)
    another_guest = replace(base, guest=replace(base.guest, guest_id="g2"))
    assert erased_fingerprint(another_guest) != erased_fingerprint(base)
