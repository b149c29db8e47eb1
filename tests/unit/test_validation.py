"""Field rules: every violated field is reported at once, by its request path."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from asyncpg.pgproto import pgproto
from hypothesis import given, settings
from hypothesis import strategies as st

from booking_service.domain.commands import BookingChanges, ChangeBookingStatus, UpdateBooking, VenueDetails
from booking_service.domain.errors import MAX_VIOLATIONS, FieldViolation, ValidationFailed
from booking_service.domain.limits import BookingLimits
from booking_service.domain.validation import (
    is_uuid,
    validate_create,
    validate_status_change,
    validate_update,
)
from booking_service.domain.values import Guest
from tests.helpers import API, create_command

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
GOOD = create_command(NOW + timedelta(days=1))
LIMITS = BookingLimits()


def violations(error: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {v.field: v.description for v in error.value.violations}


def test_a_good_request_passes() -> None:
    validate_create(GOOD, NOW, LIMITS)


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
        validate_create(bad, NOW, LIMITS)
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
        validate_create(replace(GOOD, **change), NOW, LIMITS)  # type: ignore[arg-type]
    assert list(violations(raised)) == [field]


def test_a_start_a_few_minutes_ago_is_tolerated() -> None:
    start = NOW - timedelta(minutes=4)
    validate_create(replace(GOOD, start_time=start, end_time=start + timedelta(hours=1)), NOW, LIMITS)


def test_changes_need_a_booking_id_and_a_version() -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_update(UpdateBooking(API, "not-a-uuid", 0, BookingChanges(guest_email="nope")))
    assert set(violations(raised)) == {"booking_id", "expected_version", "guest.email"}


@pytest.mark.parametrize("version", [-1, -(1 << 63)])
def test_a_negative_version_is_named_as_such_not_as_missing(version: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_update(UpdateBooking(API, str(uuid.uuid4()), version, BookingChanges(guest_email="a@b.co")))
    assert violations(raised) == {
        "expected_version": "must be a version, 1 or more: the version of the booking you last read"
    }


def test_a_missing_version_is_required() -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_update(UpdateBooking(API, str(uuid.uuid4()), 0, BookingChanges(guest_email="a@b.co")))
    assert violations(raised) == {"expected_version": "is required: the version of the booking you last read"}


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
        validate_create(bad, NOW, LIMITS)
    assert set(violations(raised)) == {"guest.name", "guest.email", "special_requests", "idempotency_key"}


_UUID_TEXT = st.text(alphabet="0123456789abcdefABCDEF-{}_ \t\nurn:uid", min_size=30, max_size=46)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(_UUID_TEXT, st.uuids().map(str), st.uuids().map(lambda u: str(u).upper())))
def test_an_accepted_booking_id_is_one_the_database_driver_accepts(text: str) -> None:
    """Differential: every id is_uuid accepts, asyncpg encodes and Python reads as the same UUID.

    Python's uuid.UUID alone was the rule before: it took 'ce617dae-...-ec31f64dd33 ' (a blank for
    the last digit), asyncpg refused it, and GetBooking answered INTERNAL (CI fuzz seed 1559527364).
    """
    if not is_uuid(text):
        return
    assert str(pgproto.UUID(text)) == text.lower()
    assert str(uuid.UUID(text)) == text.lower()


@pytest.mark.parametrize(
    "text",
    [
        "ce617dae-a3ff-4647-b68e-ec31f64dd33 ",
        "{ce617dae-a3ff-4647-b68e-ec31f64dd33a}",
        "urn:uuid:ce617dae-a3ff-4647-b68e-ec31f64dd33a",
        "ce617daea3ff4647b68eec31f64dd33a",
        "ce617dae-a3ff-4647-b68e-ec31f64dd33a\n",
        "ce61_7dae-a3ff-4647-b68e-ec31f64dd33",
        "----0000000000000000000000000000000 ",
    ],
)
def test_only_the_canonical_uuid_form_is_a_booking_id(text: str) -> None:
    assert not is_uuid(text)
    assert is_uuid("CE617DAE-a3ff-4647-b68e-ec31f64dd33a")


def test_a_refusal_lists_each_violation_once_and_at_most_twenty() -> None:
    repeated = [FieldViolation("update_mask", f"'x{i % 30}' cannot be updated") for i in range(400_000)]
    refused = ValidationFailed([FieldViolation("start_time", "is required"), *repeated])
    assert len(refused.violations) == MAX_VIOLATIONS
    assert refused.message == "The request is invalid: check start_time, update_mask (and 11 more problems)."
    long = ValidationFailed([FieldViolation("f" * 5000, "d" * 5000)])
    assert (len(long.violations[0].field), len(long.violations[0].description)) == (128, 300)
