"""How a unit refusal is worded (domain/unit_conflicts.py): the booking in the way by its times,
and, when only turnover buffers make the times meet, each buffer that does with its value and its
source (a setting, or a venue's policy and version), on either side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from booking_service.config import LIMIT_SETTINGS
from booking_service.domain.limits import BookingLimits
from booking_service.domain.unit_conflicts import unit_held, unit_taken_at_write, why_blocked
from booking_service.domain.values import TimeSlot

SEVEN = datetime(2030, 1, 2, 19, tzinfo=UTC)
HOUR, QUARTER = timedelta(hours=1), timedelta(minutes=15)
SETTINGS = BookingLimits(buffer_before=QUARTER, sources=LIMIT_SETTINGS)
POLICY = BookingLimits(buffer_after=QUARTER).with_sources({"buffer_after": "policy of venue v, version 3"})


def test_a_held_booking_before_names_its_buffer_after_and_the_new_ones_buffer_before() -> None:
    held = TimeSlot(SEVEN, SEVEN + 2 * HOUR)
    slot = TimeSlot(SEVEN + 2 * HOUR + timedelta(minutes=10), SEVEN + 4 * HOUR)
    error = unit_held("v", "t", slot, SETTINGS, held, POLICY)
    assert error.reason == "UNIT_UNAVAILABLE"
    assert "which ends 10 minutes before 2030-01-02T21:10:00+00:00" in error.message
    assert "that booking's buffer_after of 15 minutes (policy of venue v, version 3)" in error.message
    assert "this booking's buffer_before of 15 minutes (BOOKING_BUFFER_BEFORE_SECONDS)" in error.message
    assert error.metadata["held_buffer_after"] == "900s (policy of venue v, version 3)"
    assert error.metadata["buffer_before"] == "900s (BOOKING_BUFFER_BEFORE_SECONDS)"


def test_a_held_booking_after_names_the_new_ones_buffer_after() -> None:
    held = TimeSlot(SEVEN + 3 * HOUR, SEVEN + 4 * HOUR)
    words = why_blocked(TimeSlot(SEVEN, SEVEN + 3 * HOUR), POLICY, held, None)  # frozen nothing
    assert "which starts 0 seconds after" in words
    assert words.endswith("this booking's buffer_after of 15 minutes (policy of venue v, version 3)")
    assert "that booking's" not in words


def test_overlapping_times_name_no_buffer() -> None:
    held = TimeSlot(SEVEN, SEVEN + 2 * HOUR)
    words = why_blocked(TimeSlot(SEVEN + HOUR, SEVEN + 3 * HOUR), POLICY, held, POLICY)
    assert words == (
        "it is booked from 2030-01-02T19:00:00+00:00 to 2030-01-02T21:00:00+00:00, overlapping "
        "2030-01-02T20:00:00+00:00 to 2030-01-02T22:00:00+00:00"
    )


def test_the_constraints_refusal_names_the_time_blocked_and_its_buffers() -> None:
    error = unit_taken_at_write("v", "t", TimeSlot(SEVEN, SEVEN + HOUR), POLICY)
    assert "the time it would block, 2030-01-02T19:00:00+00:00 to 2030-01-02T20:15:00+00:00" in error.message
    assert "(with its buffer_after of 15 minutes (policy of venue v, version 3))" in error.message
    assert error.metadata == {
        "venue_id": "v",
        "unit_id": "t",
        "buffer_after": "900s (policy of venue v, version 3)",
    }
