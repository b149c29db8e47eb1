"""An item's confirmation captures the group's one intent, every item's share at once (the payment
service takes an intent whole). An item that was closed before that (cancelled or expired while the
intent was open, so nothing of it was voided or refunded) then had its share taken too: each such
item gets its release again, which records the capture found late and asks back what the item's
own rules give (a cancellation: its frozen policy at the time it was cancelled; an expiry: all).
"""

from __future__ import annotations

import logging

from booking_service.domain.errors import BookingError
from booking_service.domain.model import Booking
from booking_service.domain.status import TERMINAL
from booking_service.service_layer.context import Context
from booking_service.service_layer.sagas import release
from booking_service.service_layer.sagas.log import Saga

log = logging.getLogger("booking_service.sagas")


async def settle_closed_shares(ctx: Context, confirmed: Booking) -> None:
    """After `confirmed`'s payment was captured: releases again each other item of its group that
    closed without its share recorded as captured (an item a saga holds is left to reconcile)."""
    if confirmed.group_id is None:
        return
    planned: list[Saga] = []
    try:
        uow = ctx.uow()
        async with uow:
            group = await uow.groups.get(confirmed.group_id)
            for item in group.bookings if group is not None else []:
                if item.booking_id == confirmed.booking_id or not _share_uncounted(item):
                    continue
                saga = await release.close(ctx, uow, item, again=True)
                await uow.bookings.save(item)
                if saga is not None:
                    planned.append(saga)
            await uow.commit()
    except BookingError as error:  # the confirmation stands; an operator sees this line
        log.error(
            "could not settle the shares of a group's closed items after a capture",
            extra={"group_id": confirmed.group_id, "error": error.message},
        )
        return
    for saga in planned:
        await release.run_now(ctx, saga)


def _share_uncounted(item: Booking) -> bool:
    return (
        item.status in TERMINAL
        and item.saga_id is None
        and item.payment is not None
        and item.payment.captured is None
    )
