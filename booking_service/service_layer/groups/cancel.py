"""Cancelling a booking group: every item still active, in one transaction, then their releases.

One transaction claims the key, locks the group's row (one change of a group at a time), checks
the group's version, cancels each active item (an overdue PENDING one expires instead), writes
each item's release saga (sagas/release.py) and bumps the group's version. After the commit the
releases run: each gives back the inventory hold and settles its item's share of the group's one
payment by the item's own frozen cancellation policy (refunds recorded as the payment service
confirms them; the intent is voided when nothing was taken). A saga holding an active item refuses
the whole cancellation (CONTENTION), with nothing done.
"""

from __future__ import annotations

from booking_service.domain.errors import GroupNotFound
from booking_service.domain.group import BookingGroup, CancelBookingGroup, validate_cancel_group
from booking_service.service_layer import idempotency
from booking_service.service_layer.context import Context
from booking_service.service_layer.groups.read import with_histories
from booking_service.service_layer.sagas import release
from booking_service.service_layer.sagas.log import Saga

SCOPE = "CancelBookingGroup"


async def cancel_group(cmd: CancelBookingGroup, *, ctx: Context) -> BookingGroup:
    """Raises ValidationFailed, GroupNotFound, GroupVersionMismatch, Contention."""
    validate_cancel_group(cmd)
    scope = idempotency.scope_of(SCOPE, cmd)
    group, planned = await idempotency.patiently(lambda: _cancel(scope, cmd, ctx))
    for saga in planned:
        await release.run_now(ctx, saga)
    return await with_histories(group, ctx=ctx)


async def _cancel(scope: str, cmd: CancelBookingGroup, ctx: Context) -> tuple[BookingGroup, list[Saga]]:
    planned: list[Saga] = []
    uow = ctx.uow()
    async with uow:
        now = ctx.clock()
        ttl = ctx.policy.idempotency_ttl
        replay = await idempotency.claim_group(uow, scope, cmd.idempotency_key, cmd, now, ttl)
        if replay is not None:
            return replay, planned
        group = await uow.groups.get(cmd.group_id, for_update=True)
        if group is None:
            raise GroupNotFound(f"There is no booking group {cmd.group_id}.", {"group_id": cmd.group_id})
        group.ensure_version(cmd.expected_version)
        for booking in group.cancel(cmd.reason, cmd.actor, now, ctx.policy.deadlines):
            saga = await release.close(ctx, uow, booking)
            if saga is not None:
                planned.append(saga)
            await uow.bookings.save(booking)
        await uow.groups.save(group)
        await idempotency.complete(uow, scope, cmd.idempotency_key, group)
        await uow.commit()
    return group, planned
