"""Changing an existing booking: update, cancel and status change.

Each ends with the one database step (booking_change.py). A change that calls a peer first is a
saga that takes the booking before it does (one money- or hold-changing operation per booking at a
time): confirming a booking paid up front takes the payment (sagas/confirm.py), a change of time,
unit or party size moves the inventory hold (sagas/reschedule.py). Which path a request takes is
decided from the booking as read, without a transaction, and decided again in the transaction that
takes the booking. A change to a final status lets go of the hold and settles the payment after
its commit (sagas/release.py).
"""

from __future__ import annotations

from datetime import datetime

from booking_service.domain.commands import CancelBooking, ChangeBookingStatus, UpdateBooking
from booking_service.domain.model import Booking
from booking_service.domain.status import BookingStatus
from booking_service.domain.validation import validate_cancel, validate_status_change, validate_update
from booking_service.service_layer import idempotency
from booking_service.service_layer.booking_change import change_claiming
from booking_service.service_layer.context import Context
from booking_service.service_layer.sagas import confirm, reschedule
from booking_service.service_layer.venue_rules import rules_of


async def update_booking(cmd: UpdateBooking, *, ctx: Context) -> Booking:
    validate_update(cmd)
    booking = await ctx.reads.get(cmd.booking_id)
    # The rules the booking was made under (venue_rules.rules_of); the settings' for a booking not
    # found, which the database step then refuses as such.
    limits = await rules_of(ctx, booking) if booking is not None else ctx.policy.limits
    new = reschedule.moved_stay(booking, cmd, ctx.clock(), limits) if booking is not None else None
    if booking is not None and new is not None:
        return await reschedule.reschedule(cmd, ctx, booking, new, limits)

    def plain(b: Booking, now: datetime) -> None:
        b.update(cmd.changes, cmd.actor, now, limits if b.rules is None else b.rules)

    return await change_claiming(idempotency.scope_of(reschedule.SCOPE, cmd), cmd, ctx, plain)


async def cancel_booking(cmd: CancelBooking, *, ctx: Context) -> Booking:
    validate_cancel(cmd)

    def move(b: Booking, now: datetime) -> None:
        b.change_status(BookingStatus.CANCELLED, cmd.reason, cmd.actor, now, ctx.policy.deadlines)

    scope = idempotency.scope_of("CancelBooking", cmd)
    return await change_claiming(scope, cmd, ctx, move, target=BookingStatus.CANCELLED)


async def change_booking_status(cmd: ChangeBookingStatus, *, ctx: Context) -> Booking:
    validate_status_change(cmd)
    target = cmd.status
    assert target is not None
    if target is BookingStatus.CONFIRMED:
        booking = await ctx.reads.get(cmd.booking_id)
        if booking is not None and confirm.needs_payment(booking, cmd, ctx):
            return await confirm.confirm_paying(cmd, ctx, booking)

    def move(b: Booking, now: datetime) -> None:
        b.change_status(target, cmd.reason, cmd.actor, now, ctx.policy.deadlines)

    return await change_claiming(idempotency.scope_of(confirm.SCOPE, cmd), cmd, ctx, move, target=target)
