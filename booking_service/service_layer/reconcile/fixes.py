"""How reconciliation's --fix settles a drift: through the sagas, as they would have (run.py).

A closed booking gets a release saga again (it releases the hold, voids an open intent, records a
capture or void found late, and asks back the refunds due); a PENDING booking whose payment was
taken is confirmed as the confirm saga's recovery would; a hold or open intent of a booking never
stored is released or voided as the create saga's compensation would, with keys of the run's own.
A booking that changed since it was checked, or that a saga took, is left for the next run.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable

from booking_service.domain.errors import BookingError
from booking_service.domain.model import Booking
from booking_service.domain.status import TERMINAL, BookingStatus
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import step_key
from booking_service.service_layer.reconcile.drifts import Drift, PeerView
from booking_service.service_layer.sagas import recovery, release, steps
from booking_service.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger("booking_service.reconcile")


async def attempt(job: Awaitable[None]) -> str:
    try:
        await job
    except BookingError as error:
        return f"not fixed: {error.message}"
    return "fixed"


async def repair(ctx: Context, booking: Booking, found: list[Drift], view: PeerView) -> None:
    """Settles a stored booking's fixable drifts through the sagas."""
    strays = [h for h in view.holds if h.held and h.reservation_id != booking.inventory_reservation_id]
    run = f"reconcile-{uuid.uuid4().hex[:12]}"
    for hold in strays:  # a second reserve's hold (another key), never the booking's
        await ctx.peers.inventory.release(
            step_key(booking.booking_id, f"{run}-release-{hold.reservation_id}"), hold.reservation_id
        )
    kinds = {d.kind for d in found if d.fixable}
    if booking.status in TERMINAL:
        if kinds - {"hold_without_active_booking"} or any(
            h.held and h.reservation_id == booking.inventory_reservation_id for h in view.holds
        ):
            await release_again(ctx, booking)  # it records a refund made whose answer was lost
    elif "capture_not_recorded" in kinds or "void_not_recorded" in kinds:
        await _record_payment(ctx, booking)


async def release_again(ctx: Context, booking: Booking) -> None:
    """Gives the closed booking a release saga again, and runs it."""
    uow = ctx.uow()
    async with uow:
        current = await _as_checked(uow, booking)
        saga = await release.close(ctx, uow, current, again=True)
        await uow.bookings.save(current)
        await uow.commit()
    if saga is not None:
        await release.run(ctx, saga)


async def _record_payment(ctx: Context, booking: Booking) -> None:
    """An active booking whose payment the record lags: a PENDING one paid is confirmed (as the
    confirm saga's recovery does); otherwise the capture or void is recorded."""
    intent = await ctx.peers.payments.get(booking.payment_intent_id)
    saga = None
    uow = ctx.uow()
    async with uow:
        current = await _as_checked(uow, booking)
        if current.status is BookingStatus.PENDING and intent.captured:
            saga = steps.new_saga(ctx, "confirm", booking.booking_id, {"intent_id": intent.intent_id})
            current.saga_id = saga.saga_id
            await uow.sagas.add(saga)
        elif intent.captured:
            current.record_capture(
                current.capture_share(intent.amount), "capture found by reconciliation", ctx.clock()
            )
        elif intent.status == "canceled":
            current.record_void("void found by reconciliation", ctx.clock())
        await uow.bookings.save(current)
        await uow.commit()
    if saga is not None:
        await recovery.RECOVER["confirm"](ctx, saga)


async def _as_checked(uow: UnitOfWork, booking: Booking) -> Booking:
    """The booking as stored, if it is still as checked and no saga holds it (raises VersionMismatch,
    Contention: the fix is left for the next run)."""
    current = await uow.bookings.get(booking.booking_id)
    assert current is not None
    current.ensure_version(booking.version)
    current.ensure_free()
    return current


async def compensate_unknown(ctx: Context, booking_id: str, view: PeerView) -> None:
    """Releases the live holds and voids the open intents of a booking never stored (as the create
    saga's compensation does, with keys of this run's own: the peers answer a key they know with its
    first answer)."""
    run = f"reconcile-{uuid.uuid4().hex[:12]}"
    for hold in view.holds:
        if hold.held:
            key = step_key(booking_id, f"{run}-release-{hold.reservation_id}")
            await ctx.peers.inventory.release(key, hold.reservation_id)
    for intent in view.intents:
        if intent.status == "requires_confirmation":
            await ctx.peers.payments.cancel(
                step_key(booking_id, f"{run}-void-{intent.intent_id}"), intent.intent_id
            )
    log.warning("compensated a booking never stored", extra={"booking_id": booking_id})
