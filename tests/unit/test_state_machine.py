"""Every allowed and every forbidden transition, driven from the one table (domain/status.py)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from booking_service.adapters.tables import ACTIVE_PREDICATE
from booking_service.domain import events as ev
from booking_service.domain.deadlines import Deadlines
from booking_service.domain.errors import InvalidTransition, TransitionTooEarly
from booking_service.domain.model import Booking
from booking_service.domain.status import ACTIVE, TERMINAL, TRANSITIONS, BookingStatus
from booking_service.domain.values import Actor, ChangeSource, Guest, TimeSlot, Venue, VenueType

S = BookingStatus
CREATED = datetime(2030, 1, 1, 9, tzinfo=UTC)
START = CREATED + timedelta(days=1)
LONG_AFTER = START + timedelta(days=30)  # every deadline has passed
STAFF = Actor("staff-1", ChangeSource.API)
PAIRS = list(itertools.product(S, S))


def booking_in(status: BookingStatus) -> Booking:
    booking = Booking.create(
        booking_id="00000000-0000-4000-8000-000000000001",
        reference="BK-00000000",
        guest=Guest("g", "Guest"),
        venue=Venue("v", VenueType.RESTAURANT, "V", "Europe/Berlin"),
        unit_id="t1",
        slot=TimeSlot(START, START + timedelta(hours=2)),
        party_size=2,
        special_requests="",
        idempotency_key="",
        actor=STAFF,
        now=CREATED,
        deadlines=Deadlines(),
    )
    booking.status = status
    booking.events.clear()
    booking.new_history.clear()
    return booking


def test_the_table_matches_the_seed() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == {
        (S.PENDING, S.CONFIRMED),
        (S.CONFIRMED, S.CHECKED_IN),
        (S.CHECKED_IN, S.COMPLETED),
        (S.PENDING, S.CANCELLED),
        (S.CONFIRMED, S.CANCELLED),
        (S.CHECKED_IN, S.CANCELLED),
        (S.PENDING, S.EXPIRED),
        (S.CONFIRMED, S.NO_SHOW),
    }
    assert {S.COMPLETED, S.CANCELLED, S.NO_SHOW, S.EXPIRED} == TERMINAL
    assert {S.PENDING, S.CONFIRMED, S.CHECKED_IN} == ACTIVE


def test_the_database_holds_units_for_the_same_statuses() -> None:
    assert all(f"'{s.value}'" in ACTIVE_PREDICATE for s in ACTIVE)
    assert not any(f"'{s.value}'" in ACTIVE_PREDICATE for s in TERMINAL)


@pytest.mark.parametrize(("current", "target"), [p for p in PAIRS if p[1] in TRANSITIONS[p[0]]])
def test_allowed_transition(current: BookingStatus, target: BookingStatus) -> None:
    booking = booking_in(current)
    booking.change_status(target, "because", STAFF, LONG_AFTER, Deadlines())
    assert booking.status is target
    assert booking.version == 2
    [entry] = booking.new_history
    assert (entry.from_status, entry.to_status, entry.reason, entry.actor, entry.version) == (
        current,
        target,
        "because",
        STAFF,
        2,
    )
    changed, specific = booking.events
    assert changed == ev.BookingStatusChanged(
        booking.booking_id, 2, LONG_AFTER, STAFF, current, target, "because"
    )
    assert (specific.from_status, specific.to_status, specific.actor) == (current, target, STAFF)
    assert specific.type == f"booking.{target.value.lower()}"


@pytest.mark.parametrize(("current", "target"), [p for p in PAIRS if p[1] not in TRANSITIONS[p[0]]])
def test_forbidden_transition(current: BookingStatus, target: BookingStatus) -> None:
    booking = booking_in(current)
    with pytest.raises(InvalidTransition) as raised:
        booking.change_status(target, "", STAFF, LONG_AFTER, Deadlines())
    assert raised.value.metadata["current_status"] == current.value
    assert current.value in raised.value.message
    assert (booking.status, booking.version, booking.events, booking.new_history) == (current, 1, [], [])


def test_expiry_waits_for_the_pending_deadline() -> None:
    booking = booking_in(S.PENDING)
    assert booking.expire_time == CREATED + Deadlines().pending_timeout
    with pytest.raises(TransitionTooEarly):
        booking.change_status(S.EXPIRED, "", STAFF, CREATED + timedelta(minutes=1), Deadlines())
    assert not booking.expire_if_overdue(CREATED + timedelta(minutes=14), Deadlines())
    assert booking.expire_if_overdue(CREATED + timedelta(minutes=15), Deadlines())
    assert booking.status is S.EXPIRED
    assert booking.new_history[-1].actor.source is ChangeSource.SYSTEM


def test_no_show_waits_for_the_grace_period() -> None:
    booking = booking_in(S.CONFIRMED)
    with pytest.raises(TransitionTooEarly) as raised:
        booking.change_status(S.NO_SHOW, "", STAFF, START + timedelta(minutes=29), Deadlines())
    assert raised.value.metadata["not_before"] == (START + timedelta(minutes=30)).isoformat()
    booking.change_status(S.NO_SHOW, "", STAFF, START + timedelta(minutes=30), Deadlines())
    assert booking.no_show_time == START + timedelta(minutes=30)


def test_each_step_stamps_its_time_and_confirming_ends_the_expiry() -> None:
    booking = booking_in(S.PENDING)
    steps = [(S.CONFIRMED, "confirm_time"), (S.CHECKED_IN, "check_in_time"), (S.COMPLETED, "complete_time")]
    for offset, (target, stamp) in enumerate(steps, start=1):
        at = CREATED + timedelta(minutes=offset)
        booking.change_status(target, "", STAFF, at, Deadlines())
        assert getattr(booking, stamp) == at
    assert booking.expire_time is None
    assert booking.version == 4


def test_cancelling_keeps_the_reason() -> None:
    booking = booking_in(S.CONFIRMED)
    booking.change_status(S.CANCELLED, "guest is ill", STAFF, CREATED, Deadlines())
    assert (booking.cancellation_reason, booking.cancel_time) == ("guest is ill", CREATED)
    assert [e.type for e in booking.events] == ["booking.status_changed", "booking.cancelled"]
