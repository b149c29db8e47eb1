"""Writing a saga down as it goes: start it, record each step, finish it; and the booking's stay
as the peers see it."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from booking_service.domain.model import Booking
from booking_service.domain.values import TimeSlot, VenueType
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Stay
from booking_service.service_layer.sagas.log import COMPENSATED, DONE, Saga
from booking_service.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger("booking_service.sagas")


def new_saga(ctx: Context, kind: str, booking_id: str, data: dict[str, Any]) -> Saga:
    now = ctx.clock()
    return Saga(str(uuid.uuid4()), booking_id, kind, now + ctx.saga_lease, now, data=data)


async def start(ctx: Context, kind: str, booking_id: str, data: dict[str, Any]) -> Saga:
    """Writes the saga down (in a transaction of its own) before its first step touches a peer."""
    saga = new_saga(ctx, kind, booking_id, data)
    await write(ctx, saga)
    return saga


async def write(ctx: Context, saga: Saga) -> None:
    """Writes a new saga down, in a transaction of its own."""
    uow = ctx.uow()
    async with uow:
        await uow.sagas.add(saga)
        await uow.commit()


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
    with the step that finished it)."""
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


async def hand_to_recovery(ctx: Context, saga: Saga, error: str, retry_in: timedelta = timedelta(0)) -> None:
    """Leaves a saga whose next step could not run now to the recovery worker, due after `retry_in`."""
    saga.error = error[:500]
    saga.lease_until = ctx.clock() + retry_in
    own = ctx.uow()
    try:
        async with own:
            await own.sagas.save(saga, ctx.clock())
            await own.commit()
    except Exception:
        log.exception(
            "could not hand a saga to recovery; its lease runs out anyway",
            extra={"booking_id": saga.booking_id},
        )
    log.warning(
        "saga left to the recovery worker",
        extra={"saga": saga.kind, "booking_id": saga.booking_id, "error": error},
    )


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
