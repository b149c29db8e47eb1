"""The money record's rules (pure): what a booking says about money is what the payment service
confirmed, a refund is counted once it succeeded, closing asks back what the frozen policy gives, a
reschedule never buys back a refund, and money reads in major units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booking_service.domain import events as ev
from booking_service.domain.deadlines import Deadlines
from booking_service.domain.errors import PaymentRequired
from booking_service.domain.model import Booking
from booking_service.domain.payment import PaymentRecord, PaymentStatus, RefundStatus
from booking_service.domain.pricing import CancellationPolicy, PricingSnapshot
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, ChangeSource, Guest, Money, TimeSlot, Venue, VenueType

S = BookingStatus
NOW = datetime(2030, 1, 1, 9, tzinfo=UTC)
START = NOW + timedelta(days=10)
FREE_UNTIL = START - timedelta(days=1)
GUEST = Actor("guest-1", ChangeSource.API)
EUR = "EUR"


def prepaid(total: int = 24000, fee_percent: int = 50) -> Booking:
    booking = Booking.create(
        booking_id="00000000-0000-4000-8000-000000000002",
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
    )
    booking.pricing = PricingSnapshot(
        "q", Money(total, EUR), True, CancellationPolicy(FREE_UNTIL, fee_percent)
    )
    booking.payment_intent_id = "pi_1"
    booking.payment = PaymentRecord("pi_1", Money(total, EUR))
    booking.events.clear()
    booking.new_history.clear()
    return booking


def confirmed(booking: Booking) -> Booking:
    booking.change_status(S.CONFIRMED, "", GUEST, NOW, Deadlines(), captured=Money(24000, EUR))
    return booking


def test_a_booking_paid_up_front_is_confirmed_only_with_its_capture() -> None:
    booking = prepaid()
    with pytest.raises(PaymentRequired):
        booking.change_status(S.CONFIRMED, "", GUEST, NOW, Deadlines())
    confirmed(booking)
    assert booking.payment is not None
    assert (booking.payment.status, booking.payment.captured) == (PaymentStatus.CAPTURED, Money(24000, EUR))
    assert [type(e) for e in booking.events] == [
        ev.PaymentCaptured,
        ev.BookingStatusChanged,
        ev.BookingConfirmed,
    ]
    assert {e.version for e in booking.events} == {2}  # one change: the capture and the confirmation
    assert booking.new_history[-1].changed_fields == ("status", "payment")


@pytest.mark.parametrize(
    ("when", "back"), [(FREE_UNTIL - timedelta(hours=1), 24000), (FREE_UNTIL + timedelta(hours=1), 12000)]
)
def test_cancelling_asks_back_what_the_policy_gives_and_counts_it_once_it_succeeded(
    when: datetime, back: int
) -> None:
    booking = confirmed(prepaid())
    booking.change_status(S.CANCELLED, "plans changed", GUEST, when, Deadlines())
    assert booking.payment is not None
    assert booking.refunded == Money(0, EUR)  # asked for, not made
    assert booking.payment.refund_pending == Money(back, EUR)
    booking.record_refund("refund", RefundStatus.SUCCEEDED, when, "re_1")
    assert booking.refunded == Money(back, EUR)
    assert booking.payment.refund_pending == Money(0, EUR)
    assert isinstance(booking.events[-1], ev.RefundSucceeded)
    assert booking.events[-1].refund_id == "re_1"


def test_an_unpaid_booking_says_nothing_was_refunded() -> None:
    booking = prepaid()
    booking.change_status(S.CANCELLED, "", GUEST, NOW, Deadlines())
    assert booking.refunded is None
    assert booking.payment is not None
    assert booking.payment.refunds == ()


def test_a_capture_found_on_a_closed_booking_asks_back_what_is_due() -> None:
    booking = prepaid()
    booking.change_status(S.CANCELLED, "", GUEST, NOW, Deadlines())
    booking.record_capture(Money(24000, EUR), "found late", NOW)
    assert booking.payment is not None
    assert booking.payment.refund_pending == Money(24000, EUR)  # cancelled before free_until: all


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["ask", "succeed", "fail"]), st.integers(min_value=1, max_value=30000)),
        max_size=30,
    )
)
@settings(max_examples=300, deadline=None)
def test_refunds_never_exceed_the_capture(steps: list[tuple[str, int]]) -> None:
    """Whatever is asked and answered, what is refunded and what is in flight never exceed what was
    captured, and only succeeded refunds are counted."""
    record = PaymentRecord("pi", Money(24000, EUR)).with_capture(Money(24000, EUR))
    for n, (action, amount) in enumerate(steps):
        requested = [r for r in record.refunds if r.status is RefundStatus.REQUESTED]
        if action == "ask":
            if amount <= record.refundable.amount_minor:
                record = record.with_refund_requested(f"r{n}", Money(amount, EUR), "why", NOW)
            else:
                with pytest.raises(ValueError, match="refundable"):
                    record.with_refund_requested(f"r{n}", Money(amount, EUR), "why", NOW)
        elif requested:
            status = RefundStatus.SUCCEEDED if action == "succeed" else RefundStatus.FAILED
            record = record.with_refund_settled(requested[0].key, status, NOW, f"re_{n}")
        total = record.refunded.amount_minor + record.refund_pending.amount_minor
        assert 0 <= total <= 24000
        assert record.refunded.amount_minor == sum(
            r.amount.amount_minor for r in record.refunds if r.status is RefundStatus.SUCCEEDED
        )


def test_a_reschedule_after_the_deadline_keeps_the_lapsed_policy() -> None:
    """Found: moving a stay after its free cancellation re-froze a new free_until."""
    old = PricingSnapshot("q1", Money(24000, EUR), True, CancellationPolicy(FREE_UNTIL, 50))
    later = PricingSnapshot(
        "q2", Money(24000, EUR), True, CancellationPolicy(FREE_UNTIL + timedelta(days=20), 30)
    )
    after = FREE_UNTIL + timedelta(hours=1)
    kept = old.rescheduled(later, after)
    assert kept.cancellation == CancellationPolicy(FREE_UNTIL, 50)  # lapsed, and the fee never falls
    assert kept.refund_on_cancel(Money(24000, EUR), after) == old.refund_on_cancel(Money(24000, EUR), after)
    assert old.rescheduled(later, FREE_UNTIL - timedelta(hours=1)) == later  # before it: as quoted


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(12000, "EUR"), "120.00 EUR"),
        (Money(5, "EUR"), "0.05 EUR"),
        (Money(-250, "USD"), "-2.50 USD"),
        (Money(500, "JPY"), "500 JPY"),
        (Money(1234, "KWD"), "1.234 KWD"),
    ],
)
def test_money_reads_in_major_units(money: Money, text: str) -> None:
    assert str(money) == text


def test_attention_is_kept_per_saga() -> None:
    booking = prepaid()
    booking.need_attention("s1", "update", "cannot move the hold back", NOW)
    booking.need_attention("s2", "release", "hold lost", NOW)
    booking.resolve_attention("s1", "moved by hand", GUEST, NOW)
    assert [a.saga_id for a in booking.attention] == ["s2"]
    version = booking.version
    booking.resolve_attention("s1", "again", GUEST, NOW)
    assert booking.version == version  # nothing to resolve: no change
