"""Booking group rules: each item checked by the one create validation, named by its index; the
group's cancellation; an item's share of the group's one payment."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from booking_service.domain.deadlines import Deadlines
from booking_service.domain.errors import Contention, InvalidTransition, UnitUnavailable, ValidationFailed
from booking_service.domain.group import (
    MAX_ITEMS,
    BookingGroup,
    CreateBookingGroup,
    GroupItem,
    of_item,
    validate_create_group,
)
from booking_service.domain.limits import BookingLimits
from booking_service.domain.model import Booking
from booking_service.domain.payment import PaymentRecord
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Money, TimeSlot, Venue, VenueType
from tests.helpers import API, create_command

NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
SINGLE = create_command(NOW + timedelta(days=1))


def item(hours: int = 24, party: int = 2, unit: str = "t1") -> GroupItem:
    start = NOW + timedelta(hours=hours)
    return GroupItem(unit, start, start + timedelta(hours=2), party)


def group(*items: GroupItem) -> CreateBookingGroup:
    return CreateBookingGroup(API, SINGLE.guest, SINGLE.venue, items)


def test_each_item_is_checked_as_a_booking_and_named_by_its_index() -> None:
    bad = group(item(), replace(item(unit="t2"), party_size=0), replace(item(), end_time=NOW))
    with pytest.raises(ValidationFailed) as raised:
        validate_create_group(bad, NOW, BookingLimits())
    fields = {v.field for v in raised.value.violations}
    assert "items[1].party_size" in fields
    assert "items[2].end_time" in fields
    assert not any(f.startswith("items[0]") for f in fields)


def test_the_group_shares_guest_and_venue_violations_once() -> None:
    bad = replace(group(item(), item(unit="t2")), guest=replace(SINGLE.guest, guest_id=""))
    with pytest.raises(ValidationFailed) as raised:
        validate_create_group(bad, NOW, BookingLimits())
    assert [v.field for v in raised.value.violations] == ["guest.guest_id"]


@pytest.mark.parametrize("count", [0, MAX_ITEMS + 1])
def test_a_group_holds_one_to_twenty_items(count: int) -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_create_group(group(*[item(unit=f"t{i}") for i in range(count)]), NOW, BookingLimits())
    assert "items" in {v.field for v in raised.value.violations}
    validate_create_group(group(*[item(unit=f"t{i}") for i in range(MAX_ITEMS)]), NOW, BookingLimits())


def test_an_error_names_its_item() -> None:
    error = of_item(UnitUnavailable("Unit t2 is taken.", {"unit_id": "t2"}), 3)
    assert error.metadata == {"unit_id": "t2", "item_index": "3"}
    assert str(error) == error.message == "Item 3 of the group: Unit t2 is taken."


def booking(booking_id: str, price: int, group_id: str | None = "g") -> Booking:
    venue = Venue("v", VenueType.HOTEL, "", "UTC")
    made = Booking.create(
        booking_id=booking_id,
        reference="BK-00000000",
        guest=SINGLE.guest,
        venue=venue,
        unit_id=booking_id,
        slot=TimeSlot(NOW + timedelta(days=5), NOW + timedelta(days=6)),
        party_size=2,
        special_requests="",
        idempotency_key="",
        actor=API,
        now=NOW,
        deadlines=Deadlines(),
        group_id=group_id,
    )
    made.payment = PaymentRecord("pi_1", Money(price, "EUR"))
    return made


def test_an_item_of_a_group_captures_its_own_share() -> None:
    whole = Money(30000, "EUR")
    assert booking("a", 12000).capture_share(whole) == Money(12000, "EUR")
    assert booking("b", 12000, group_id=None).capture_share(whole) == whole


def test_cancelling_a_group_cancels_what_is_active_and_bumps_its_version() -> None:
    items = [booking("a", 1), booking("b", 2)]
    items[1].change_status(BookingStatus.CANCELLED, "alone", API, NOW, Deadlines())
    g = BookingGroup("g", "GR-1", SINGLE.guest, items[0].venue, ("a", "b"), 1, NOW, NOW, bookings=items)
    changed = g.cancel("trip off", API, NOW, Deadlines())
    assert changed == [items[0]]
    assert (g.version, g.cancellation_reason, items[0].status) == (2, "trip off", BookingStatus.CANCELLED)
    with pytest.raises(InvalidTransition):
        g.cancel("again", API, NOW, Deadlines())


def test_a_saga_holding_an_item_refuses_the_whole_cancellation() -> None:
    items = [booking("a", 1), booking("b", 2)]
    items[1].saga_id = "s"
    g = BookingGroup("g", "GR-1", SINGLE.guest, items[0].venue, ("a", "b"), 1, NOW, NOW, bookings=items)
    with pytest.raises(Contention) as raised:
        g.cancel("trip off", API, NOW, Deadlines())
    assert raised.value.message.startswith("Booking group g: another change to its booking b")
    assert raised.value.metadata == {"group_id": "g", "booking_id": "b"}
    assert [b.status for b in items] == [BookingStatus.PENDING] * 2
    assert g.version == 1
