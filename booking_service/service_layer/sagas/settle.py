"""Settling a PENDING booking past its deadline: expire it, unless its payment got through.

Settling is a saga (kind `expire`) that takes the booking before it calls the payment service, so
no confirmation can run meanwhile. Its intent is checked: a payment that succeeded at the last
moment confirms the booking instead of being lost, and an intent not yet paid is voided first, so no
payment can land on an expired booking. Then the booking expires and its release saga takes it over
to let go of its hold (and record the void). Whatever meets an overdue booking (a request for it,
a read of it, a new booking for its unit, the sweeper) settles it first; of two settling at once,
one takes the booking and the other leaves it be. A process that dies in between leaves the saga to
the recovery worker, which runs `run` again (every step is idempotent).
"""

from __future__ import annotations

from datetime import datetime

from booking_service.domain.errors import Contention, PeerRejected, VersionMismatch
from booking_service.domain.model import Booking
from booking_service.domain.status import BookingStatus
from booking_service.domain.values import Actor, Money
from booking_service.service_layer.context import Context
from booking_service.service_layer.groups import shares
from booking_service.service_layer.peers import step_key
from booking_service.service_layer.sagas import release, steps
from booking_service.service_layer.sagas.log import DONE, Saga, SagaTakenOver
from booking_service.service_layer.sagas.shared_intent import others_active

KIND = "expire"
PAID_AT_THE_DEADLINE = "payment succeeded by the deadline"


def settles(booking: Booking, now: datetime) -> bool:
    """Whether settle_overdue would settle the booking: an overdue PENDING booking that no saga
    holds and that no operator was asked to settle."""
    return booking.is_overdue(now) and booking.saga_id is None and not booking.attention


async def settle_overdue(ctx: Context, booking_id: str) -> None:
    """Expires (or, if paid, confirms) the booking if it is an overdue PENDING one that no other
    saga holds, and that no operator was asked to settle (a settling the payment service refused for
    good); raises PeerUnavailable when the payment service cannot say whether it was paid (the
    recovery worker then finishes it). A refusal for good gives the saga to an operator, and the
    booking stays PENDING meanwhile (it cannot be confirmed unpaid: PaymentRequired)."""
    booking = await ctx.reads.get(booking_id)
    if booking is None or not settles(booking, ctx.clock()):
        return
    saga = steps.new_saga(ctx, KIND, booking_id, {"intent_id": booking.payment_intent_id})
    uow = ctx.uow()
    try:
        async with uow:
            taken = await steps.take(uow, saga, booking.version)
            if not taken.is_overdue(ctx.clock()):
                return
            await uow.sagas.add(saga)
            await uow.commit()
    except (VersionMismatch, Contention):
        return  # someone else settled or changed it meanwhile, or is changing it now
    taken_over = "Settling an overdue booking took too long; the recovery worker finishes it. Retry shortly."
    async with steps.lease_kept(ctx, saga, taken_over):
        try:
            await run(ctx, saga)
        except PeerRejected as refused:  # for good: an operator settles it, the caller goes on
            await steps.failed(ctx, saga, refused)
        except SagaTakenOver:
            raise
        except BaseException as error:
            await steps.hand_to_recovery(ctx, saga, str(error) or type(error).__name__)
            raise


async def run(ctx: Context, saga: Saga) -> None:
    """Checks the payment (voiding an open intent), then confirms the paid booking or expires it and
    hands it to its release saga, in one transaction that also ends this saga."""
    captured: Money | None = None
    if saga.data["intent_id"]:
        payments = ctx.peers.payments
        intent = await payments.get(saga.data["intent_id"])
        if intent.status == "requires_confirmation" and not await others_active(ctx, saga.booking_id):
            intent = await payments.cancel(step_key(saga.booking_id, "void"), intent.intent_id)
        captured = intent.amount if intent.captured else None
    planned = None
    uow = ctx.uow()
    async with uow:
        booking = await uow.bookings.get(saga.booking_id, for_update=True)
        now = ctx.clock()
        if (
            booking is not None
            and booking.saga_id == saga.saga_id
            and booking.status is BookingStatus.PENDING
        ):
            deadlines = ctx.policy.deadlines
            if captured is not None:
                booking.change_status(
                    BookingStatus.CONFIRMED,
                    PAID_AT_THE_DEADLINE,
                    Actor.system(),
                    now,
                    deadlines,
                    captured=booking.capture_share(captured),
                )
                booking.saga_id = None
            elif booking.expire_if_overdue(now, deadlines):
                planned = await release.close(ctx, uow, booking)
            else:
                booking.saga_id = None
            await uow.bookings.save(booking)
        await steps.finish(ctx, saga, DONE, uow=uow)
        await uow.commit()
    if planned is not None:
        await release.run_now(ctx, planned)
    elif booking is not None and booking.status is BookingStatus.CONFIRMED:
        await shares.settle_shares(ctx, booking.group_id)  # the capture took the closed items' shares
