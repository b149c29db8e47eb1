"""What an operator does with sagas that need attention (`booking-service sagas list|retry|resolve`).

A saga needs attention when a peer refused one of its steps for good, or it kept failing past
SAGA_MAX_ATTEMPTS (steps.give_up); its booking says so (`attention`). An operator either fixes the
cause (the peer, its data) and retries the saga, which then runs again from where it stopped with a
fresh budget, or settles the matter by hand and resolves the saga with a note. Either way the
attention of its booking (of each item it names, for a saga of a booking group) is cleared (a
history row and booking.attention_resolved), and a retry that fails again sets it again.
"""

from __future__ import annotations

from booking_service.domain import erasure
from booking_service.domain.errors import BookingError
from booking_service.domain.model import Booking
from booking_service.domain.validation import is_uuid
from booking_service.domain.values import Actor
from booking_service.service_layer.context import Context
from booking_service.service_layer.sagas import recovery, steps
from booking_service.service_layer.sagas.log import NEEDS_ATTENTION, STATUSES, Saga, SagaTakenOver
from booking_service.service_layer.unit_of_work import UnitOfWork


class OperatorError(Exception):
    """The saga cannot be acted on as asked (unknown, or not needing attention)."""


async def list_sagas(
    ctx: Context,
    statuses: tuple[str, ...] = (NEEDS_ATTENTION,),
    booking_id: str | None = None,
    limit: int = 100,
) -> list[Saga]:
    """The sagas in the statuses (of one booking, if given), the latest changed first."""
    unknown = set(statuses) - set(STATUSES)
    if unknown:
        raise OperatorError(f"unknown saga status {', '.join(sorted(unknown))}; one of {', '.join(STATUSES)}")
    if booking_id is not None and not is_uuid(booking_id):
        raise OperatorError(f"{booking_id!r} is not a booking id (a UUID)")
    uow = ctx.uow()
    async with uow:
        return await uow.sagas.listing(statuses, booking_id, limit)


async def retry_saga(ctx: Context, saga_id: str, actor: Actor) -> Saga:
    """Runs a saga that needs attention again, now, in this process; returns it as it ended (done,
    or needing attention again, or running with its next try left to the recovery worker)."""
    uow = ctx.uow()
    async with uow:
        saga = await _needing_attention(uow, saga_id)
        for booking in await _free(uow, saga):
            note = f"saga {saga.kind} retried by an operator"
            booking.resolve_attention(saga.saga_id, note, actor, ctx.clock(), retry=True)
            if booking.booking_id == saga.booking_id:  # a group's saga holds none of its items
                booking.saga_id = saga.saga_id
            await uow.bookings.save(booking)
        try:
            await uow.sagas.reopen(saga, ctx.clock())
        except SagaTakenOver:
            raise OperatorError(f"saga {saga_id} no longer needs attention") from None
        await uow.commit()
    await recovery.resume(ctx, saga)
    return saga


async def resolve_saga(ctx: Context, saga_id: str, note: str, actor: Actor) -> Saga:
    """Records that an operator settled the saga's business by hand (`note` says how)."""
    if not note.strip():
        raise OperatorError("say how it was settled (--note)")
    uow = ctx.uow()
    async with uow:
        saga = await _needing_attention(uow, saga_id)
        for booking in await _free(uow, saga):
            booking.resolve_attention(saga.saga_id, f"resolved by an operator: {note}", actor, ctx.clock())
            await uow.bookings.save(booking)
            if booking.guest_erased_version is not None:  # the note may speak of the guest
                note = erasure.erased_text(note)
        try:
            await uow.sagas.resolve(saga, f"{note} (by {actor.actor_id})", ctx.clock())
        except SagaTakenOver:
            raise OperatorError(f"saga {saga_id} no longer needs attention") from None
        await uow.commit()
    return saga


async def _free(uow: UnitOfWork, saga: Saga) -> list[Booking]:
    """The stored bookings the saga concerns (its own, or the items of a group it names:
    steps.concerns), read FOR UPDATE, if no other saga holds one (an operator waits for that one to
    end, as every other change does); raises OperatorError otherwise."""
    found = []
    for booking_id in steps.concerns(saga):
        booking = await uow.bookings.get(booking_id, for_update=True)
        if booking is None:
            continue
        try:
            booking.ensure_free()
        except BookingError as busy:
            raise OperatorError(f"booking {booking.booking_id} is busy: {busy.message}") from None
        found.append(booking)
    return found


async def _needing_attention(uow: UnitOfWork, saga_id: str) -> Saga:
    if not is_uuid(saga_id):
        raise OperatorError(f"{saga_id!r} is not a saga id (a UUID)")
    saga = await uow.sagas.get(saga_id)
    if saga is None:
        raise OperatorError(f"there is no saga {saga_id}")
    if saga.status != NEEDS_ATTENTION:
        raise OperatorError(
            f"saga {saga_id} is {saga.status}; only a saga that needs attention can be acted on"
        )
    return saga
