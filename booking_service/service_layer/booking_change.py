"""The database step every change to an existing booking ends with, and the start of a saga that
calls a peer before it.

The database step: (claim the idempotency key,) load, check the expected version and that no saga
holds the booking, apply the change to the aggregate, save conditionally on the version and the
saga loaded, record the answer under the key, commit; one transaction (a repeat waits for it and
replays). A change to a final status writes its release saga in the same transaction and hands it
the booking (sagas/release.py), then runs it after the commit. An overdue PENDING booking is
settled first (sagas/settle.py), and the request then meets it as it is.

A change that calls a peer before its database step (taking a payment, moving a hold) starts with
`begin_saga`: one transaction claims the key, writes the saga down and gives it the booking, so the
decision that it may run is taken in the database before any peer is called (DESIGN.md: one money-
or hold-changing operation per booking at a time; a caller told ABORTED had nothing done for it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime

from booking_service.domain.commands import CancelBooking, ChangeBookingStatus, UpdateBooking
from booking_service.domain.errors import AwaitingOperator, BookingError, BookingNotFound, StorageUnavailable
from booking_service.domain.model import Booking
from booking_service.domain.status import TERMINAL, BookingStatus
from booking_service.service_layer import idempotency
from booking_service.service_layer.context import Context
from booking_service.service_layer.sagas import release, steps
from booking_service.service_layer.sagas.log import DONE, Saga
from booking_service.service_layer.sagas.settle import settle_overdue
from booking_service.service_layer.unit_of_work import UnitOfWork

Mutation = Callable[[Booking, datetime], object]
Command = UpdateBooking | CancelBooking | ChangeBookingStatus


def outcome_unknown(error: BaseException) -> bool:
    """Whether the database step may have committed although it raised `error`: a domain refusal
    (or a lock the database gave up waiting for) rolled it back; a cancelled call, a lost
    connection or anything unexpected may have ended after the commit."""
    return not isinstance(error, BookingError) or isinstance(error, StorageUnavailable)


class PathChanged(Exception):
    """The booking no longer needs the saga the request was about to start (it became overdue, say):
    the request takes the plain database step instead."""


async def begin_saga(
    ctx: Context, scope: str, cmd: Command, saga: Saga, still: Callable[[Booking], None]
) -> Booking | None:
    """Claims the key, writes the saga and gives it the booking, in one transaction: the answer to
    replay, or None when this request runs the saga. Raises VersionMismatch or Contention (nothing
    kept), or PathChanged when `still` finds the saga no longer needed."""

    async def take(uow: UnitOfWork) -> None:
        await steps.take(uow, saga, cmd.expected_version, still)

    return await idempotency.begin(ctx, scope, cmd.idempotency_key, cmd, saga=saga, check=take)


async def change_claiming(
    scope: str, cmd: Command, ctx: Context, mutate: Mutation, *, target: BookingStatus | None = None
) -> Booking:
    """The database step with the key claimed in its own transaction (a change with no peer before it)."""
    return await idempotency.patiently(lambda: change(scope, cmd, ctx, mutate, target=target, claim=True))


async def change(
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
    repeat's answer returned); with `finishing`, the saga that holds the booking ends with it."""
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
            booking = await uow.bookings.get(cmd.booking_id, for_update=True)
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
                if booking.is_overdue(now):  # not settled: another saga has it, or an operator must
                    booking.ensure_free()
                    raise AwaitingOperator(
                        f"Booking {booking.booking_id} is past its deadline, and settling it needs an "
                        "operator first (booking-service sagas list); nothing was done.",
                        {"booking_id": booking.booking_id},
                    )
                mutate(copy.deepcopy(booking), now)
            booking.ensure_version(cmd.expected_version)
            booking.ensure_free(finishing.saga_id if finishing is not None else None)
            overdue = finishing is None and not settled and booking.is_overdue(now)
            if not overdue:  # else leave the transaction (it rolls back), settle, retry
                mutate(booking, now)
                if booking.status in TERMINAL and booking.version != booking.stored_version:
                    planned = await release.close(ctx, uow, booking)
                elif finishing is not None:
                    booking.saga_id = None
                await uow.bookings.save(booking)  # before the saga ends: it is conditional on it
                if finishing is not None:
                    await steps.finish(ctx, finishing, DONE, uow=uow)
                await idempotency.complete(uow, scope, cmd.idempotency_key, booking)
                await uow.commit()
        if overdue:
            await settle_overdue(ctx, cmd.booking_id)
            settled = True
            continue
        if planned is not None:
            await release.run_now(ctx, planned)
        return booking
