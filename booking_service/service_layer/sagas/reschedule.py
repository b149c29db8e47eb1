"""Rescheduling a booking that holds inventory: re-price, move the hold, store the change (an update
saga).

| step     | forward                                            | if a later step fails                |
|----------|----------------------------------------------------|--------------------------------------|
| start    | claim the key, write the saga, take the booking    | VERSION_MISMATCH / CONTENTION:       |
|          | (one transaction, before any peer is called)       | nothing kept, nothing moved          |
| price    | pricing calculate (no side effect); a prepaid      | none: nothing moved yet              |
|          | booking keeps its price (PRICE_CHANGED otherwise)  |                                      |
| move     | inventory update-reservation (keyed by the saga)   | move the hold back (a move whose     |
|          |                                                    | answer was lost is asked again with  |
|          |                                                    | its key first: revert)               |
| persist  | the new stay and quote, the saga ended             | a refusal: move the hold back; any   |
|          | (one transaction)                                  | other failure may have committed:    |
|          |                                                    | the saga's row says (DONE: answer    |
|          |                                                    | the stored booking; running: move    |
|          |                                                    | the hold back; no database: leave it |
|          |                                                    | to the recovery worker), as a        |
|          |                                                    | create's (steps.committed_anyway)    |

The new quote's cancellation policy applies, except that one whose free cancellation has lapsed
stays lapsed (PricingSnapshot.rescheduled): no reschedule buys back a better refund.
"""

from __future__ import annotations

import copy
from contextlib import suppress
from datetime import datetime

from booking_service.domain.commands import UpdateBooking
from booking_service.domain.errors import BookingError, PeerRejected, PriceChanged, SoldOut, UnitUnavailable
from booking_service.domain.limits import BookingLimits
from booking_service.domain.model import Booking
from booking_service.domain.status import TERMINAL
from booking_service.domain.values import Money
from booking_service.request_context import compensating
from booking_service.service_layer import idempotency
from booking_service.service_layer.availability import explained
from booking_service.service_layer.booking_change import PathChanged, begin_saga, change, change_claiming
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Stay, step_key
from booking_service.service_layer.sagas import steps
from booking_service.service_layer.sagas.log import COMPENSATED, Saga, SagaTakenOver

KIND = "update"
#: The step the saga records once the inventory answered the move.
MOVED = "inventory_updated"
SCOPE = "UpdateBooking"


def moved_stay(booking: Booking, cmd: UpdateBooking, now: datetime, limits: BookingLimits) -> Stay | None:
    """The stay the change moves the inventory hold to (the peers come first), or None when it moves
    no hold; a change the booking refuses moves none (its database step refuses it, before any peer
    is asked)."""
    if (
        booking.version != cmd.expected_version
        or booking.status in TERMINAL
        or booking.is_overdue(now)
        or not booking.inventory_reservation_id
    ):
        return None
    preview = copy.deepcopy(booking)
    try:
        preview.update(cmd.changes, cmd.actor, now, limits)
    except BookingError:
        return None
    new = steps.stay_of(preview)
    return new if new != steps.stay_of(booking) else None


async def reschedule(
    cmd: UpdateBooking, ctx: Context, booking: Booking, new: Stay, limits: BookingLimits
) -> Booking:
    """Moves the hold and stores the new stay, judged by `limits` (the rules the booking was made
    under: venue_rules.rules_of); raises PriceChanged, UnitUnavailable, SoldOut, VersionMismatch,
    Contention or PeerUnavailable, with the hold where it was."""
    scope = idempotency.scope_of(SCOPE, cmd)

    def plain(b: Booking, now: datetime) -> None:
        b.update(cmd.changes, cmd.actor, now, limits)

    def still(b: Booking) -> None:
        if moved_stay(b, cmd, ctx.clock(), limits) != new:
            raise PathChanged

    data = {
        "reservation_id": booking.inventory_reservation_id,
        "old": steps.stay_json(steps.stay_of(booking)),
        "new": steps.stay_json(new),
        "version": booking.version,
    }
    saga = steps.new_saga(ctx, KIND, booking.booking_id, data)
    try:
        replay = await begin_saga(ctx, scope, cmd, saga, still)
    except PathChanged:
        return await change_claiming(scope, cmd, ctx, plain)
    if replay is not None:
        return replay
    taken_over = (
        "Moving the booking took too long; the recovery worker keeps the stay the booking has "
        "stored. Read the booking before you retry."
    )
    async with steps.lease_kept(ctx, saga, taken_over, scope=scope, key=cmd.idempotency_key):
        try:
            return await _move(cmd, ctx, booking, new, saga, scope, limits)
        except UnitUnavailable as refused:  # the exclusion constraint's: name what is in the way
            raise await explained(ctx, refused, new, limits, booking.booking_id) from None


async def _move(
    cmd: UpdateBooking,
    ctx: Context,
    booking: Booking,
    new: Stay,
    saga: Saga,
    scope: str,
    limits: BookingLimits,
) -> Booking:
    moving = storing = False
    try:
        pricing = await ctx.peers.pricing.calculate(new, ctx.clock())
        _keep_prepaid_price(booking, pricing.total)
        moving = True
        await ctx.peers.inventory.update(_move_key(saga), booking.inventory_reservation_id, new)
        await steps.record(ctx, saga, MOVED)

        def moved(b: Booking, now: datetime) -> None:
            b.update(cmd.changes, cmd.actor, now, limits)
            b.reprice(pricing, now)

        storing = True
        return await change(scope, cmd, ctx, moved, finishing=saga)
    except SagaTakenOver:
        raise  # the recovery worker owns the saga now
    except BaseException as error:
        if storing:  # the database step may have committed: asked before the hold is moved back
            stored = await steps.committed_anyway(ctx, saga, error, steps.the_booking(saga))
            if stored is not None:
                return stored
        await revert(ctx, saga, str(error) or type(error).__name__, moved=moving)
        await idempotency.abandon(ctx, scope, cmd.idempotency_key, saga)
        raise


def _keep_prepaid_price(booking: Booking, total: Money) -> None:
    """A booking paid up front keeps its price: the payment was opened for it, and the payment
    service offers no way to change an intent (cancel and book again instead)."""
    price = booking.price
    if not booking.payment_intent_id or price is None or total == price:
        return
    paid = booking.payment is not None and booking.payment.captured is not None
    raise PriceChanged(
        f"The new stay costs {total}, not {price}, the price this booking "
        + ("was paid for" if paid else "opened its payment for")
        + "; cancel and book again instead.",
        {"booking_id": booking.booking_id, "new_amount_minor": str(total.amount_minor)},
    )


async def revert(ctx: Context, saga: Saga, error: str, *, moved: bool = True) -> None:
    """Moves the hold to the booking's stay as stored now (where it was, unless the booking changed
    since: after an operator's retry, say), or leaves it to the booking's release saga once the
    booking is closed; `moved=False` when the move was never asked for. The saga lets go of the
    booking. Idempotent: a move to a stay the hold has already is harmless.

    A move whose answer never came (the saga has not recorded it) may still reach the inventory
    after the move back, and would leave the hold on the new stay: it is asked again with its own
    key first (`_move_settled`), so that whatever it does happens before the move back, and a late
    copy of it only replays that answer."""
    try:
        booking = await ctx.reads.get(saga.booking_id)
        if moved and booking is not None and booking.status not in TERMINAL:
            with compensating():  # part of the failed request: the breaker counts its failure once
                if saga.step != MOVED and not await _move_settled(ctx, saga):
                    await steps.finish(ctx, saga, COMPENSATED, error)
                    return  # refused for good: the hold never moved
                await ctx.peers.inventory.update(
                    step_key(saga.booking_id, f"{saga.saga_id}-revert-v{booking.version}"),
                    saga.data["reservation_id"],
                    steps.stay_of(booking),
                )
        await steps.finish(ctx, saga, COMPENSATED, error)
    except BookingError as failure:
        with suppress(SagaTakenOver):
            await steps.failed(ctx, saga, failure, f"{error}; moving the hold back")
    except SagaTakenOver:
        return  # its new owner moves the hold back (again: every move is keyed)


async def _move_settled(ctx: Context, saga: Saga) -> bool:
    """Asks the inventory for the saga's move again, with the move's key: it answers what the move
    did, or does it now (the peer keeps one answer per key, so a copy of the first request arriving
    later changes nothing). True when the hold is on the new stay; False when the inventory refuses
    the move for good (it never happened). Raises PeerUnavailable when it cannot be asked now."""
    try:
        await ctx.peers.inventory.update(
            _move_key(saga), saga.data["reservation_id"], steps.stay_from_json(saga.data["new"])
        )
    except (UnitUnavailable, SoldOut, PeerRejected):
        return False
    return True


def _move_key(saga: Saga) -> str:
    """The move's idempotency key: one per saga (another attempt at the same change is another saga)."""
    return step_key(saga.booking_id, f"{saga.saga_id}-update")
