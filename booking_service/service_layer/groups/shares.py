"""The items of a group and its one payment intent: every closed item says what the payment
service did with the intent, whichever item made it happen.

The payment service captures or voids the group's intent whole (sagas/shared_intent.py), and the
item whose saga did it records it (its confirmation, its release or expiry). Another item closed
before that lags: its money record still says REQUIRES_CONFIRMATION (an intent since voided), or
nothing captured (an intent since captured, its share too). `settle_shares` finds such items from
the records of the group (no peer call) and starts a `group_shares` saga (its booking_id the
group's id, `concerns` the lagging items) that asks the payment service and brings each one in
line:

| the intent | a closed item that records    | the saga                                          |
|------------|-------------------------------|---------------------------------------------------|
| voided     | REQUIRES_CONFIRMATION         | records the void on it (a change of its own)      |
| captured   | nothing captured              | releases it again: the release records the        |
|            |                               | capture of its share (its price, minor units of   |
|            |                               | the intent's currency) and asks back what its own |
|            |                               | frozen rules give (sagas/release.py)              |

An item that a saga holds is left to it: only a release holds a closed item, and every release
of an item calls settle_shares again once it let go of it (so a capture or void that landed
after the release read the intent is caught then). A peer that is down leaves the saga to the
recovery worker; one that refuses for good, or the budget spent, gives it to an operator, and
every item it concerns carries the attention (steps.give_up), as a single booking's does. What a
crash between the recording change and this saga's start leaves lagging, `booking-service
reconcile` finds (reconcile/group_drifts.py) and --fix settles. No group-level event is raised:
each item's change raises its own (booking.payment_voided, booking.payment_captured, refunds).
"""

from __future__ import annotations

import logging

from booking_service.domain.errors import BookingError
from booking_service.domain.model import Booking
from booking_service.domain.payment import PaymentStatus
from booking_service.domain.status import TERMINAL
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Intent
from booking_service.service_layer.sagas import release, steps
from booking_service.service_layer.sagas.log import DONE, Saga

log = logging.getLogger("booking_service.sagas")
KIND = "group_shares"
VOIDED_WITH_THE_GROUP = "the group's payment was voided"


async def settle_shares(ctx: Context, group_id: str | None) -> None:
    """After an item of the group recorded a capture or void of the group's intent, or let go of
        an item: starts (and runs) a group_shares saga when a closed item that no saga holds lags what
        another item of the group records. Raises no BookingError (the caller's change stands: an
    operator sees the log line, and reconcile what lags)."""
    if group_id is None:
        return
    try:
        uow = ctx.uow()
        async with uow:
            group = await uow.groups.get(group_id)
            lagging = _lagging_by_records(group.bookings if group is not None else [])
            if not lagging or group is None:
                return
            saga = steps.new_saga(
                ctx, KIND, group_id, {"intent_id": group.payment_intent_id, "concerns": lagging}
            )
            await uow.sagas.add(saga)
            await uow.commit()
    except BookingError as error:  # the caller's change stands; reconcile finds what lags
        log.error(
            "could not start settling the shares of a group's closed items",
            extra={"group_id": group_id, "error": error.message},
        )
        return
    await run_now(ctx, saga)


async def run(ctx: Context, saga: Saga) -> None:
    """Asks the payment service for the group's intent and brings each free lagging closed item in
    line with it (recording a void; releasing again after a capture); ends the saga."""
    intent = await ctx.peers.payments.get(saga.data["intent_id"])
    planned: list[Saga] = []
    uow = ctx.uow()
    async with uow:
        group = await uow.groups.get(saga.booking_id, for_update=True)  # as every writer reads
        for item in group.bookings if group is not None else []:
            if item.saga_id is not None or not lags(item, intent):
                continue  # in line, or a release holds it (it settles the shares again at its end)
            if intent.status == "canceled":
                item.record_void(VOIDED_WITH_THE_GROUP, ctx.clock())
            else:
                again = await release.close(ctx, uow, item, again=True)
                if again is not None:
                    planned.append(again)
            await uow.bookings.save(item)
        await steps.finish(ctx, saga, DONE, uow=uow)
        await uow.commit()
    for again in planned:
        await release.run_now(ctx, again)


async def run_now(ctx: Context, saga: Saga) -> None:
    """Runs the saga right after it was written; a peer that is down leaves it to the recovery
    worker, a refusal for good to an operator (the change that started it stands either way:
    steps.run_after_commit)."""
    await steps.run_after_commit(ctx, saga, run)


def lags(item: Booking, intent: Intent) -> bool:
    """Whether a closed item's money record misses what the payment service did with the
    group's intent: a void it does not record, or a capture (of its share) it does not."""
    payment = item.payment
    if item.status not in TERMINAL or payment is None or payment.intent_id != intent.intent_id:
        return False
    if intent.status == "canceled":
        return payment.status is PaymentStatus.REQUIRES_CONFIRMATION
    return intent.captured and payment.captured is None


def _lagging_by_records(items: list[Booking]) -> list[str]:
    """The free closed items whose record misses a void or a capture that another item of the
    group records (what this service learnt of the intent, without asking the payment service)."""
    records = [item.payment for item in items if item.payment is not None]
    voided = any(record.status is PaymentStatus.VOIDED for record in records)
    captured = any(record.captured is not None for record in records)
    return [
        item.booking_id
        for item in items
        if item.saga_id is None
        and item.status in TERMINAL
        and item.payment is not None
        and (
            (voided and item.payment.status is PaymentStatus.REQUIRES_CONFIRMATION)
            or (captured and item.payment.captured is None)
        )
    ]
