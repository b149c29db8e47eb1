"""The one rule for a payment intent that several bookings share (the items of a booking group).

A group paid up front has one intent for its total; each item's money record holds its own share
(its price: Booking.capture_share). Closing one item must not void the intent while another item
of the group is still active (that item could then never be paid): the intent is voided by the
release or expiry of the last active item. Refunds are per item, of its own share, tagged with
the item's booking id (sagas/release.py). The item whose saga captured or voided the intent
records it; every other closed item is brought in line by groups/shares.py (a capture that took
its share gives that share back by its own rules; a void is recorded on it).
"""

from __future__ import annotations

from booking_service.domain.status import ACTIVE
from booking_service.service_layer.context import Context


async def others_active(ctx: Context, booking_id: str) -> bool:
    """Whether the booking is an item of a group that has another item still active."""
    uow = ctx.uow()
    async with uow:
        booking = await uow.bookings.get(booking_id)
        if booking is None or booking.group_id is None:
            return False
        group = await uow.groups.get(booking.group_id)
    return group is not None and any(
        item.booking_id != booking_id and item.status in ACTIVE for item in group.bookings
    )
