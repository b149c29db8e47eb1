"""Changing an existing booking: update, cancel and status change share one flow.

Claim the idempotency key, load, check the expected version, apply the change to the aggregate,
save conditionally on the version that was loaded, record the answer under the key, commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from booking_service.domain.commands import CancelBooking, ChangeBookingStatus, UpdateBooking
from booking_service.domain.errors import BookingNotFound
from booking_service.domain.model import Booking
from booking_service.domain.status import BookingStatus
from booking_service.domain.validation import validate_cancel, validate_status_change, validate_update
from booking_service.service_layer import idempotency
from booking_service.service_layer.policy import Clock, Policy
from booking_service.service_layer.unit_of_work import UnitOfWork

Mutation = Callable[[Booking, datetime], object]


async def update_booking(cmd: UpdateBooking, *, uow: UnitOfWork, clock: Clock, policy: Policy) -> Booking:
    validate_update(cmd)
    return await _change(
        "UpdateBooking", cmd, uow, clock, policy, lambda b, now: b.update(cmd.changes, cmd.actor, now)
    )


async def cancel_booking(cmd: CancelBooking, *, uow: UnitOfWork, clock: Clock, policy: Policy) -> Booking:
    validate_cancel(cmd)
    return await _change(
        "CancelBooking",
        cmd,
        uow,
        clock,
        policy,
        lambda b, now: b.change_status(BookingStatus.CANCELLED, cmd.reason, cmd.actor, now, policy.deadlines),
    )


async def change_booking_status(
    cmd: ChangeBookingStatus, *, uow: UnitOfWork, clock: Clock, policy: Policy
) -> Booking:
    validate_status_change(cmd)
    target = cmd.status
    assert target is not None
    return await _change(
        "UpdateBookingStatus",
        cmd,
        uow,
        clock,
        policy,
        lambda b, now: b.change_status(target, cmd.reason, cmd.actor, now, policy.deadlines),
        expire_overdue=target is not BookingStatus.EXPIRED,
    )


async def _change(
    scope: str,
    cmd: UpdateBooking | CancelBooking | ChangeBookingStatus,
    uow: UnitOfWork,
    clock: Clock,
    policy: Policy,
    mutate: Mutation,
    *,
    expire_overdue: bool = True,
) -> Booking:
    async with uow:
        now = clock()
        replay = await idempotency.claim(uow, scope, cmd.idempotency_key, cmd, now, policy.idempotency_ttl)
        if replay is not None:
            return replay
        booking = await uow.bookings.get(cmd.booking_id)
        if booking is None:
            raise BookingNotFound(f"There is no booking {cmd.booking_id}.", {"booking_id": cmd.booking_id})
        booking.ensure_version(cmd.expected_version)
        if expire_overdue and booking.expire_if_overdue(now, policy.deadlines):
            # The booking expired before this request met it: record the expiry (and nothing
            # under the key), then let the request fail as it must on an expired booking.
            await uow.bookings.save(booking)
            await idempotency.release(uow, scope, cmd.idempotency_key)
            await uow.commit()
        mutate(booking, now)
        await uow.bookings.save(booking)
        await idempotency.complete(uow, scope, cmd.idempotency_key, booking)
        await uow.commit()
        return booking
