"""Changing an existing booking: update, cancel and status change share one flow.

The database step: claim the idempotency key, load, check the expected version, apply the change to
the aggregate, save conditionally on the version loaded, record the answer under the key, commit;
one transaction (a repeat waits for it and replays). Only a change that calls a peer before its
database step (taking a payment, moving a hold) claims the key first, in a transaction of its own;
which path a request takes is decided from the booking as read, without a transaction, and decided
again once the key is claimed. Around the database step, the peers:

- a change to a final status writes a release saga in the same transaction (hold released,
  payment refunded or voided; release.py) and runs it right after the commit;
- confirming a booking paid up front first takes the payment (a confirm saga): the booking is
  CONFIRMED only once its payment is;
- a change of time, unit or party size moves the inventory hold and re-prices first (an update
  saga), and moves the hold back if the database step then fails;
- an overdue PENDING booking is settled first (settle.py), and the request then meets it as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from booking_service.domain.commands import CancelBooking, ChangeBookingStatus, UpdateBooking
from booking_service.domain.errors import (
    BookingError,
    BookingNotFound,
    PaymentDeclined,
    PeerRejected,
    PriceChanged,
    VersionMismatch,
)
from booking_service.domain.model import Booking
from booking_service.domain.status import TERMINAL, BookingStatus
from booking_service.domain.validation import validate_cancel, validate_status_change, validate_update
from booking_service.service_layer import idempotency
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Stay, step_key
from booking_service.service_layer.sagas import release, steps
from booking_service.service_layer.sagas.log import COMPENSATED, DONE, Saga
from booking_service.service_layer.sagas.settle import settle_overdue

Mutation = Callable[[Booking, datetime], object]
Command = UpdateBooking | CancelBooking | ChangeBookingStatus
C = TypeVar("C", UpdateBooking, CancelBooking, ChangeBookingStatus)


async def update_booking(cmd: UpdateBooking, *, ctx: Context) -> Booking:
    validate_update(cmd)
    scope = "UpdateBooking"
    booking = await ctx.reads.get(cmd.booking_id)
    if booking is None or _moved_stay(booking, cmd, ctx.clock()) is None:
        return await _change_claiming(scope, cmd, ctx, lambda b, now: b.update(cmd.changes, cmd.actor, now))
    return await _once(scope, cmd, ctx, _update)


def _moved_stay(booking: Booking, cmd: UpdateBooking, now: datetime) -> Stay | None:
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
        preview.update(cmd.changes, cmd.actor, now)
    except BookingError:
        return None
    new = steps.stay_of(preview)
    return new if new != steps.stay_of(booking) else None


async def _update(scope: str, cmd: UpdateBooking, ctx: Context) -> Booking:

    def plain(b: Booking, now: datetime) -> None:
        b.update(cmd.changes, cmd.actor, now)

    booking = await _read(ctx, cmd.booking_id)
    now = ctx.clock()
    new = _moved_stay(booking, cmd, now) if booking is not None else None
    if booking is None or new is None:
        return await _change(scope, cmd, ctx, plain)
    old = steps.stay_of(booking)
    pricing = await ctx.peers.pricing.calculate(new, now)
    if booking.payment_intent_id and booking.pricing is not None and pricing.total != booking.pricing.total:
        # The payment was opened for the old total, and the payment service offers no way to
        # change an intent: a prepaid booking keeps its price, or is cancelled and booked again.
        raise PriceChanged(
            f"The new stay costs {pricing.total.amount_minor} {pricing.total.currency}, not the "
            f"{booking.pricing.total.amount_minor} paid for; cancel and book again instead.",
            {"booking_id": booking.booking_id, "new_amount_minor": str(pricing.total.amount_minor)},
        )
    saga = await steps.start(
        ctx,
        "update",
        booking.booking_id,
        {
            "reservation_id": booking.inventory_reservation_id,
            "old": steps.stay_json(old),
            "new": steps.stay_json(new),
            "version": booking.version,
        },
    )
    try:
        # Keyed by the saga: another attempt at the same change is another saga, with its own keys.
        try:
            await ctx.peers.inventory.update(
                step_key(booking.booking_id, f"{saga.saga_id}-update"), booking.inventory_reservation_id, new
            )
        except PeerRejected:
            # Refused as no longer possible (the hold was released): the booking moved on meanwhile.
            current = await _read(ctx, booking.booking_id)
            if current is not None and current.version != booking.version:
                raise VersionMismatch(booking.booking_id, cmd.expected_version, current.version) from None
            raise
        await steps.record(ctx, saga, "inventory_updated")

        def reschedule(b: Booking, now: datetime) -> None:
            b.update(cmd.changes, cmd.actor, now)
            b.reprice(pricing)

        return await _change(scope, cmd, ctx, reschedule, finishing=saga)
    except BaseException as error:
        await revert_update(ctx, saga, str(error) or type(error).__name__)
        raise


async def revert_update(ctx: Context, saga: Saga, error: str) -> None:
    """Moves the hold back to the booking's stored stay (idempotent; harmless if it never moved)."""
    try:
        await ctx.peers.inventory.update(
            step_key(saga.booking_id, f"{saga.saga_id}-revert"),
            saga.data["reservation_id"],
            steps.stay_from_json(saga.data["old"]),
        )
        await steps.finish(ctx, saga, COMPENSATED, error)
    except BookingError as failure:
        await steps.hand_to_recovery(ctx, saga, f"{error}; moving the hold back failed: {failure.message}")


async def cancel_booking(cmd: CancelBooking, *, ctx: Context) -> Booking:
    validate_cancel(cmd)

    def move(b: Booking, now: datetime) -> None:
        b.change_status(BookingStatus.CANCELLED, cmd.reason, cmd.actor, now, ctx.policy.deadlines)

    return await _change_claiming("CancelBooking", cmd, ctx, move, target=BookingStatus.CANCELLED)


async def change_booking_status(cmd: ChangeBookingStatus, *, ctx: Context) -> Booking:
    validate_status_change(cmd)
    scope, target = "UpdateBookingStatus", cmd.status
    assert target is not None
    if target is BookingStatus.CONFIRMED:
        booking = await ctx.reads.get(cmd.booking_id)
        if booking is not None and _needs_payment(booking, cmd, ctx.clock()):
            return await _once(scope, cmd, ctx, _change_status)

    def move(b: Booking, now: datetime) -> None:
        b.change_status(target, cmd.reason, cmd.actor, now, ctx.policy.deadlines)

    return await _change_claiming(scope, cmd, ctx, move, target=target)


def _needs_payment(booking: Booking, cmd: ChangeBookingStatus, now: datetime) -> bool:
    """Whether confirming takes the payment first (a PENDING booking paid up front, as expected)."""
    return (
        booking.status is BookingStatus.PENDING
        and bool(booking.payment_intent_id)
        and booking.version == cmd.expected_version
        and not booking.is_overdue(now)
    )


async def _change_status(scope: str, cmd: ChangeBookingStatus, ctx: Context) -> Booking:
    target = cmd.status
    assert target is not None

    def move(b: Booking, now: datetime) -> None:
        b.change_status(target, cmd.reason, cmd.actor, now, ctx.policy.deadlines)

    if target is not BookingStatus.CONFIRMED:
        return await _change(scope, cmd, ctx, move, target=target)
    booking = await _read(ctx, cmd.booking_id)
    if booking is None or not _needs_payment(booking, cmd, ctx.clock()):
        return await _change(scope, cmd, ctx, move, target=target)
    saga = await steps.start(ctx, "confirm", booking.booking_id, {"intent_id": booking.payment_intent_id})
    try:
        await ctx.peers.payments.confirm(
            step_key(booking.booking_id, f"{saga.saga_id}-confirm"), booking.payment_intent_id
        )
    except PaymentDeclined as declined:
        await steps.finish(ctx, saga, DONE, declined.message)
        raise
    except BaseException as error:  # the payment may or may not have gone through: recovery checks
        await steps.hand_to_recovery(ctx, saga, str(error) or type(error).__name__)
        raise
    await steps.record(ctx, saga, "captured")
    try:
        return await _change(scope, cmd, ctx, move, target=target, finishing=saga)
    except BaseException as error:
        # Paid, but the booking moved on meanwhile (or the database failed): the recovery worker,
        # due at once, confirms the paid booking if it is still PENDING (its release saga refunds
        # the payment if the booking ended instead).
        await steps.hand_to_recovery(ctx, saga, str(error) or type(error).__name__)
        raise


async def _once(
    scope: str, cmd: C, ctx: Context, flow: Callable[[str, C, Context], Awaitable[Booking]]
) -> Booking:
    """Runs the flow once per idempotency key: a repeat replays the first answer (waiting for it if
    the first is still running); a failure frees the key."""
    replay = await idempotency.begin(ctx, scope, cmd.idempotency_key, cmd)
    if replay is not None:
        return replay
    try:
        return await flow(scope, cmd, ctx)
    except BaseException:
        await idempotency.abandon(ctx, scope, cmd.idempotency_key)
        raise


async def _change_claiming(
    scope: str, cmd: Command, ctx: Context, mutate: Mutation, *, target: BookingStatus | None = None
) -> Booking:
    """The database step with the key claimed in its own transaction (a change with no peer before it)."""
    return await idempotency.patiently(lambda: _change(scope, cmd, ctx, mutate, target=target, claim=True))


async def _read(ctx: Context, booking_id: str) -> Booking | None:
    uow = ctx.uow()
    async with uow:
        return await uow.bookings.get(booking_id)


async def _change(
    scope: str,
    cmd: Command,
    ctx: Context,
    mutate: Mutation,
    *,
    target: BookingStatus | None = None,
    finishing: Saga | None = None,
    claim: bool = False,
) -> Booking:
    """The database step; with `claim`, the idempotency key is claimed in its transaction (and a
    repeat's answer returned)."""
    settled = False
    while True:
        uow = ctx.uow()
        planned: Saga | None = None
        async with uow:
            now = ctx.clock()
            if claim:
                ttl = ctx.policy.idempotency_ttl
                replay = await idempotency.claim(uow, scope, cmd.idempotency_key, cmd, now, ttl)
                if replay is not None:
                    return replay
            booking = await uow.bookings.get(cmd.booking_id)
            if booking is None:
                raise BookingNotFound(
                    f"There is no booking {cmd.booking_id}.", {"booking_id": cmd.booking_id}
                )
            if settled:
                # The booking was settled under the request (expired, or confirmed if it was paid):
                # a request for that very status is answered with it; any other meets the booking
                # as it is now (and an expired booking refuses every change).
                if booking.status is target:
                    await idempotency.complete(uow, scope, cmd.idempotency_key, booking)
                    await uow.commit()
                    return booking
                mutate(copy.deepcopy(booking), now)
            booking.ensure_version(cmd.expected_version)
            if not settled and booking.is_overdue(now):
                overdue = True  # leave the transaction (it rolls back), settle, retry
            else:
                overdue = False
                mutate(booking, now)
                if booking.status in TERMINAL and booking.version != booking.stored_version:
                    planned = await release.write(ctx, uow, booking)
                if finishing is not None:
                    await steps.finish(ctx, finishing, DONE, uow=uow)
                await uow.bookings.save(booking)
                await idempotency.complete(uow, scope, cmd.idempotency_key, booking)
                await uow.commit()
        if overdue:
            await settle_overdue(ctx, cmd.booking_id)
            settled = True
            continue
        if planned is not None:
            await release.run_now(ctx, planned)
        return booking
