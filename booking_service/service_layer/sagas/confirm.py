"""Confirming a booking paid up front: take the payment, then CONFIRMED (a confirm saga).

| step    | forward                                             | if it fails                         |
|---------|-----------------------------------------------------|-------------------------------------|
| start   | claim the key, write the saga, take the booking     | VERSION_MISMATCH / CONTENTION:      |
|         | (one transaction, before the payment service is     | nothing kept, nothing taken         |
|         | called)                                             |                                     |
| capture | payment confirm (key booking:<id>:<saga>-confirm)   | declined or refused: the booking    |
|         |                                                     | stays PENDING; no answer: recovery  |
|         |                                                     | asks the payment service            |
| persist | CONFIRMED with the capture recorded, the saga ended | recovery confirms the paid booking  |
| shares  | an item of a booking group: the other items closed  | a group_shares saga, retried by the |
|         | before the capture get their release again, which  | recovery worker (the confirmation   |
|         | refunds their share (groups/shares.py)              | stands)                             |

While the saga holds the booking nothing else can change it (a cancel racing the confirmation is
refused, CONTENTION, and has nothing done for it), so a payment taken always lands on a booking
that can still be confirmed: the guest is never charged for a booking that ends otherwise.

Should the saga's lease run out while the payment call is slow (a client deadline longer than
SAGA_LEASE_SECONDS, a stalled process), the recovery worker takes the saga over and the request
answers UNAVAILABLE naming the booking (steps.lease_kept). A capture that lands after the recovery
worker asked the payment service is found when the PENDING booking falls due (confirmed if paid).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

from booking_service.domain.commands import ChangeBookingStatus
from booking_service.domain.errors import PaymentDeclined, PeerRejected
from booking_service.domain.model import Booking
from booking_service.domain.status import BookingStatus
from booking_service.service_layer import idempotency
from booking_service.service_layer.booking_change import PathChanged, begin_saga, change, change_claiming
from booking_service.service_layer.context import Context
from booking_service.service_layer.groups.shares import settle_shares
from booking_service.service_layer.peers import step_key
from booking_service.service_layer.sagas import steps
from booking_service.service_layer.sagas.log import DONE, Saga, SagaTakenOver

KIND = "confirm"
SCOPE = "UpdateBookingStatus"


def needs_payment(booking: Booking, cmd: ChangeBookingStatus, ctx: Context) -> bool:
    """Whether confirming takes the payment first (a PENDING booking paid up front, as expected)."""
    return (
        cmd.status is BookingStatus.CONFIRMED
        and booking.status is BookingStatus.PENDING
        and bool(booking.payment_intent_id)
        and booking.version == cmd.expected_version
        and not booking.is_overdue(ctx.clock())
    )


async def confirm_paying(cmd: ChangeBookingStatus, ctx: Context, booking: Booking) -> Booking:
    """Takes the payment and confirms the booking; raises PaymentDeclined (nothing taken),
    VersionMismatch or Contention (nothing done), PeerUnavailable (the outcome is settled by the
    recovery worker: confirmed if the payment was taken)."""
    scope = idempotency.scope_of(SCOPE, cmd)

    def move(b: Booking, now: datetime) -> None:
        b.change_status(BookingStatus.CONFIRMED, cmd.reason, cmd.actor, now, ctx.policy.deadlines)

    def still(b: Booking) -> None:
        if not needs_payment(b, cmd, ctx):
            raise PathChanged

    saga = steps.new_saga(ctx, KIND, booking.booking_id, {"intent_id": booking.payment_intent_id})
    try:
        replay = await begin_saga(ctx, scope, cmd, saga, still)
    except PathChanged:
        return await change_claiming(scope, cmd, ctx, move, target=BookingStatus.CONFIRMED)
    if replay is not None:
        return replay
    taken_over = (
        "Taking the payment took too long; the recovery worker confirms the booking if it was paid. "
        "Read the booking before you retry."
    )
    async with steps.lease_kept(ctx, saga, taken_over, scope=scope, key=cmd.idempotency_key):
        return await _take_payment(cmd, ctx, booking, saga, scope)


async def _take_payment(
    cmd: ChangeBookingStatus, ctx: Context, booking: Booking, saga: Saga, scope: str
) -> Booking:
    key = step_key(booking.booking_id, f"{saga.saga_id}-confirm")
    try:
        intent = await ctx.peers.payments.confirm(key, booking.payment_intent_id)
    except (PaymentDeclined, PeerRejected) as refused:  # nothing was taken
        with suppress(SagaTakenOver):  # the recovery worker finds the same and ends it
            await steps.finish(ctx, saga, DONE, refused.message)
        await idempotency.abandon(ctx, scope, cmd.idempotency_key, saga)
        raise
    except SagaTakenOver:
        raise
    except BaseException as error:  # taken or not: the recovery worker asks the payment service
        await steps.hand_to_recovery(ctx, saga, str(error) or type(error).__name__)
        await idempotency.abandon(ctx, scope, cmd.idempotency_key, saga)
        raise
    await steps.record(ctx, saga, "captured", captured_minor=intent.amount.amount_minor)

    def confirm(b: Booking, now: datetime) -> None:
        deadlines = ctx.policy.deadlines
        b.change_status(
            BookingStatus.CONFIRMED,
            cmd.reason,
            cmd.actor,
            now,
            deadlines,
            captured=b.capture_share(intent.amount),
        )

    try:
        confirmed = await change(scope, cmd, ctx, confirm, target=BookingStatus.CONFIRMED, finishing=saga)
    except SagaTakenOver:
        raise
    except BaseException as error:
        # Paid, but the database step failed: the recovery worker, due at once, confirms the paid
        # booking (the saga still holds it, so nothing else can have changed it).
        await steps.hand_to_recovery(ctx, saga, str(error) or type(error).__name__)
        await idempotency.abandon(ctx, scope, cmd.idempotency_key, saga)
        raise
    await settle_shares(ctx, confirmed.group_id)
    return confirmed
