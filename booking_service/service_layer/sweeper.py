"""The clock-driven transitions: expiring PENDING bookings past their deadline, and marking
CONFIRMED bookings nobody checked in as NO_SHOW.

Safe with several replicas sweeping at once: each batch locks its rows with SKIP LOCKED (rows a
concurrent request or sweeper holds are left to it), and every save is conditional on the version
read, so a concurrent confirm or check-in either wins or makes the sweep skip the booking, never
both. Correctness never waits for the sweeper: whatever meets an overdue PENDING booking expires
it first (see change_booking and create_booking).
"""

from __future__ import annotations

from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor
from booking_service.service_layer.policy import Clock, Policy
from booking_service.service_layer.unit_of_work import UnitOfWork

BATCH = 100
NO_SHOW_REASON = "not checked in by the end of the grace period"


async def expire_overdue(*, uow: UnitOfWork, clock: Clock, policy: Policy, batch: int = BATCH) -> int:
    """Expires overdue PENDING bookings, a batch per transaction; returns how many."""
    total = 0
    while True:
        async with uow:
            now = clock()
            due = await uow.bookings.due_for_expiry(now, batch)
            for booking in due:
                booking.expire_if_overdue(now, policy.deadlines)
                await uow.bookings.save(booking)
            await uow.commit()
        total += len(due)
        if len(due) < batch:
            return total


async def mark_no_shows(*, uow: UnitOfWork, clock: Clock, policy: Policy, batch: int = BATCH) -> int:
    """Marks CONFIRMED bookings past their no-show deadline as NO_SHOW; returns how many.

    The query can only narrow by the shortest wait (the grace period after the start); a hotel
    guest may arrive until the end of the local day, so each candidate is checked by the domain
    rule, and the walk continues past the ones not yet due."""
    total = 0
    after = None
    while True:
        async with uow:
            now = clock()
            candidates = await uow.bookings.no_show_candidates(
                now - policy.deadlines.no_show_grace, after, batch
            )
            for booking in candidates:
                if now >= policy.deadlines.no_show_after(booking.venue, booking.slot.start):
                    booking.change_status(
                        BookingStatus.NO_SHOW, NO_SHOW_REASON, Actor.system(), now, policy.deadlines
                    )
                    await uow.bookings.save(booking)
                    total += 1
            await uow.commit()
        if len(candidates) < batch:
            return total
        after = (candidates[-1].slot.start, candidates[-1].booking_id)
