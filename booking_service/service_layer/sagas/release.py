"""Letting go of what a closed booking holds: its inventory hold, and its payment.

When a booking reaches a final status (cancelled, expired, no-show, completed), the same transaction
writes a release saga and gives it the booking (`close`); it runs at once, and the recovery worker
finishes it if a peer is down. It only moves forward (the booking's end is decided). Its two steps
do not depend on each other, so one that fails does not hold the other back:

| step    | action                                                        | refused for good     |
|---------|---------------------------------------------------------------|----------------------|
| hold    | inventory release of the booking's reservation                | needs attention      |
| payment | an open intent is voided; a captured one gets back what the   | the refund is FAILED,|
|         | money record asks (refunds REQUESTED when it closed), each    | needs attention      |
|         | refund recorded SUCCEEDED or FAILED as the payment service    |                      |
|         | answers                                                       |                      |

A step that fails for now (a peer down) is retried by the recovery worker, with a growing pause,
until SAGA_MAX_ATTEMPTS; then, or once a peer refused a step for good, the saga needs an operator
(steps.give_up). What the payment service did is written on the booking as it happens: the void, a
capture found late (a closed booking then asks back what its rules give), each refund's outcome;
each is a change of its own (a version, a history row, an event).
"""

from __future__ import annotations

from collections.abc import Callable

from booking_service.domain.errors import BookingError, PeerRejected
from booking_service.domain.model import Booking
from booking_service.domain.payment import PaymentStatus, Refund, RefundStatus
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Intent, PeerRefund, step_key
from booking_service.service_layer.sagas import steps
from booking_service.service_layer.sagas.log import DONE, Saga
from booking_service.service_layer.sagas.shared_intent import others_active
from booking_service.service_layer.unit_of_work import UnitOfWork

KIND = "release"
RELEASED, SETTLED, FAILED = "released", "settled", "failed"


async def close(ctx: Context, uow: UnitOfWork, booking: Booking, *, again: bool = False) -> Saga | None:
    """Writes the release saga of a booking that just reached a final status into the unit of work
    and gives it the booking (both commit with the transition); run it with run_now after the
    commit. None when the booking holds nothing. `again`: a release after the first (reconciliation
    found something left), whose calls to the peers need keys of their own."""
    if not booking.inventory_reservation_id and not booking.payment_intent_id:
        booking.saga_id = None
        return None
    data: dict[str, object] = {
        "reservation_id": booking.inventory_reservation_id,
        "intent_id": booking.payment_intent_id,
    }
    if again:
        data["again"] = True
    if booking.group_id is not None:
        data["group_id"] = booking.group_id
    saga = steps.new_saga(ctx, KIND, booking.booking_id, data)
    saga.step = "planned"
    await uow.sagas.add(saga)
    booking.saga_id = saga.saga_id
    return saga


async def run(ctx: Context, saga: Saga) -> None:
    """Carries the release out from where it stands. A peer that is down raises its error once both
    steps were tried (the recovery worker tries again); a refusal for good gives up on the saga."""
    data, refused, down = saga.data, [], None
    if data["reservation_id"] and data.get("hold") != RELEASED:
        try:
            await ctx.peers.inventory.release(_key(saga, "release"), data["reservation_id"])
            await steps.record(ctx, saga, "hold_released", hold=RELEASED)
        except PeerRejected as error:
            refused.append(f"releasing hold {data['reservation_id']}: {error.message}")
            await steps.record(ctx, saga, saga.step, hold=FAILED)
        except BookingError as error:
            down = error
    if data["intent_id"] and data.get("payment") != SETTLED:
        try:
            await _settle_payment(ctx, saga)
            await steps.record(ctx, saga, "payment_settled", payment=SETTLED)
        except PeerRejected as error:
            refused.append(f"settling payment {data['intent_id']}: {error.message}")
            await steps.record(ctx, saga, saga.step, payment=FAILED)
        except BookingError as error:
            down = down or error
    if down is not None:
        raise down
    if refused:
        await steps.give_up(ctx, saga, "; ".join(refused))
    else:
        await steps.finish(ctx, saga, DONE)
    await _group_shares(ctx, saga)


async def _group_shares(ctx: Context, saga: Saga) -> None:
    """Once a group's item is let go of: the shares of the group's closed items are settled
    against what the items record of the group's intent (a capture or void this release made, or
    one another item's saga made while this release held the item: groups/shares.py)."""
    group_id = saga.data.get("group_id")
    if group_id is None:
        return
    # Imported here: the group's shares are settled by releasing items again (this module).
    from booking_service.service_layer.groups.shares import settle_shares

    await settle_shares(ctx, group_id)


async def run_now(ctx: Context, saga: Saga) -> None:
    """Runs a release right after the transition that planned it; if a peer is down, the recovery
    worker finishes it later (the caller's change stands either way: steps.run_after_commit)."""
    await steps.run_after_commit(ctx, saga, run)


async def _settle_payment(ctx: Context, saga: Saga) -> None:
    """Voids an open intent, records what the payment service says of it, then asks back each
    refund the booking's money record holds as REQUESTED (raises PeerRejected when the payment
    service refuses one for good, after recording it FAILED)."""
    payments = ctx.peers.payments
    intent = await payments.get(saga.data["intent_id"])
    if intent.status == "requires_confirmation" and not await others_active(ctx, saga.booking_id):
        intent = await payments.cancel(_key(saga, "void"), intent.intent_id)
    booking = await _record(ctx, saga, lambda b: _record_intent(b, intent, ctx))
    assert booking.payment is not None
    asked = [refund for refund in booking.payment.refunds if refund.status is RefundStatus.REQUESTED]
    made = await payments.refunds(intent.intent_id) if asked else []
    recorded = {r.refund_id for r in booking.payment.refunds if r.refund_id}
    for refund in asked:
        found = _made_already(refund, made, saga.booking_id, recorded)
        if found is not None:  # made, its answer lost: recorded, never asked for twice
            recorded.add(found.refund_id)
            await _record(
                ctx, saga, _refund_settled(ctx, refund.key, RefundStatus.SUCCEEDED, found.refund_id, "")
            )
            continue
        try:
            metadata = {"booking_id": saga.booking_id, "refund_key": refund.key}
            refund_id = await payments.refund(
                _key(saga, refund.key), intent.intent_id, refund.amount, refund.reason, metadata
            )
        except PeerRejected as error:
            await _record(ctx, saga, _refund_settled(ctx, refund.key, RefundStatus.FAILED, "", error.message))
            raise
        await _record(ctx, saga, _refund_settled(ctx, refund.key, RefundStatus.SUCCEEDED, refund_id, ""))


def _made_already(
    refund: Refund, made: list[PeerRefund], booking_id: str, recorded: set[str]
) -> PeerRefund | None:
    """The payment service's refund that is this one, if it was made already (its answer lost, or
    asked for under another key: a retry, a second release): tagged with the booking and the
    refund's key, or, for one asked for before refunds were tagged, of the same amount and reason
    and not recorded for another."""
    for peer in made:
        if not peer.succeeded or peer.refund_id in recorded:
            continue
        tagged = peer.metadata.get("refund_key")
        if tagged is not None:
            if tagged == refund.key and peer.metadata.get("booking_id") == booking_id:
                return peer
        elif (peer.amount, peer.reason) == (refund.amount, refund.reason):
            return peer
    return None


def _refund_settled(
    ctx: Context, key: str, status: RefundStatus, refund_id: str, failure: str
) -> Callable[[Booking], None]:
    return lambda booking: booking.record_refund(key, status, ctx.clock(), refund_id, failure)


def _key(saga: Saga, step: str) -> str:
    """The step's idempotency key with the peer: the same on every try, but a new one for a release
    after the first and once an operator retried the saga (a peer answers a key it knows with its
    first answer, a refusal included, as Stripe does)."""
    if saga.data.get("again"):
        step = f"{step}-{saga.saga_id}"
    retried = saga.data.get("budget_from")
    return step_key(saga.booking_id, f"{step}-retry{retried}" if retried else step)


def _record_intent(booking: Booking, intent: Intent, ctx: Context) -> None:
    payment = booking.payment
    assert payment is not None
    if intent.status == "canceled" and payment.status is not PaymentStatus.VOIDED:
        booking.record_void(f"booking {booking.status.value.lower()}", ctx.clock())
    elif intent.captured and payment.captured is None:
        found = booking.capture_share(intent.amount)
        booking.record_capture(found, "payment found captured after the booking closed", ctx.clock())


async def _record(ctx: Context, saga: Saga, change: Callable[[Booking], None]) -> Booking:
    """Applies `change` to the booking and saves it with the saga's renewed lease, in one
    transaction (a saga taken over meanwhile writes nothing)."""
    uow = ctx.uow()
    async with uow:
        booking = await uow.bookings.get(saga.booking_id, for_update=True)
        assert booking is not None
        change(booking)
        await uow.bookings.save(booking)
        saga.lease_until = ctx.clock() + ctx.saga_lease
        await uow.sagas.save(saga, ctx.clock())
        await uow.commit()
    return booking
