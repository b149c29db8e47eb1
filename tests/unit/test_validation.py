"""Field rules: every violated field is reported at once, by its request path."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from booking_service.domain.commands import BookingChanges, ChangeBookingStatus, UpdateBooking, VenueDetails
from booking_service.domain.errors import ValidationFailed
from booking_service.domain.validation import validate_create, validate_status_change, validate_update
from booking_service.domain.values import Guest
from tests.helpers import API, create_command

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
GOOD = create_command(NOW + timedelta(days=1))


def violations(error: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {v.field: v.description for v in error.value.violations}


def test_a_good_request_passes() -> None:
    validate_create(GOOD, NOW)


def test_every_broken_rule_is_reported_together() -> None:
    bad = replace(
        GOOD,
        guest=Guest("", "", "not-an-email", "0151 123"),
        venue=VenueDetails("", None, "x" * 201, "Mars/Olympus_Mons"),
        unit_id=" padded ",
        start_time=NOW - timedelta(hours=1),
        end_time=NOW - timedelta(hours=2),
        party_size=0,
        special_requests="x" * 2001,
        idempotency_key="k" * 256,
    )
    with pytest.raises(ValidationFailed) as raised:
        validate_create(bad, NOW)
    assert set(violations(raised)) == {
        "guest.guest_id",
        "guest.name",
        "guest.email",
        "guest.phone",
        "venue.venue_id",
        "venue.venue_type",
        "venue.name",
        "venue.time_zone",
        "unit_id",
        "start_time",
        "end_time",
        "party_size",
        "special_requests",
        "idempotency_key",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start_time": None}, "start_time"),
        ({"end_time": None}, "end_time"),
        ({"start_time": NOW - timedelta(minutes=6)}, "start_time"),
        ({"start_time": NOW + timedelta(days=1200), "end_time": NOW + timedelta(days=1201)}, "start_time"),
        ({"end_time": NOW + timedelta(days=100)}, "end_time"),
        ({"party_size": 101}, "party_size"),
        ({"party_size": -1}, "party_size"),
        ({"unit_id": "a\nb"}, "unit_id"),
        ({"unit_id": "u" * 129}, "unit_id"),
    ],
)
def test_single_rules(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_create(replace(GOOD, **change), NOW)  # type: ignore[arg-type]
    assert list(violations(raised)) == [field]


def test_a_start_a_few_minutes_ago_is_tolerated() -> None:
    start = NOW - timedelta(minutes=4)
    validate_create(replace(GOOD, start_time=start, end_time=start + timedelta(hours=1)), NOW)


def test_changes_need_a_booking_id_and_a_version() -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_update(UpdateBooking(API, "not-a-uuid", 0, BookingChanges(guest_email="nope")))
    assert set(violations(raised)) == {"booking_id", "expected_version", "guest.email"}


def test_a_status_change_needs_a_known_status() -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_status_change(ChangeBookingStatus(API, "00000000-0000-4000-8000-000000000001", 3, None))
    assert list(violations(raised)) == ["status"]


def test_text_that_postgresql_cannot_store_is_refused() -> None:
    bad = replace(
        GOOD,
        guest=Guest("g", "Ada\x00", "a\x00@example.com"),
        special_requests="\x00",
        idempotency_key="k\x00",
    )
    with pytest.raises(ValidationFailed) as raised:
        validate_create(bad, NOW)
    assert set(violations(raised)) == {"guest.name", "guest.email", "special_requests", "idempotency_key"}
