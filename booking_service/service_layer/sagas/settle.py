"""Settling a PENDING booking past its deadline: expire it, unless its payment got through.

Before a booking expires, its payment intent is checked: a payment that succeeded at the last moment
confirms the booking instead of being lost, and an intent not yet paid is cancelled first, so no
payment can land on an expired booking. Then the booking expires and its release saga lets go of
its hold. Whatever meets an overdue booking (a request for it, a new booking for its unit, the
sweeper) settles it first; two settling at once are decided by the booking's version.
"""

from __future__ import annotations

from booking_service.domain.errors import VersionMismatch
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import step_key
from booking_service.service_layer.sagas import release

PAID_AT_THE_DEADLINE = "payment succeeded by the deadline"


async def settle_overdue(ctx: Context, booking_id: str) -> None:
    """Expires (or, if paid, confirms) the booking if it is an overdue PENDING one; raises
    PeerUnavailable when the payment service cannot say whether it was paid."""
    uow = ctx.uow()
    async with uow:
        booking = await uow.bookings.get(booking_id)
    if booking is None or not booking.is_overdue(ctx.clock()):
        return
    paid = False
    if booking.payment_intent_id:
        payments = ctx.peers.payments
        intent = await payments.get(booking.payment_intent_id)
        if intent.status == "requires_confirmation":
            intent = await payments.cancel(step_key(booking_id, "void"), intent.intent_id)
        paid = intent.captured
    uow = ctx.uow()
    try:
        async with uow:
            booking = await uow.bookings.get(booking_id)
            now = ctx.clock()
            if booking is None or not booking.is_overdue(now):
                return
            saga = None
            if paid:
                booking.change_status(
                    BookingStatus.CONFIRMED, PAID_AT_THE_DEADLINE, Actor.system(), now, ctx.policy.deadlines
                )
            else:
                booking.expire_if_overdue(now, ctx.policy.deadlines)
                saga = await release.write(ctx, uow, booking)
            await uow.bookings.save(booking)
            await uow.commit()
    except VersionMismatch:
        return  # someone else settled or changed it meanwhile
    if saga is not None:
        await release.run_now(ctx, saga)
