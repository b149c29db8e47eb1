"""The clock-driven transitions: settling PENDING bookings past their deadline (expired, or confirmed
if their payment got through), and marking CONFIRMED bookings nobody checked in as NO_SHOW.

Safe with several replicas sweeping at once: every save is conditional on the version read (and a
no-show batch locks its rows with SKIP LOCKED), so a concurrent confirm or check-in either wins or
makes the sweep skip the booking, never both. Correctness never waits for the sweeper: whatever
meets an overdue PENDING booking settles it first (change_booking, sagas/create).
"""

from __future__ import annotations

import logging

from booking_service.domain.errors import BookingError
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor
from booking_service.service_layer.context import Context
from booking_service.service_layer.sagas import release
from booking_service.service_layer.sagas.log import Saga
from booking_service.service_layer.sagas.settle import settle_overdue

log = logging.getLogger("booking_service.sweeper")
BATCH = 100
NO_SHOW_REASON = "not checked in by the end of the grace period"


async def expire_overdue(*, ctx: Context, batch: int = BATCH) -> int:
    """Settles overdue PENDING bookings, oldest first, a batch per call; returns how many."""
    uow = ctx.uow()
    async with uow:
        due = await uow.bookings.due_for_expiry(ctx.clock(), batch)
    settled = 0
    for booking in due:
        try:
            await settle_overdue(ctx, booking.booking_id)
            settled += 1
        except BookingError as error:  # the payment service cannot say: the next sweep tries again
            log.warning(
                "could not settle an overdue booking",
                extra={"booking_id": booking.booking_id, "error": error.message},
            )
    return settled


async def mark_no_shows(*, ctx: Context, batch: int = BATCH) -> int:
    """Marks CONFIRMED bookings past their no-show deadline as NO_SHOW; returns how many.

    The query can only narrow by the shortest wait (the grace period after the start); a hotel
    guest may arrive until the end of the local day, so each candidate is checked by the domain
    rule, and the walk continues past the ones not yet due."""
    deadlines = ctx.policy.deadlines
    total = 0
    after = None
    while True:
        planned: list[Saga] = []
        uow = ctx.uow()
        async with uow:
            now = ctx.clock()
            candidates = await uow.bookings.no_show_candidates(now - deadlines.no_show_grace, after, batch)
            for booking in candidates:
                # A booking a saga holds is that saga's to decide (the next sweep sees it again).
                if booking.saga_id is None and now >= deadlines.no_show_after(
                    booking.venue, booking.slot.start
                ):
                    booking.change_status(
                        BookingStatus.NO_SHOW, NO_SHOW_REASON, Actor.system(), now, deadlines
                    )
                    saga = await release.close(ctx, uow, booking)
                    await uow.bookings.save(booking)
                    if saga is not None:
                        planned.append(saga)
                    total += 1
            await uow.commit()
        for saga in planned:
            await release.run_now(ctx, saga)
        if len(candidates) < batch:
            return total
        after = (candidates[-1].slot.start, candidates[-1].booking_id)
