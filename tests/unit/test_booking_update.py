"""Changing a booking's details: what changes, what is refused, what is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booking_service.domain.commands import BookingChanges
from booking_service.domain.errors import BookingClosed, ValidationFailed
from booking_service.domain.events import BookingUpdated
from booking_service.domain.limits import BookingLimits
from booking_service.domain.status import BookingStatus
from tests.unit.test_state_machine import CREATED, STAFF, START, booking_in

LIMITS = BookingLimits()


def test_a_reschedule_records_the_old_slot_and_the_fields() -> None:
    booking = booking_in(BookingStatus.CONFIRMED)
    old_slot = booking.slot
    changed = booking.update(
        BookingChanges(
            start_time=START + timedelta(hours=1), end_time=START + timedelta(hours=3), unit_id="t2"
        ),
        STAFF,
        CREATED,
        LIMITS,
    )
    assert changed == ("unit_id", "start_time", "end_time")
    assert (booking.version, booking.unit_id, booking.slot.start) == (2, "t2", START + timedelta(hours=1))
    [event] = booking.events
    assert isinstance(event, BookingUpdated)
    assert (event.previous_slot, event.previous_unit_id, event.changed_fields) == (old_slot, "t1", changed)
    assert booking.new_history[0].changed_fields == changed


def test_values_equal_to_the_stored_ones_change_nothing() -> None:
    booking = booking_in(BookingStatus.PENDING)
    assert booking.update(BookingChanges(party_size=2, unit_id="t1"), STAFF, CREATED, LIMITS) == ()
    assert (booking.version, booking.events, booking.new_history) == (1, [], [])


def test_an_empty_unit_releases_the_unit() -> None:
    booking = booking_in(BookingStatus.PENDING)
    booking.update(BookingChanges(unit_id=""), STAFF, CREATED, LIMITS)
    assert booking.unit_id is None


def test_the_merged_slot_must_hold() -> None:
    booking = booking_in(BookingStatus.PENDING)
    with pytest.raises(ValidationFailed) as raised:
        booking.update(BookingChanges(end_time=START - timedelta(hours=1)), STAFF, CREATED, LIMITS)
    assert [v.field for v in raised.value.violations] == ["end_time"]
    assert booking.version == 1


def test_a_booking_never_moves_to_another_guest() -> None:
    booking = booking_in(BookingStatus.PENDING)
    with pytest.raises(ValidationFailed) as raised:
        booking.update(BookingChanges(guest_id="someone-else", guest_name="X"), STAFF, CREATED, LIMITS)
    assert [v.field for v in raised.value.violations] == ["guest.guest_id"]


def test_the_start_is_fixed_once_checked_in_but_a_stay_can_be_extended() -> None:
    booking = booking_in(BookingStatus.CHECKED_IN)
    with pytest.raises(ValidationFailed):
        booking.update(BookingChanges(start_time=START + timedelta(hours=1)), STAFF, CREATED, LIMITS)
    booking.update(BookingChanges(end_time=START + timedelta(hours=5)), STAFF, CREATED, LIMITS)
    assert booking.slot.end == START + timedelta(hours=5)


@pytest.mark.parametrize(
    "status", [BookingStatus.COMPLETED, BookingStatus.CANCELLED, BookingStatus.NO_SHOW, BookingStatus.EXPIRED]
)
def test_a_closed_booking_cannot_change(status: BookingStatus) -> None:
    with pytest.raises(BookingClosed):
        booking_in(status).update(BookingChanges(party_size=3), STAFF, CREATED, LIMITS)
