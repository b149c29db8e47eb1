"""Creating a booking group: price every item, hold every item, open one payment, then store it all.

| step    | forward                                           | compensation (on a later failure)    |
|---------|---------------------------------------------------|--------------------------------------|
| claim   | the key, the saga, every unit free (one           | none: nothing kept on a refusal      |
|         | transaction; a taken unit names its item)         |                                      |
| price   | pricing calculate per item (no side effect)       | none                                 |
| reserve | inventory reserve per item (key booking:<id>:     | inventory release of every hold      |
|         | reserve, the create saga's step)                  | made, or that may have been made     |
| intent  | one payment intent for the total, if the venue is | cancel it (key booking:<group>:void) |
|         | paid up front (key booking:<group>:intent)        |                                      |
| persist | the group and every item (PENDING, with its hold, | none: the last step                  |
|         | its share of the intent and its frozen quote),    |                                      |
|         | the saga's end and the key's answer, in ONE       |                                      |
|         | transaction: the exclusion constraint decides     |                                      |
|         | every unit at once                                |                                      |

The saga (kind `group_create`, its booking_id the group's id) records the holds and the prepayment
once every item is held, then the intent; a request that fails compensates at once, and the
recovery worker compensates a saga whose process died (recovery.py). Holds whose answers may have
been lost are asked for again with their keys, which return them (or make them now) to release
them. Items reuse the single-booking create's steps (sagas/create.py) and its validation path.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from booking_service.domain.errors import BookingError, SoldOut, UnitUnavailable
from booking_service.domain.group import BookingGroup, CreateBookingGroup, of_item, validate_create_group
from booking_service.domain.limits import BookingLimits
from booking_service.domain.model import Booking
from booking_service.domain.payment import PaymentRecord
from booking_service.domain.pricing import PricingSnapshot
from booking_service.domain.reference import GROUP_PREFIX, new_reference
from booking_service.domain.unit_conflicts import unit_held
from booking_service.domain.values import Money, TimeSlot, Venue
from booking_service.request_context import compensating
from booking_service.service_layer import idempotency
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Stay, step_key
from booking_service.service_layer.sagas import create, steps
from booking_service.service_layer.sagas.log import COMPENSATED, DONE, Saga, SagaTakenOver
from booking_service.service_layer.unit_of_work import DuplicateReference, UnitOfWork
from booking_service.service_layer.venue_rules import VenueRules, rules_for
from booking_service.service_layer.venue_zone import venue_time_zone

SCOPE = "CreateBookingGroup"
KIND = "group_create"
_REFERENCE_DRAWS = 5


async def create_group(cmd: CreateBookingGroup, *, ctx: Context) -> BookingGroup:
    """Creates the group, all or nothing. Raises ValidationFailed; UnitUnavailable or SoldOut naming
    the item (`item_index`); PeerUnavailable or PeerRejected (everything compensated)."""
    # The venue's rules now: they judge every item (validate_create, as CreateBooking's), and each
    # item keeps them (Booking.rules).
    rules = await rules_for(ctx, cmd.venue.venue_id)
    validate_create_group(cmd, ctx.clock(), rules.limits)
    assert cmd.venue.venue_type is not None
    zone = await venue_time_zone(cmd.venue.venue_id, cmd.venue.time_zone, ctx=ctx, rules=rules)
    venue = Venue(cmd.venue.venue_id, cmd.venue.venue_type, cmd.venue.name, zone)
    group_id = str(uuid.uuid4())
    stays = [_stay(cmd, index, venue) for index in range(len(cmd.items))]
    items: list[dict[str, Any]] = [
        {"booking_id": str(uuid.uuid4()), "stay": steps.stay_json(stay)} for stay in stays
    ]
    scope = idempotency.scope_of(SCOPE, cmd)
    saga = steps.new_saga(ctx, KIND, group_id, {"items": items, "idempotency": [scope, cmd.idempotency_key]})
    replay = await idempotency.begin_group(
        ctx,
        scope,
        cmd.idempotency_key,
        cmd,
        saga=saga,
        check=lambda uow: _units_free(uow, ctx, stays, rules.limits),
    )
    if replay is not None:
        return replay
    tried: set[str] = set()
    taken_over = "Creating the booking group took too long and was rolled back; retry the request."
    async with steps.lease_kept(ctx, saga, taken_over, scope=scope, key=cmd.idempotency_key):
        try:
            pricings = [await ctx.peers.pricing.calculate(stay, ctx.clock()) for stay in stays]
            holds: dict[str, str] = {}
            saga.data["holds_so_far"] = holds  # known to a compensation now; never recorded
            for index, (item, stay) in enumerate(zip(items, stays, strict=True)):
                tried.add(item["booking_id"])
                try:
                    holds[item["booking_id"]] = await create.reserve(
                        ctx, item["booking_id"], stay, rules.limits
                    )
                except (SoldOut, UnitUnavailable) as refused:
                    tried.discard(item["booking_id"])  # a refusal: no hold was made
                    raise of_item(refused, index) from None
            total = _total(pricings)
            prepay = None
            if any(p.requires_prepayment for p in pricings):
                prepay = {"amount_minor": total.amount_minor, "currency": total.currency}
            del saga.data["holds_so_far"]
            await steps.record(ctx, saga, "reserved", holds=holds, prepay=prepay)
            intent_id = ""
            if prepay is not None:
                tried.add("intent")
                intent = await ctx.peers.payments.create_intent(step_key(group_id, "intent"), group_id, total)
                intent_id = intent.intent_id
                await steps.record(ctx, saga, "intent_opened", intent_id=intent_id)
            return await _persist(ctx, cmd, saga, venue, rules, pricings, intent_id)
        except SagaTakenOver:
            raise
        except BaseException as error:
            await compensate(ctx, saga, str(error) or type(error).__name__, tried)
            await idempotency.abandon(ctx, scope, cmd.idempotency_key, saga)
            raise


def _stay(cmd: CreateBookingGroup, index: int, venue: Venue) -> Stay:
    item = cmd.items[index]
    assert item.start_time is not None and item.end_time is not None
    slot = TimeSlot(item.start_time, item.end_time)
    return Stay(
        venue.venue_id, venue.venue_type, item.unit_id or None, slot, item.party_size, venue.time_zone
    )


def _total(pricings: list[PricingSnapshot]) -> Money:
    total = pricings[0].total
    for pricing in pricings[1:]:
        total = total + pricing.total
    return total


async def _units_free(uow: UnitOfWork, ctx: Context, stays: list[Stay], limits: BookingLimits) -> None:
    """Refuses the group when an active booking holds one of its units, or when two of its items
    would block one unit over times that meet (each widened by the venue's turnover buffers, as
    the exclusion constraint widens them), naming the item in CreateBooking's words; nothing is
    kept, no peer is called."""
    for index, stay in enumerate(stays):
        try:
            await create.unit_free(uow, ctx, stay, limits)
        except UnitUnavailable as taken:
            raise of_item(taken, index) from None
        if stay.unit_id is None:
            continue
        for other, earlier in enumerate(stays[:index]):
            if earlier.unit_id == stay.unit_id and limits.blocked(earlier.slot).overlaps(
                limits.blocked(stay.slot)
            ):
                refusal = unit_held(stay.venue_id, stay.unit_id, stay.slot, limits, earlier.slot, limits)
                refusal.metadata["other_item_index"] = str(other)
                raise of_item(refusal, index)


async def _persist(
    ctx: Context,
    cmd: CreateBookingGroup,
    saga: Saga,
    venue: Venue,
    rules: VenueRules,
    pricings: list[PricingSnapshot],
    intent_id: str,
) -> BookingGroup:
    """Stores the group and every item in one transaction (the exclusion constraint decides every
    unit at once); a taken unit refuses all of it, naming the item. An overdue PENDING booking in
    an item's way is settled once, then the transaction is tried again."""
    items, holds = saga.data["items"], saga.data["holds"]
    cleared: set[int] = set()
    draws = 0
    while True:
        uow = ctx.uow()
        index = -1
        try:
            async with uow:
                now = ctx.clock()
                group = BookingGroup(
                    group_id=saga.booking_id,
                    reference=new_reference(GROUP_PREFIX),
                    guest=cmd.guest,
                    venue=venue,
                    booking_ids=tuple(item["booking_id"] for item in items),
                    version=1,
                    create_time=now,
                    update_time=now,
                    total=_total(pricings),
                    payment_intent_id=intent_id,
                    idempotency_key=cmd.idempotency_key,
                )
                await uow.groups.add(group)
                for index, (item, pricing) in enumerate(zip(items, pricings, strict=True)):
                    booking = _item(ctx, cmd, index, item["booking_id"], group, now)
                    booking.pricing = pricing
                    booking.rules, booking.policy_version = rules.limits, rules.policy_version
                    booking.inventory_reservation_id = holds[item["booking_id"]]
                    if intent_id:
                        booking.payment_intent_id = intent_id
                        booking.payment = PaymentRecord(intent_id, pricing.total)
                    await uow.bookings.add(booking)
                    group.bookings.append(booking)
                await idempotency.complete(uow, idempotency.scope_of(SCOPE, cmd), cmd.idempotency_key, group)
                await steps.finish(ctx, saga, DONE, uow=uow)
                await uow.commit()
                return group
        except DuplicateReference:
            draws += 1
            if draws >= _REFERENCE_DRAWS:
                raise RuntimeError(f"no free reference after {_REFERENCE_DRAWS} draws") from None
        except UnitUnavailable as taken:
            stay = steps.stay_from_json(items[index]["stay"])
            if index in cleared or not await create.settle_overdue_in_the_way(ctx, stay, rules.limits):
                raise of_item(taken, index) from None
            cleared.add(index)


def _item(
    ctx: Context, cmd: CreateBookingGroup, index: int, booking_id: str, group: BookingGroup, now: datetime
) -> Booking:
    item = cmd.items[index]
    assert item.start_time is not None and item.end_time is not None
    return Booking.create(
        booking_id=booking_id,
        reference=new_reference(),
        guest=cmd.guest,
        venue=group.venue,
        unit_id=item.unit_id or None,
        slot=TimeSlot(item.start_time, item.end_time),
        party_size=item.party_size,
        special_requests=item.special_requests,
        idempotency_key=cmd.idempotency_key,
        actor=cmd.actor,
        now=now,
        deadlines=ctx.policy.deadlines,
        group_id=group.group_id,
    )


async def compensate(ctx: Context, saga: Saga, error: str, tried: set[str] | None = None) -> None:
    """Undoes what a group create saga did, or may have done: cancels the intent, releases every
    hold. `tried` names what the failed request tried (item booking ids, and "intent"); the
    recovery worker, which cannot know, passes None, and everything the saga's position allows is
    then assumed tried: asking again with a step's key returns what it did (or does it now), to
    undo it."""
    try:
        try:
            with compensating():  # part of the failed request: the breaker counts its failure once
                await _undo(ctx, saga, tried)
            await steps.finish(ctx, saga, COMPENSATED, error)
        except BookingError as failure:
            await steps.failed(ctx, saga, failure, f"{error}; compensating")
    except SagaTakenOver:
        return  # its new owner compensates it (again: every undo step is keyed)


async def _undo(ctx: Context, saga: Saga, tried: set[str] | None) -> None:
    data = saga.data
    lost = saga.step == "reserved" and data.get("prepay") and (tried is None or "intent" in tried)
    await create.void_intent(
        ctx, saga.booking_id, data.get("intent_id") or "", data["prepay"] if lost else None
    )
    known: dict[str, str] = data.get("holds") or data.get("holds_so_far") or {}
    for item in data["items"]:
        booking_id = item["booking_id"]
        if booking_id in known:
            await create.release_holds(ctx, booking_id, [known[booking_id]])
        elif "holds" not in data and (tried is None or booking_id in tried):
            made = await create.holds_if_made(ctx, booking_id, steps.stay_from_json(item["stay"]))
            await create.release_holds(ctx, booking_id, made)
