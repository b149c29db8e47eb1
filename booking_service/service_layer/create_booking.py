"""Creating a booking.

Creation is a sequence of steps around one database step; the coordination of inventory, pricing
and payment adds its steps (with their compensations) before and after `_store`.
"""

from __future__ import annotations

import uuid

from booking_service.domain.commands import CreateBooking
from booking_service.domain.errors import UnitUnavailable, VersionMismatch
from booking_service.domain.model import Booking
from booking_service.domain.reference import new_reference
from booking_service.domain.validation import validate_create
from booking_service.domain.values import TimeSlot, Venue
from booking_service.service_layer import idempotency
from booking_service.service_layer.policy import Clock, Policy
from booking_service.service_layer.unit_of_work import DuplicateReference, UnitOfWork

SCOPE = "CreateBooking"
_REFERENCE_DRAWS = 5


async def create_booking(cmd: CreateBooking, *, uow: UnitOfWork, clock: Clock, policy: Policy) -> Booking:
    validate_create(cmd, clock())
    cleared_overdue = False
    for _ in range(_REFERENCE_DRAWS):
        try:
            return await _store(cmd, uow, clock, policy)
        except DuplicateReference:
            continue
        except UnitUnavailable:
            # A PENDING booking past its deadline still holds the unit until something expires it;
            # expire such holders here (no sweeper needed) and try once more.
            if cleared_overdue or not await _expire_overdue_holders(cmd, uow, clock, policy):
                raise
            cleared_overdue = True
    raise RuntimeError(f"no free booking reference after {_REFERENCE_DRAWS} draws")


async def _store(cmd: CreateBooking, uow: UnitOfWork, clock: Clock, policy: Policy) -> Booking:
    assert cmd.start_time is not None and cmd.end_time is not None and cmd.venue.venue_type is not None
    async with uow:
        now = clock()
        replay = await idempotency.claim(uow, SCOPE, cmd.idempotency_key, cmd, now, policy.idempotency_ttl)
        if replay is not None:
            return replay
        booking = Booking.create(
            booking_id=str(uuid.uuid4()),
            reference=new_reference(),
            guest=cmd.guest,
            venue=Venue(cmd.venue.venue_id, cmd.venue.venue_type, cmd.venue.name, cmd.venue.time_zone),
            unit_id=cmd.unit_id or None,
            slot=TimeSlot(cmd.start_time, cmd.end_time),
            party_size=cmd.party_size,
            special_requests=cmd.special_requests,
            idempotency_key=cmd.idempotency_key,
            actor=cmd.actor,
            now=now,
            deadlines=policy.deadlines,
        )
        await uow.bookings.add(booking)
        await idempotency.complete(uow, SCOPE, cmd.idempotency_key, booking)
        await uow.commit()
        return booking


async def _expire_overdue_holders(cmd: CreateBooking, uow: UnitOfWork, clock: Clock, policy: Policy) -> bool:
    """Expires overdue PENDING holders of the wanted slot; True if there were any."""
    assert cmd.start_time is not None and cmd.end_time is not None
    try:
        async with uow:
            now = clock()
            holders = await uow.bookings.overlapping(
                cmd.venue.venue_id, cmd.unit_id, TimeSlot(cmd.start_time, cmd.end_time), None
            )
            expired = [b for b in holders if b.expire_if_overdue(now, policy.deadlines)]
            for booking in expired:
                await uow.bookings.save(booking)
            await uow.commit()
    except VersionMismatch:
        return True  # a holder changed meanwhile (confirmed, cancelled, expired): just try again
    return bool(expired)
