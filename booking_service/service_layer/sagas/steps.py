"""Writing a saga down as it goes: start it (taking its booking), record each step, finish it or
give up on it; and the booking's stay as the peers see it.

A saga that changes a booking's money or hold takes the booking first (booking.saga_id), in the
transaction that writes the saga down and before any peer is called: the save is conditional on
the booking being free and at the expected version, so of two such changes only one ever starts,
and the other is refused (CONTENTION, or VERSION_MISMATCH) with nothing done. The saga lets go of
the booking when it stops running (SagaLog.save).

A saga's finishing transaction (what it made stored, and the saga DONE, in ONE transaction) can
raise although it committed: the COMMIT reached the server and its answer was lost (the connection
dropped), or the call was cancelled while the COMMIT was on its way. Undoing the peers' work then
would leave a stored booking claiming a hold released and a payment voided. So a failure of that
transaction is never compensated on sight (`committed_anyway`): a definite refusal from a
statement (UnitUnavailable, VersionMismatch, any BookingError but StorageUnavailable) rolled it
back; anything else is settled by reading the saga's row afresh (waiting for a transaction still
writing it): DONE, the transaction committed and the request answers what it stored; still
running, it did not, and the saga compensates as before; the database unreachable, nothing is
undone now: the saga is left to the recovery worker, which meets it DONE (and leaves it) or
running (and compensates it), and the request answers UNAVAILABLE. Handing a saga to recovery
always leaves it running (`hand_to_recovery`), whatever status a failed finish had set in memory.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from booking_service.domain.errors import (
    BookingError,
    BookingNotFound,
    PeerRejected,
    PeerUnavailable,
    StorageUnavailable,
)
from booking_service.domain.model import Booking
from booking_service.domain.values import TimeSlot, VenueType
from booking_service.service_layer import idempotency
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Stay
from booking_service.service_layer.sagas.log import (
    COMPENSATED,
    DONE,
    NEEDS_ATTENTION,
    RUNNING,
    Saga,
    SagaTakenOver,
)
from booking_service.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger("booking_service.sagas")
T = TypeVar("T")


@asynccontextmanager
async def lease_kept(
    ctx: Context, saga: Saga, message: str, *, scope: str = "", key: str = ""
) -> AsyncIterator[None]:
    """Runs a request's part of a saga. Should the recovery worker take the saga over meanwhile
    (its lease ran out while a peer was slow, say), the request stops touching it: it lets go of
    the idempotency key it claimed (scope, key) and raises PeerUnavailable with `message` and the
    booking's id; the recovery worker finishes or compensates the saga. Another saga's take-over
    is not this request's to answer and propagates."""
    try:
        yield
    except SagaTakenOver as taken:
        if taken.saga_id != saga.saga_id:
            raise
        log.warning(
            "a request's saga was taken over by the recovery worker",
            extra={"saga": saga.kind, "saga_id": saga.saga_id, "booking_id": saga.booking_id},
        )
        await idempotency.abandon(ctx, scope, key, saga)
        raise PeerUnavailable(message, {"booking_id": saga.booking_id}) from None


def new_saga(ctx: Context, kind: str, booking_id: str, data: dict[str, Any]) -> Saga:
    now = ctx.clock()
    return Saga(str(uuid.uuid4()), booking_id, kind, now + ctx.saga_lease, now, data=data)


async def take(
    uow: UnitOfWork, saga: Saga, expected_version: int, check: Callable[[Booking], None] | None = None
) -> Booking:
    """Gives the booking to the saga, in the caller's unit of work (which also writes the saga):
    raises BookingNotFound, VersionMismatch, Contention (another saga has it), or what `check`
    raises when the booking no longer allows the change."""
    booking = await uow.bookings.get(saga.booking_id, for_update=True)
    if booking is None:
        raise BookingNotFound(f"There is no booking {saga.booking_id}.", {"booking_id": saga.booking_id})
    booking.ensure_version(expected_version)
    booking.ensure_free()
    if check is not None:
        check(booking)
    booking.saga_id = saga.saga_id
    await uow.bookings.save(booking)
    return booking


async def record(ctx: Context, saga: Saga, step: str, **data: Any) -> None:
    """Records a finished step (and renews the lease)."""
    saga.step = step
    saga.data.update(data)
    saga.lease_until = ctx.clock() + ctx.saga_lease
    uow = ctx.uow()
    async with uow:
        await uow.sagas.save(saga, ctx.clock())
        await uow.commit()


async def finish(
    ctx: Context, saga: Saga, status: str, error: str = "", uow: UnitOfWork | None = None
) -> None:
    """Marks the saga done or compensated; in the caller's unit of work when given (so it commits
    with the step that finished it: should that transaction raise, `committed_anyway` says whether
    it committed)."""
    assert status in (DONE, COMPENSATED)
    saga.status, saga.error = status, error[:500]
    if uow is not None:
        await uow.sagas.save(saga, ctx.clock())
        return
    own = ctx.uow()
    async with own:
        await own.sagas.save(saga, ctx.clock())
        await own.commit()
    log.info(
        "saga finished",
        extra={"saga": saga.kind, "booking_id": saga.booking_id, "status": status, "error": error},
    )


def concerns(saga: Saga) -> list[str]:
    """The bookings a saga is about: its own booking, or, for a saga of a booking group (whose
    booking_id is the group's), the items it names (`concerns`, else every item it made)."""
    named = saga.data.get("concerns") or [item["booking_id"] for item in saga.data.get("items", ())]
    return [str(booking_id) for booking_id in named] or [saga.booking_id]


async def give_up(ctx: Context, saga: Saga, reason: str) -> None:
    """Stops retrying a saga that cannot finish without an operator: a peer refused a step for good,
    or it kept failing past the budget. The saga needs attention (metric, `booking-service sagas`),
    and every stored booking it concerns says so (history row, booking.attention_needed): the
    saga's own booking, or the items of a group a group saga names; a booking the saga held is
    let go (one another saga holds stays that saga's)."""
    saga.status, saga.error = NEEDS_ATTENTION, reason[:500]
    uow = ctx.uow()
    async with uow:
        for booking_id in concerns(saga):
            booking = await uow.bookings.get(booking_id, for_update=True)
            if booking is None:
                continue  # never stored (a create that gave up compensating): the saga says it
            booking.need_attention(saga.saga_id, saga.kind, saga.error, ctx.clock())
            if booking.saga_id == saga.saga_id:
                booking.saga_id = None
            await uow.bookings.save(booking)
        await uow.sagas.save(saga, ctx.clock())
        await uow.commit()
    log.error(
        "saga needs attention",
        extra={"saga": saga.kind, "saga_id": saga.saga_id, "booking_id": saga.booking_id, "error": reason},
    )


async def failed(ctx: Context, saga: Saga, error: BookingError, doing: str = "") -> None:
    """The one rule for a saga step (or compensation) that failed: a peer's refusal for good
    (PeerRejected), or a failure past the budget of attempts, gives the saga to an operator
    (give_up); anything else leaves it to the recovery worker, due at once the first time, then
    after a growing pause (2, 4, ... 60 s)."""
    reason = f"{doing}: {error.message}" if doing else error.message
    if isinstance(error, PeerRejected) or over_budget(ctx, saga):
        await give_up(ctx, saga, reason)
        return
    retry_in = timedelta(seconds=min(60, 2**saga.attempts)) if saga.attempts else timedelta(0)
    await hand_to_recovery(ctx, saga, reason, retry_in=retry_in)


def over_budget(ctx: Context, saga: Saga) -> bool:
    """Whether the recovery worker has taken the saga over as often as it may (since an operator
    last retried it)."""
    return saga.attempts - int(saga.data.get("budget_from", 0)) >= ctx.saga_max_attempts


async def run_after_commit(ctx: Context, saga: Saga, run: Callable[[Context, Saga], Awaitable[None]]) -> None:
    """Runs a saga that a committed change wrote (a release, a group's shares) right away. Whatever
    stops it is never the caller's error, since the change stands: a refusal goes through `failed`
    (an operator, or the recovery worker later), a take-over to its new owner, anything else to the
    recovery worker (logged)."""
    try:
        try:
            await run(ctx, saga)
        except BookingError as error:
            await failed(ctx, saga, error)
    except SagaTakenOver:
        return  # its lease ran out meanwhile: the recovery worker carries it on
    except Exception as error:
        log.exception("a saga failed unexpectedly", extra={"saga": saga.kind, "booking_id": saga.booking_id})
        await hand_to_recovery(ctx, saga, f"{type(error).__name__}: {error}")


async def hand_to_recovery(ctx: Context, saga: Saga, error: str, retry_in: timedelta = timedelta(0)) -> None:
    """Leaves a saga whose next step could not run now to the recovery worker, due after `retry_in`.
    The saga stays running: a finish whose transaction failed set DONE (or COMPENSATED) in memory
    only, and writing that now would end a saga whose work was not stored. One whose finish did
    commit is no longer running, and is left as it is."""
    saga.status, saga.error = RUNNING, error[:500]
    saga.lease_until = ctx.clock() + retry_in
    own = ctx.uow()
    try:
        async with own:
            await own.sagas.save(saga, ctx.clock())
            await own.commit()
    except SagaTakenOver:
        return  # it ended meanwhile (its last step committed), or recovery has it already
    except Exception:
        log.exception(
            "could not hand a saga to recovery; its lease runs out anyway",
            extra={"booking_id": saga.booking_id},
        )
    log.warning(
        "saga left to the recovery worker",
        extra={"saga": saga.kind, "booking_id": saga.booking_id, "error": error},
    )


def outcome_unknown(error: BaseException) -> bool:
    """Whether a transaction may have committed although it raised `error`: a domain refusal (or a
    lock the database gave up waiting for) rolled it back; a cancelled call, a lost connection or
    anything unexpected may have ended after the commit."""
    return not isinstance(error, BookingError) or isinstance(error, StorageUnavailable)


async def committed_anyway(
    ctx: Context, saga: Saga, error: BaseException, answer: Callable[[UnitOfWork], Awaitable[T]]
) -> T | None:
    """The rule (module docstring) for a saga whose finishing transaction raised `error`, asked
    before anything is undone. None: it did not commit (a definite refusal, or the saga's row still
    running at this owner's attempt; the saga is running in memory again too): the caller
    compensates. Else `answer`, read in the unit of work that found the saga DONE: what was stored
    (a cancellation is passed on instead, with nothing undone). Raises StorageUnavailable (or the
    cancellation) when the database cannot tell (unreachable, or the row still locked after
    lock_timeout), the saga left to the recovery worker; SagaTakenOver when the worker has it."""
    if not outcome_unknown(error):
        return None
    saga.status, saga.error = RUNNING, ""  # as stored unless the finish committed
    try:
        uow = ctx.uow()
        async with uow:
            stored = await uow.sagas.get(saga.saga_id, settled=True)
            committed = stored is not None and stored.status == DONE and stored.attempts == saga.attempts
            found = await answer(uow) if committed else None
    except BookingError as unknown:
        reason = f"the outcome of its last step is unknown ({unknown.message})"
        await hand_to_recovery(ctx, saga, reason)
        if not isinstance(error, Exception):
            raise error from unknown
        raise StorageUnavailable(
            "The booking database did not answer; whether the change was stored is not known yet. "
            "Read the booking, or retry with the same idempotency key (it answers what was stored), "
            "shortly.",
            {"booking_id": saga.booking_id},
        ) from error
    if stored is None or stored.attempts != saga.attempts or stored.status not in (DONE, RUNNING):
        raise SagaTakenOver(saga.saga_id)
    if stored.status == RUNNING:
        return None
    saga.status = DONE
    log.warning(
        "a saga's last step committed although its answer was lost",
        extra={"saga": saga.kind, "saga_id": saga.saga_id, "booking_id": saga.booking_id},
    )
    if not isinstance(error, Exception):
        raise error
    return found


def the_booking(saga: Saga) -> Callable[[UnitOfWork], Awaitable[Booking]]:
    """`committed_anyway`'s answer for a saga of one booking: the booking as stored."""

    async def read(uow: UnitOfWork) -> Booking:
        booking = await uow.bookings.get(saga.booking_id)
        assert booking is not None, "stored with the saga's end"
        return booking

    return read


def stay_of(booking: Booking) -> Stay:
    return Stay(
        booking.venue.venue_id,
        booking.venue.venue_type,
        booking.unit_id,
        booking.slot,
        booking.party_size,
        booking.venue.time_zone,
    )


def stay_json(stay: Stay) -> dict[str, Any]:
    return {
        "venue_id": stay.venue_id,
        "venue_type": stay.venue_type.value if stay.venue_type else None,
        "unit_id": stay.unit_id,
        "start": stay.slot.start.isoformat(),
        "end": stay.slot.end.isoformat(),
        "party_size": stay.party_size,
        "time_zone": stay.time_zone,
    }


def stay_from_json(data: dict[str, Any]) -> Stay:
    return Stay(
        data["venue_id"],
        VenueType(data["venue_type"]) if data["venue_type"] else None,
        data["unit_id"],
        TimeSlot(datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"])),
        int(data["party_size"]),
        data["time_zone"],
    )
