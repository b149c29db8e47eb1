"""Reconciliation of booking groups: the one intent the items share (opened under the group's id)
against every item's money record, and the group's sums (reconcile/groups.py). Drift is made the
way it happens: the payment service's state changed behind this service's back (edited in the
sandbox). After --fix, nothing drifts and groups_support.check_groups holds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from booking.v1 import booking_group_pb2 as gpb
from booking.v1 import booking_pb2 as pb

from booking_service.service_layer.reconcile.run import Report, reconcile
from tests.e2e.groups_support import check_groups, group_request
from tests.e2e.peers_support import World, world

S = pb.BookingStatus


@pytest.fixture
async def w(private_database: str, settings, sandbox) -> AsyncIterator[World]:  # type: ignore[no-untyped-def]
    """A database of the test's own: reconciliation reads every booking changed in the window."""
    async with world(private_database, settings, sandbox) as running:
        yield running


@pytest.fixture
def venue() -> str:
    return f"recon-groups-{uuid.uuid4().hex[:8]}"


async def run(w: World, *, fix: bool = False) -> Report:
    return await reconcile(w.app.use_cases.ctx, timedelta(hours=1), fix=fix)


def kinds(report: Report, owner: str) -> set[str]:
    return {d.kind for d in report.drifts if d.booking_id == owner}


async def get(w: World, booking_id: str) -> pb.Booking:
    return await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id))


async def cancel(w: World, booking_id: str) -> pb.Booking:
    current = await get(w, booking_id)
    return await w.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking_id, expected_version=current.version)
    )


async def confirm(w: World, booking_id: str) -> pb.Booking:
    current = await get(w, booking_id)
    return await w.stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking_id, expected_version=current.version, status=S.BOOKING_STATUS_CONFIRMED
        )
    )


async def group(w: World, venue: str, *units: str) -> gpb.BookingGroup:
    return await w.stub.CreateBookingGroup(group_request(venue, list(units), guest_id=uuid.uuid4().hex))


async def test_nothing_drifts_in_groups_after_the_sagas_ran(w: World, venue: str) -> None:
    """Shared intents in every legitimate state: open for a PENDING item after its sibling was
    cancelled, captured by one item's confirmation while the other is still PENDING, voided with the
    group, captured then refunded item by item."""
    open_one = await group(w, venue, "room-1", "room-2")
    await cancel(w, open_one.bookings[0].booking_id)
    half_paid = await group(w, venue, "room-3", "room-4")
    await confirm(w, half_paid.bookings[0].booking_id)
    voided = await group(w, venue, "room-5", "room-6")
    await w.stub.CancelBookingGroup(
        gpb.CancelBookingGroupRequest(group_id=voided.group_id, expected_version=1)
    )
    refunded = await group(w, venue, "room-7", "room-8")
    await confirm(w, refunded.bookings[1].booking_id)
    await w.stub.CancelBookingGroup(
        gpb.CancelBookingGroupRequest(group_id=refunded.group_id, expected_version=1)
    )
    report = await run(w)
    assert report.drifts == []
    assert report.checked == 8
    await check_groups(w, venue)


async def test_a_groups_money_that_drifted_is_found_and_fixed(w: World, venue: str) -> None:
    intents = w.sandbox.state.payments.intents
    # Captured behind this service's back, an item cancelled before: no item records the capture.
    taken = await group(w, venue, "room-1", "room-2")
    await cancel(w, taken.bookings[0].booking_id)
    intents[taken.payment_intent_id].status = "succeeded"
    # Voided behind its back, with one item cancelled and one PENDING.
    voided = await group(w, venue, "room-3", "room-4")
    await cancel(w, voided.bookings[0].booking_id)
    intents[voided.payment_intent_id].status = "canceled"
    # Open again after the whole group was cancelled and its intent voided.
    reopened = await group(w, venue, "room-5", "room-6")
    await w.stub.CancelBookingGroup(
        gpb.CancelBookingGroupRequest(group_id=reopened.group_id, expected_version=1)
    )
    intents[reopened.payment_intent_id].status = "requires_confirmation"

    report = await run(w)
    for item in taken.bookings:
        assert kinds(report, item.booking_id) == {"capture_not_recorded"}
    for item in voided.bookings:
        assert kinds(report, item.booking_id) == {"void_not_recorded"}
    assert kinds(report, reopened.group_id) == {"open_intent_on_closed_booking"}
    assert [d for d in report.drifts if not d.fixable] == []

    fixed = await run(w, fix=True)
    assert set(fixed.fixes.values()) == {"fixed"}
    closed, pending = [await get(w, b.booking_id) for b in taken.bookings]
    assert (closed.payment.captured.amount_minor, closed.refunded.amount_minor) == (24000, 24000)
    assert (pending.status, pending.payment.captured.amount_minor) == (S.BOOKING_STATUS_CONFIRMED, 24000)
    for item in voided.bookings:
        assert (await get(w, item.booking_id)).payment.status == pb.PAYMENT_STATUS_VOIDED
    assert intents[reopened.payment_intent_id].status == "canceled"
    assert (await run(w)).drifts == []
    # The PENDING item whose intent was voided stays PENDING (it can no longer be paid): cancel it.
    await cancel(w, voided.bookings[1].booking_id)
    await check_groups(w, venue)


async def test_refunds_and_sums_no_item_accounts_for(w: World, venue: str) -> None:
    """A refund made on the group's intent for no item (by hand, at the payment service): the group
    says so, and so do its sums; neither is for --fix."""
    paid = await group(w, venue, "room-1", "room-2")
    await confirm(w, paid.bookings[0].booking_id)
    state = w.sandbox.state.payments
    state.refund(paid.payment_intent_id, 5000, "goodwill, by hand")
    report = await run(w)
    assert kinds(report, paid.group_id) == {"refund_not_recorded", "group_money_differs"}
    [differs] = [d for d in report.drifts if d.kind == "group_money_differs"]
    assert "the items hold 480.00 EUR; the payment service holds 430.00 EUR" in differs.detail
    assert not any(d.fixable for d in report.drifts)
    assert (await run(w, fix=True)).fixes == {}
