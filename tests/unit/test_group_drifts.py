"""The drifts between a booking group's items and their one shared intent (reconcile/group_drifts,
pure): what sharing allows is no drift, what the items and the payment service disagree on is,
and the group's sums (minor units, EUR) are checked when no item explains them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from booking_service.domain.deadlines import Deadlines
from booking_service.domain.model import Booking
from booking_service.domain.payment import PaymentRecord
from booking_service.domain.pricing import CancellationPolicy, PricingSnapshot
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, ChangeSource, Guest, Money, TimeSlot, Venue, VenueType
from booking_service.service_layer.peers import Intent, PeerRefund
from booking_service.service_layer.reconcile.group_drifts import of_group

S = BookingStatus
NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
START = NOW + timedelta(days=10)
GUEST = Actor("guest-1", ChangeSource.API)
GROUP = "00000000-0000-4000-8000-0000000000f1"
SHARE = 24000


def item() -> Booking:
    booking = Booking.create(
        booking_id=str(uuid.uuid4()),
        reference="BK-00000001",
        guest=Guest("g", "Guest"),
        venue=Venue("h", VenueType.HOTEL, "H", "Europe/Berlin"),
        unit_id="r1",
        slot=TimeSlot(START, START + timedelta(days=2)),
        party_size=2,
        special_requests="",
        idempotency_key="",
        actor=GUEST,
        now=NOW,
        deadlines=Deadlines(),
        group_id=GROUP,
    )
    booking.pricing = PricingSnapshot(
        "q", Money(SHARE, "EUR"), True, CancellationPolicy(START - timedelta(days=1), 50)
    )
    booking.payment = PaymentRecord("pi_g", Money(SHARE, "EUR"))
    return booking


def intent(status: str, refunded: int = 0) -> Intent:
    return Intent("pi_g", status, Money(2 * SHARE, "EUR"), Money(refunded, "EUR"))


def cancel(booking: Booking) -> Booking:
    booking.change_status(S.CANCELLED, "", GUEST, NOW, Deadlines())
    return booking


def confirm(booking: Booking) -> Booking:
    booking.change_status(S.CONFIRMED, "", GUEST, NOW, Deadlines(), captured=Money(SHARE, "EUR"))
    return booking


def kinds(found: list[object]) -> list[tuple[str, str]]:
    return [(d.kind, d.booking_id) for d in found]  # type: ignore[attr-defined]


def test_what_sharing_allows_is_no_drift() -> None:
    # Open while the second item is active, although the first is closed.
    assert of_group(GROUP, [cancel(item()), item()], intent("requires_confirmation"), []) == []
    # Captured by the first's confirmation: the second, PENDING, records it when it is confirmed.
    assert of_group(GROUP, [confirm(item()), item()], intent("succeeded"), []) == []


def test_an_item_that_misses_the_void_or_the_capture_drifts() -> None:
    closed, pending = cancel(item()), item()
    assert kinds(of_group(GROUP, [closed, pending], intent("canceled"), [])) == [
        ("void_not_recorded", closed.booking_id),
        ("void_not_recorded", pending.booking_id),
    ]
    # Captured with no item recording it: both miss it (the PENDING one is confirmed by --fix).
    assert kinds(of_group(GROUP, [closed, pending], intent("succeeded"), [])) == [
        ("capture_not_recorded", closed.booking_id),
        ("capture_not_recorded", pending.booking_id),
    ]


def test_an_open_intent_once_every_item_closed_is_the_groups_drift() -> None:
    found = of_group(GROUP, [cancel(item()), cancel(item())], intent("requires_confirmation"), [])
    assert kinds(found) == [("open_intent_on_closed_booking", GROUP)]
    assert found[0].fixable


def test_the_sums_differ_when_money_went_back_for_no_item() -> None:
    paid = [confirm(item()), confirm(item())]
    by_hand = PeerRefund("re_1", Money(5000, "EUR"), True, "goodwill", {})
    found = of_group(GROUP, paid, intent("succeeded", refunded=5000), [by_hand])
    assert kinds(found) == [("refund_not_recorded", GROUP), ("group_money_differs", GROUP)]
    assert "the items hold 480.00 EUR; the payment service holds 430.00 EUR" in found[1].detail
    assert not any(d.fixable for d in found)


def test_shares_that_do_not_add_up_to_the_intent_differ() -> None:
    lone = [confirm(item())]  # one share of 240.00 EUR for an intent of 480.00 EUR
    found = of_group(GROUP, lone, intent("succeeded"), [])
    assert [d.kind for d in found] == ["group_money_differs", "group_money_differs"]
    assert "the items' shares add up to 240.00 EUR" in found[0].detail
