"""The booking limits: each refusal names the limit's value and the setting behind it, the settings
change the limits, and limits that cannot hold together are refused at start by name."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from booking_service.config import LIMIT_SETTINGS, ConfigError, Settings
from booking_service.domain.commands import BookingChanges, UpdateBooking
from booking_service.domain.errors import ValidationFailed
from booking_service.domain.limits import BookingLimits, span
from booking_service.domain.status import BookingStatus
from booking_service.domain.validation import validate_create, validate_update
from tests.helpers import API, create_command
from tests.unit.test_state_machine import CREATED, STAFF, START, booking_in

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
CONFIGURED = Settings.from_env({}).booking_limits


def refusal(limits: BookingLimits, **change: object) -> dict[str, str]:
    """The violations of a create one day ahead with `change` applied, under `limits`."""
    command = replace(create_command(NOW + timedelta(days=1)), **change)  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed) as raised:
        validate_create(command, NOW, limits)
    return {v.field: v.description for v in raised.value.violations}


def test_the_defaults_are_the_rules_the_service_always_had() -> None:
    assert Settings().booking_limits == CONFIGURED == BookingLimits(sources=LIMIT_SETTINGS)
    assert (CONFIGURED.min_notice, CONFIGURED.max_advance) == (timedelta(minutes=-5), timedelta(days=1098))
    assert (CONFIGURED.min_duration, CONFIGURED.max_duration) == (timedelta(0), timedelta(days=90))
    assert (CONFIGURED.min_party_size, CONFIGURED.max_party_size) == (1, 100)


@pytest.mark.parametrize(
    ("change", "field", "description"),
    [
        (
            {"start_time": NOW + timedelta(days=1099), "end_time": NOW + timedelta(days=1100)},
            "start_time",
            "must be at most 1098 days from now (BOOKING_MAX_ADVANCE_DAYS)",
        ),
        (
            {"start_time": NOW - timedelta(minutes=6)},
            "start_time",
            "must not be more than 5 minutes in the past (BOOKING_MIN_NOTICE_SECONDS)",
        ),
        (
            {"end_time": NOW + timedelta(days=92)},
            "end_time",
            "must be at most 90 days after start_time (BOOKING_MAX_DURATION_DAYS)",
        ),
        ({"party_size": 101}, "party_size", "must be at most 100 (BOOKING_MAX_PARTY_SIZE)"),
        ({"party_size": 0}, "party_size", "must be at least 1 (BOOKING_MIN_PARTY_SIZE)"),
    ],
)
def test_each_refusal_names_the_limit_and_its_setting(
    change: dict[str, object], field: str, description: str
) -> None:
    assert refusal(CONFIGURED, **change) == {field: description}


def test_the_limits_in_force_decide_and_are_named() -> None:
    strict = replace(
        CONFIGURED,
        min_notice=timedelta(hours=2),
        max_advance=timedelta(days=30),
        min_duration=timedelta(minutes=30),
        max_duration=timedelta(hours=3),
        max_party_size=8,
    )
    soon = NOW + timedelta(hours=1)
    assert refusal(strict, start_time=soon, end_time=soon + timedelta(hours=1)) == {
        "start_time": "must be at least 2 hours from now (BOOKING_MIN_NOTICE_SECONDS)"
    }
    late = NOW + timedelta(days=31)
    assert refusal(strict, start_time=late, end_time=late + timedelta(hours=1)) == {
        "start_time": "must be at most 30 days from now (BOOKING_MAX_ADVANCE_DAYS)"
    }
    start = NOW + timedelta(days=1)
    assert refusal(strict, end_time=start + timedelta(minutes=20)) == {
        "end_time": "must be at least 30 minutes after start_time (BOOKING_MIN_DURATION_SECONDS)"
    }
    assert refusal(strict, end_time=start + timedelta(hours=4)) == {
        "end_time": "must be at most 3 hours after start_time (BOOKING_MAX_DURATION_DAYS)"
    }
    assert refusal(strict, party_size=9) == {"party_size": "must be at most 8 (BOOKING_MAX_PARTY_SIZE)"}
    # What the defaults refuse, these allow, and the other way round.
    validate_create(replace(create_command(NOW + timedelta(days=1)), party_size=8), NOW, strict)
    with pytest.raises(ValidationFailed):
        validate_create(create_command(NOW + timedelta(days=1), hours=4), NOW, strict)
    validate_create(create_command(NOW + timedelta(days=1), hours=4), NOW, CONFIGURED)


def test_a_limit_with_no_source_is_named_by_itself() -> None:
    assert refusal(BookingLimits(), party_size=101) == {"party_size": "must be at most 100 (max_party_size)"}


def test_changes_keep_the_limits_too() -> None:
    booking = booking_in(BookingStatus.CONFIRMED)
    with pytest.raises(ValidationFailed) as raised:
        booking.update(BookingChanges(party_size=101), STAFF, CREATED, CONFIGURED)
    assert {v.field: v.description for v in raised.value.violations} == {
        "party_size": "must be at most 100 (BOOKING_MAX_PARTY_SIZE)"
    }
    longer = BookingChanges(end_time=START + timedelta(days=91))
    with pytest.raises(ValidationFailed) as too_long:
        booking.update(longer, STAFF, CREATED, CONFIGURED)
    assert {v.field: v.description for v in too_long.value.violations} == {
        "end_time": "must be at most 90 days after start_time (BOOKING_MAX_DURATION_DAYS)"
    }
    booking.update(longer, STAFF, CREATED, replace(CONFIGURED, max_duration=timedelta(days=120)))
    assert booking.slot.end == START + timedelta(days=91)


def test_the_settings_set_the_limits() -> None:
    limits = Settings.from_env(
        {
            "BOOKING_MIN_NOTICE_SECONDS": "3600",
            "BOOKING_MAX_ADVANCE_DAYS": "365",
            "BOOKING_MIN_DURATION_SECONDS": "900",
            "BOOKING_MAX_DURATION_DAYS": "30",
            "BOOKING_MIN_PARTY_SIZE": "2",
            "BOOKING_MAX_PARTY_SIZE": "12",
        }
    ).booking_limits
    assert limits == BookingLimits(
        min_notice=timedelta(hours=1),
        max_advance=timedelta(days=365),
        min_duration=timedelta(minutes=15),
        max_duration=timedelta(days=30),
        min_party_size=2,
        max_party_size=12,
        sources=LIMIT_SETTINGS,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"BOOKING_MAX_PARTY_SIZE": "many"}, "BOOKING_MAX_PARTY_SIZE must be a whole number"),
        ({"BOOKING_MIN_PARTY_SIZE": "0"}, "BOOKING_MIN_PARTY_SIZE must be at least 1, not 0"),
        ({"BOOKING_MAX_ADVANCE_DAYS": "0"}, "BOOKING_MAX_ADVANCE_DAYS must be between 1"),
        ({"BOOKING_MAX_DURATION_DAYS": "1.5"}, "BOOKING_MAX_DURATION_DAYS must be a whole number"),
        (
            {"BOOKING_MIN_PARTY_SIZE": "10", "BOOKING_MAX_PARTY_SIZE": "4"},
            "BOOKING_MAX_PARTY_SIZE (4) must be at least BOOKING_MIN_PARTY_SIZE (10)",
        ),
        (
            {"BOOKING_MIN_NOTICE_SECONDS": "864000", "BOOKING_MAX_ADVANCE_DAYS": "5"},
            "BOOKING_MAX_ADVANCE_DAYS (5 days) must be positive and longer than BOOKING_MIN_NOTICE_SECONDS",
        ),
        (
            {"BOOKING_MIN_DURATION_SECONDS": "172800", "BOOKING_MAX_DURATION_DAYS": "1"},
            "BOOKING_MAX_DURATION_DAYS (1 day) must be at least BOOKING_MIN_DURATION_SECONDS (2 days)",
        ),
    ],
)
def test_limits_that_cannot_hold_are_refused_in_one_line_by_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert named in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "env",
    [
        {"BOOKING_MIN_DURATION_SECONDS": "86400", "BOOKING_MAX_DURATION_DAYS": "1"},
        {"BOOKING_MIN_PARTY_SIZE": "4", "BOOKING_MAX_PARTY_SIZE": "4"},
    ],
)
def test_a_minimum_equal_to_its_maximum_is_one_allowed_value(env: dict[str, str]) -> None:
    """A booking of exactly one day, a table for exactly four: consistent, so taken."""
    limits = Settings.from_env(env).booking_limits
    assert limits.problems() == []
    assert limits.min_duration == limits.max_duration or limits.min_party_size == limits.max_party_size


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=90), "90 days"),
        (timedelta(days=1), "1 day"),
        (timedelta(minutes=-5), "-5 minutes"),
        (timedelta(hours=3), "3 hours"),
        (timedelta(seconds=90), "90 seconds"),
        (timedelta(0), "0 seconds"),
    ],
)
def test_spans_read_as_people_say_them(value: timedelta, text: str) -> None:
    assert span(value) == text


def test_a_value_sent_again_as_stored_is_no_change_and_meets_no_new_limit() -> None:
    """A whole-object PUT repeats the party size: made under a wider limit, it is not refused once
    the limit is narrowed; setting it to another value above the limit is."""
    booking = booking_in(BookingStatus.CONFIRMED)
    narrowed = replace(CONFIGURED, max_party_size=booking.party_size - 1)
    validate_update(
        UpdateBooking(API, booking.booking_id, booking.version, BookingChanges(party_size=booking.party_size))
    )
    assert booking.update(
        BookingChanges(party_size=booking.party_size, special_requests="x"), STAFF, CREATED, narrowed
    ) == ("special_requests",)
    with pytest.raises(ValidationFailed):
        booking.update(BookingChanges(party_size=booking.party_size + 1), STAFF, CREATED, narrowed)
