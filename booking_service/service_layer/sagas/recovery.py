"""The recovery worker: finishes or compensates sagas whose process died (or gave up) between steps.

It takes over sagas whose lease ran out (bumping their fencing token, so a stalled first owner cannot
finish them too), and, per kind:

| saga    | left between steps means           | recovery                                             |
|---------|------------------------------------|------------------------------------------------------|
| create  | the booking was never stored       | compensate: cancel the intent, release the hold      |
| confirm | the payment may have been taken    | taken: confirm the booking (the saga still holds it) |
| update  | the hold may have moved            | the booking kept its old stay: move the hold back    |
| expire  | the intent may have been voided    | carry on: confirm if paid, else expire and release   |
| release | the hold or payment not let go yet | carry on (hold released, payment voided/refunded)    |
| group_create | no item was stored            | compensate: void the group's intent, release every hold |
| group_shares | closed items' records lag the group's intent | carry on (groups/shares.py)            |

A saga whose peer is down is tried again later, with a growing pause (2, 4, ... 60 s). One that a
peer refused for good (a 4xx other than 408/425/429), or that is still failing after
SAGA_MAX_ATTEMPTS take-overs, is given up on: it needs an operator (steps.give_up).
"""

from __future__ import annotations

import logging

from booking_service.domain.errors import BookingError
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor
from booking_service.service_layer import idempotency
from booking_service.service_layer.context import Context
from booking_service.service_layer.groups import create as group_create
from booking_service.service_layer.groups import shares
from booking_service.service_layer.sagas import create, release, reschedule, settle, steps
from booking_service.service_layer.sagas.log import DONE, Saga, SagaTakenOver

log = logging.getLogger("booking_service.sagas")
BATCH = 20
PAID_BEFORE_A_CRASH = "payment was taken before an interrupted confirmation"


async def recover(ctx: Context, batch: int = BATCH) -> int:
    """Takes over the sagas whose lease ran out and finishes or compensates them; returns how many."""
    uow = ctx.uow()
    async with uow:
        now = ctx.clock()
        sagas = await uow.sagas.take_over_due(now, now + ctx.saga_lease, batch)
        await uow.commit()
    for saga in sagas:
        log.warning(
            "recovering a saga", extra={"saga": saga.kind, "booking_id": saga.booking_id, "step": saga.step}
        )
        await resume(ctx, saga)
    return len(sagas)


async def resume(ctx: Context, saga: Saga) -> None:
    """Carries one saga on from where it stands (it must be this process's: taken over or reopened)."""
    try:
        try:
            await RECOVER[saga.kind](ctx, saga)
        except BookingError as error:
            await steps.failed(ctx, saga, error)
    except SagaTakenOver:
        return


async def _create(ctx: Context, saga: Saga) -> None:
    await create.compensate(ctx, saga, "interrupted before the booking was stored")
    scope, key = saga.data.get("idempotency", ["", ""])
    await idempotency.abandon(ctx, scope, key, saga)


async def _group_create(ctx: Context, saga: Saga) -> None:
    await group_create.compensate(ctx, saga, "interrupted before the group was stored")
    scope, key = saga.data.get("idempotency", ["", ""])
    await idempotency.abandon(ctx, scope, key, saga)


async def _confirm(ctx: Context, saga: Saga) -> None:
    intent = await ctx.peers.payments.get(saga.data["intent_id"])
    if not intent.captured:
        await steps.finish(ctx, saga, DONE, "the payment was not taken")
        return
    uow = ctx.uow()
    async with uow:
        booking = await uow.bookings.get(saga.booking_id)
        if (
            booking is not None
            and booking.saga_id == saga.saga_id
            and booking.status is BookingStatus.PENDING
        ):
            booking.change_status(
                BookingStatus.CONFIRMED,
                PAID_BEFORE_A_CRASH,
                Actor.system(),
                ctx.clock(),
                ctx.policy.deadlines,
                captured=booking.capture_share(intent.amount),
            )
            booking.saga_id = None
            await uow.bookings.save(booking)
        await steps.finish(ctx, saga, DONE, uow=uow)
        await uow.commit()
    if booking is not None and booking.status is BookingStatus.CONFIRMED:
        await shares.settle_shares(ctx, booking.group_id)


async def _update(ctx: Context, saga: Saga) -> None:
    booking = await ctx.reads.get(saga.booking_id)
    moved = booking is not None and steps.stay_of(booking) == steps.stay_from_json(saga.data["new"])
    if moved and booking is not None and booking.version > saga.data["version"]:
        await steps.finish(ctx, saga, DONE)
    else:
        await reschedule.revert(ctx, saga, "interrupted before the booking was stored")


RECOVER = {
    "create": _create,
    "confirm": _confirm,
    "update": _update,
    "expire": settle.run,
    "release": release.run,
    "group_create": _group_create,
    shares.KIND: shares.run,
}
