"""The shares of a group's one payment intent (groups/shares.py): an item closed before the intent
was voided records the void; a capture that lands while a release still holds a closed item
refunds that item's share once the release lets go; a group_shares saga given up on flags the
items it concerns, and the operator's retry clears them. Against the real database and the
sandbox peers on loopback; after each, groups_support.check_groups."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from booking.v1 import booking_pb2 as pb

from booking_service.domain.values import Actor, ChangeSource
from booking_service.service_layer.sagas import operators
from booking_service.service_layer.sagas.log import NEEDS_ATTENTION
from tests.e2e.groups_support import check_groups, group_request
from tests.e2e.peers_support import World, world

S = pb.BookingStatus


@pytest.fixture
async def w(database_url: str, settings, sandbox) -> AsyncIterator[World]:  # type: ignore[no-untyped-def]
    async with world(database_url, settings, sandbox) as running:
        yield running


@pytest.fixture
def venue() -> str:
    return f"group-shares-{uuid.uuid4().hex[:10]}"


async def get(w: World, booking_id: str) -> pb.Booking:
    return await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id))


async def cancel(w: World, booking: pb.Booking) -> pb.Booking:
    current = await get(w, booking.booking_id)
    return await w.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=current.version)
    )


async def confirm(w: World, booking: pb.Booking) -> pb.Booking:
    current = await get(w, booking.booking_id)
    return await w.stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking.booking_id, expected_version=current.version, status=S.BOOKING_STATUS_CONFIRMED
        )
    )


@pytest.mark.parametrize("last", ["cancelled", "expired"])
async def test_an_item_closed_before_the_void_records_it(w: World, venue: str, last: str) -> None:
    """The first item is cancelled while the second keeps the intent open (its record truly says
    REQUIRES_CONFIRMATION then); the second's cancel or expiry voids the intent, and the first
    item then says VOIDED as well, in a change of its own."""
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2"]))
    first, second = group.bookings
    closed = await cancel(w, first)
    assert closed.payment.status == pb.PAYMENT_STATUS_REQUIRES_CONFIRMATION
    if last == "cancelled":
        await cancel(w, second)
    else:
        w.clock.advance(timedelta(days=1))  # past the PENDING item's deadline: a read expires it
        assert (await get(w, second.booking_id)).status == S.BOOKING_STATUS_EXPIRED
    assert w.sandbox.state.payments.intents[group.payment_intent_id].status == "canceled"
    for item in (first, second):
        now = await get(w, item.booking_id)
        assert now.payment.status == pb.PAYMENT_STATUS_VOIDED, (item.booking_id, now.payment)
    voided = await get(w, first.booking_id)
    assert voided.version == closed.version + 1
    assert list(voided.history[-1].changed_fields) == ["payment"]
    await check_groups(w, venue)


async def test_a_late_capture_refunds_an_item_its_release_still_held(w: World, venue: str) -> None:
    """The first item is cancelled while the inventory is down: its release settles the payment
    (the intent stays open for the second item) but keeps the item while it waits to let go of
    the hold. The second item's confirmation then captures the whole intent, the first item's
    share too; once the release lets go, that share is recorded and refunded (free cancellation)."""
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2"]))
    first, second = group.bookings
    await w.faults(peer="inventory", down=True)
    await cancel(w, first)
    await w.holding(first.booking_id, "release")
    await w.faults(peer="inventory", down=False)
    await confirm(w, second)
    intent = w.sandbox.state.payments.intents[group.payment_intent_id]
    assert intent.status == "succeeded"
    await asyncio.sleep(0.6)  # the inventory's circuit lets a trial through
    await w.recover()
    await w.recover()
    refunded = await get(w, first.booking_id)
    assert refunded.payment.captured.amount_minor == 24000
    assert refunded.refunded.amount_minor == 24000
    assert intent.refunded_minor == 24000
    await check_groups(w, venue)


async def test_a_group_shares_saga_given_up_flags_its_items_and_a_retry_clears_them(
    w: World, venue: str
) -> None:
    group = await w.stub.CreateBookingGroup(group_request(venue, ["room-1", "room-2"]))
    first, second = group.bookings
    await cancel(w, first)
    # The saga that settles the first item's share cannot read the intent: then not at all.
    await w.fail_next(f"/api/v1/payments/intents/{group.payment_intent_id}", "error", 2, method="GET")
    await confirm(w, second)
    await w.faults(peer="payments", down=True)
    for _ in range(w.app.use_cases.ctx.saga_max_attempts):
        await w.recover()
    [saga] = await operators.list_sagas(w.app.use_cases.ctx, (NEEDS_ATTENTION,), group.group_id)
    assert saga.kind == "group_shares"
    flagged = await get(w, first.booking_id)
    assert [(a.saga_id, a.saga_kind) for a in flagged.attention] == [(saga.saga_id, "group_shares")]
    assert flagged.history[-1].changed_fields == ["attention"]
    assert list((await get(w, second.booking_id)).attention) == []  # in line: not concerned

    await w.faults(peer="payments", down=False)
    await asyncio.sleep(0.6)  # the payments circuit lets a trial through
    await operators.retry_saga(w.app.use_cases.ctx, saga.saga_id, Actor("ops-ana", ChangeSource.API))
    cleared = await get(w, first.booking_id)
    assert list(cleared.attention) == []
    assert cleared.refunded.amount_minor == 24000
    await check_groups(w, venue)
