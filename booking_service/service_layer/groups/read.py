"""Reading a booking group: the group with every item, each with its whole history."""

from __future__ import annotations

from booking_service.domain.errors import GroupNotFound
from booking_service.domain.group import BookingGroup
from booking_service.domain.validation import Violations
from booking_service.service_layer.context import Context
from booking_service.service_layer.queries import settle_if_overdue, with_history


async def get_group(group_id: str, *, ctx: Context) -> BookingGroup:
    """The group, its overdue PENDING items settled first, as GetBooking settles a booking; raises
    ValidationFailed (not a UUID) or GroupNotFound."""
    v = Violations()
    v.booking_id("group_id", group_id)
    v.raise_if_any()
    group = await _read(ctx, group_id)
    if group is not None and await settle_if_overdue(ctx, group.bookings):
        group = await _read(ctx, group_id)
    if group is None:
        raise GroupNotFound(f"There is no booking group {group_id}.", {"group_id": group_id})
    return group


async def with_histories(group: BookingGroup, *, ctx: Context) -> BookingGroup:
    """The group as every answer carries it: each item with its history, versions 1 to its version."""
    for booking in group.bookings:
        await with_history(booking, reads=ctx.reads)
    return group


async def _read(ctx: Context, group_id: str) -> BookingGroup | None:
    uow = ctx.uow()
    async with uow:
        return await uow.groups.get(group_id, with_history=True)
