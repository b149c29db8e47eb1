"""Creating a booking: price it, hold inventory, open the payment, then store it.

| step    | forward                                      | compensation (on a later failure) |
|---------|----------------------------------------------|-----------------------------------|
| price   | pricing calculate (no side effect)           | none                              |
| reserve | inventory reserve (key booking:<id>:reserve) | inventory release                 |
| intent  | payment intent, if the venue is paid up front | cancel the intent                |
| persist | the booking (PENDING, with hold, intent and   | a refusal (the unit taken): all   |
|         | frozen quote), the saga's end and the answer  | the above; any other failure may  |
|         | to the idempotency key, in one transaction    | have committed: see below         |

A unit already held by an active booking of ours is refused before anything else happens: in the
transaction that claims the key, so that nothing is kept and no peer is called (500 requests for
one hot slot would otherwise each price, ask the inventory, and compensate). The inventory and the
exclusion constraint still decide every other case.

The intent is opened before the booking is stored, so the booking is born complete: one version
and one booking.created event that carry every reference. A step whose outcome is unknown (the peer
timed out) is compensated all the same: repeating it with its key returns what it did, if anything,
which is then undone. If the saga's lease runs out while a step is slow, the recovery worker
takes it over and compensates it, and the request answers UNAVAILABLE (steps.lease_kept). If a
compensation cannot run now (a peer is down), the saga is left to the
recovery worker; so is a saga whose process died between two steps.

The persist step's transaction can fail after it committed (its COMMIT's answer lost with the
connection, or the call cancelled at the commit): the booking is then stored, claiming the hold and
the intent, and undoing them would break it. So its failure is settled first by the saga's row
(steps.committed_anyway), which that transaction ends: DONE, the request answers the stored
booking (the key's answer was stored with it); still running, it compensates; the database
unreachable, it undoes nothing, answers UNAVAILABLE and leaves the saga to the recovery worker,
which leaves a DONE saga alone and compensates a running one (never one whose booking is stored:
recovery.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from booking_service.domain.commands import CreateBooking
from booking_service.domain.errors import BookingError, SoldOut, UnitUnavailable
from booking_service.domain.limits import BookingLimits
from booking_service.domain.model import Booking
from booking_service.domain.payment import PaymentRecord
from booking_service.domain.pricing import PricingSnapshot
from booking_service.domain.reference import new_reference
from booking_service.domain.unit_conflicts import unit_held
from booking_service.domain.validation import validate_create
from booking_service.domain.values import Money, TimeSlot, Venue
from booking_service.request_context import compensating
from booking_service.service_layer import idempotency
from booking_service.service_layer.availability import explained
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Stay, step_key
from booking_service.service_layer.sagas import steps
from booking_service.service_layer.sagas.log import COMPENSATED, DONE, Saga, SagaTakenOver
from booking_service.service_layer.sagas.settle import settle_overdue
from booking_service.service_layer.unit_of_work import DuplicateReference, UnitOfWork
from booking_service.service_layer.venue_rules import VenueRules, rules_for
from booking_service.service_layer.venue_zone import venue_time_zone

SCOPE = "CreateBooking"
KIND = "create"
_REFERENCE_DRAWS = 5


async def create_booking(cmd: CreateBooking, *, ctx: Context) -> Booking:
    # The venue's rules now: they judge the request, and the booking keeps them (Booking.rules).
    rules = await rules_for(ctx, cmd.venue.venue_id)
    validate_create(cmd, ctx.clock(), rules.limits)
    assert cmd.start_time is not None and cmd.end_time is not None and cmd.venue.venue_type is not None
    # The zone used (the policy's, named, recorded or default) is the booking's from here on; the
    # key's fingerprint stays that of the request as sent.
    zone = await venue_time_zone(cmd.venue.venue_id, cmd.venue.time_zone, ctx=ctx, rules=rules)
    venue = Venue(cmd.venue.venue_id, cmd.venue.venue_type, cmd.venue.name, zone)
    slot = TimeSlot(cmd.start_time, cmd.end_time)
    stay = Stay(venue.venue_id, venue.venue_type, cmd.unit_id or None, slot, cmd.party_size, venue.time_zone)
    booking_id = str(uuid.uuid4())
    scope = idempotency.scope_of(SCOPE, cmd)
    saga = steps.new_saga(
        ctx, KIND, booking_id, {"stay": steps.stay_json(stay), "idempotency": [scope, cmd.idempotency_key]}
    )
    # The key's claim and the saga's first row commit together.
    replay = await idempotency.begin(
        ctx,
        scope,
        cmd.idempotency_key,
        cmd,
        saga=saga,
        check=lambda uow: unit_free(uow, ctx, stay, rules.limits),
    )
    if replay is not None:
        return replay
    attempted: set[str] = set()
    persisting = False
    taken_over = "Creating the booking took too long and was rolled back; retry the request."
    async with steps.lease_kept(ctx, saga, taken_over, scope=scope, key=cmd.idempotency_key):
        try:
            pricing = await ctx.peers.pricing.calculate(stay, ctx.clock())
            attempted.add("reserve")
            reservation_id = await reserve(ctx, booking_id, stay, rules.limits)
            intent_id = ""
            if not pricing.requires_prepayment:
                # No durable record needed: the next step is the last, and a saga found at "started"
                # asks the inventory again with the reserve key, which returns the hold to release.
                saga.data["reservation_id"] = reservation_id
            else:
                prepay = {"amount_minor": pricing.total.amount_minor, "currency": pricing.total.currency}
                await steps.record(ctx, saga, "reserved", reservation_id=reservation_id, prepay=prepay)
                attempted.add("intent")
                intent = await ctx.peers.payments.create_intent(
                    step_key(booking_id, "intent"), booking_id, pricing.total
                )
                intent_id = intent.intent_id
                await steps.record(ctx, saga, "intent_opened", intent_id=intent_id)
            persisting = True
            try:
                return await _persist(ctx, cmd, saga, venue, rules, pricing, reservation_id, intent_id)
            except UnitUnavailable as refused:  # the exclusion constraint's, after a race
                raise await explained(ctx, refused, stay, rules.limits, "") from None
        except SagaTakenOver:
            raise  # the recovery worker compensates it now
        except BaseException as error:
            if persisting:  # its transaction may have committed: asked before anything is undone
                stored = await steps.committed_anyway(ctx, saga, error, steps.the_booking(saga))
                if stored is not None:
                    return stored
            await compensate(ctx, saga, str(error) or type(error).__name__, attempted)
            await idempotency.abandon(ctx, scope, cmd.idempotency_key, saga)
            raise


async def unit_free(uow: UnitOfWork, ctx: Context, stay: Stay, limits: BookingLimits) -> None:
    """Refuses a unit that an active booking holds over an overlapping time (each widened by its
    buffers), unless that booking is an overdue PENDING one (the reserve step settles those)."""
    if stay.unit_id is None:
        return  # capacity, not a unit: the inventory decides
    now = ctx.clock()
    holders = await uow.bookings.overlapping(stay.venue_id, stay.unit_id, limits.blocked(stay.slot), None)
    holder = next((h for h in holders if not h.is_overdue(now)), None)
    if holder is not None:
        raise unit_held(stay.venue_id, stay.unit_id, stay.slot, limits, holder.slot, holder.rules)


#: The keys the reserve step may have used (a second try follows settling an overdue booking).
_RESERVE_KEYS = ("reserve", "reserve-again")


async def reserve(ctx: Context, booking_id: str, stay: Stay, limits: BookingLimits) -> str:
    """Holds inventory; an overdue PENDING booking in the way is settled first, then it is tried again."""
    try:
        return await ctx.peers.inventory.reserve(step_key(booking_id, _RESERVE_KEYS[0]), booking_id, stay)
    except (SoldOut, UnitUnavailable):
        if not await settle_overdue_in_the_way(ctx, stay, limits):
            raise
    return await ctx.peers.inventory.reserve(step_key(booking_id, _RESERVE_KEYS[1]), booking_id, stay)


async def _persist(
    ctx: Context,
    cmd: CreateBooking,
    saga: Saga,
    venue: Venue,
    rules: VenueRules,
    pricing: PricingSnapshot,
    reservation_id: str,
    intent_id: str,
) -> Booking:
    assert cmd.start_time is not None and cmd.end_time is not None
    cleared = False
    for _ in range(_REFERENCE_DRAWS):
        uow = ctx.uow()
        try:
            async with uow:
                now = ctx.clock()
                booking = Booking.create(
                    booking_id=saga.booking_id,
                    reference=new_reference(),
                    guest=cmd.guest,
                    venue=venue,
                    unit_id=cmd.unit_id or None,
                    slot=TimeSlot(cmd.start_time, cmd.end_time),
                    party_size=cmd.party_size,
                    special_requests=cmd.special_requests,
                    idempotency_key=cmd.idempotency_key,
                    actor=cmd.actor,
                    now=now,
                    deadlines=ctx.policy.deadlines,
                )
                booking.pricing = pricing
                booking.rules, booking.policy_version = rules.limits, rules.policy_version
                booking.inventory_reservation_id, booking.payment_intent_id = reservation_id, intent_id
                if intent_id:
                    booking.payment = PaymentRecord(intent_id, pricing.total)
                await uow.bookings.add(booking)
                await idempotency.complete(
                    uow, idempotency.scope_of(SCOPE, cmd), cmd.idempotency_key, booking
                )
                await steps.finish(ctx, saga, DONE, uow=uow)
                await uow.commit()
                return booking
        except DuplicateReference:
            continue
        except UnitUnavailable:
            stay = steps.stay_from_json(saga.data["stay"])
            if cleared or not await settle_overdue_in_the_way(ctx, stay, rules.limits):
                raise
            cleared = True
    raise RuntimeError(f"no free booking reference after {_REFERENCE_DRAWS} draws")


async def settle_overdue_in_the_way(ctx: Context, stay: Stay, limits: BookingLimits) -> bool:
    """Settles overdue PENDING bookings that overlap the stay (with its buffers) at its venue; True
    if there were any."""
    uow = ctx.uow()
    async with uow:
        overdue = await uow.bookings.overdue_overlapping(
            stay.venue_id, limits.blocked(stay.slot), ctx.clock()
        )
    for booking in overdue:
        await settle_overdue(ctx, booking.booking_id)
    return bool(overdue)


async def compensate(ctx: Context, saga: Saga, error: str, attempted: set[str] | None = None) -> None:
    """Undoes what a create saga did, or may have done: cancels the intent, releases the hold.

    `attempted` names the steps the failed request tried; the recovery worker, which cannot know,
    passes None, and every step the saga's position allows is then assumed to have been tried. A
    step whose answer was lost is asked again with its key, which returns what it did (or does it
    now), so that it can be undone."""
    maybe = attempted if attempted is not None else {"reserve", "intent"}
    try:
        try:
            with compensating():  # part of the failed request: the breaker counts its failure once
                await _undo(ctx, saga, maybe)
            await steps.finish(ctx, saga, COMPENSATED, error)
        except BookingError as failure:
            await steps.failed(ctx, saga, failure, f"{error}; compensating")
    except SagaTakenOver:
        return  # its new owner compensates it (again: every undo step is keyed)


async def _undo(ctx: Context, saga: Saga, maybe: set[str]) -> None:
    """Cancels the intent and releases the holds the steps in `maybe` made, or may have made."""
    booking_id, data = saga.booking_id, saga.data
    lost = saga.step == "reserved" and data.get("prepay") and "intent" in maybe
    await void_intent(ctx, booking_id, data.get("intent_id") or "", data["prepay"] if lost else None)
    holds = [data["reservation_id"]] if data.get("reservation_id") else []
    if not holds and saga.step == "started" and "reserve" in maybe:
        holds = await holds_if_made(ctx, booking_id, steps.stay_from_json(data["stay"]))
    await release_holds(ctx, booking_id, holds)


async def void_intent(ctx: Context, owner_id: str, intent_id: str, prepay: dict[str, Any] | None) -> None:
    """Voids the intent a create saga opened for `owner_id` (a booking, or a group) with its intent
    step's key; with no id but `prepay` (the amount it was asked for, as recorded), its answer may
    have been lost: asking again with the key returns it (or opens it now), to void it."""
    if not intent_id and prepay:
        amount = Money(prepay["amount_minor"], prepay["currency"])
        key = step_key(owner_id, "intent")
        intent_id = (await ctx.peers.payments.create_intent(key, owner_id, amount)).intent_id
    if intent_id:
        await ctx.peers.payments.cancel(step_key(owner_id, "void"), intent_id)


async def release_holds(ctx: Context, booking_id: str, holds: list[str]) -> None:
    for reservation_id in holds:
        await ctx.peers.inventory.release(step_key(booking_id, f"release-{reservation_id}"), reservation_id)


async def holds_if_made(ctx: Context, booking_id: str, stay: Stay) -> list[str]:
    """The holds the reserve step may have made for the booking before its answer was lost: asking
    again with the same key returns them (or makes them now, to be released right after)."""
    holds = []
    for key in _RESERVE_KEYS:
        try:
            holds.append(await ctx.peers.inventory.reserve(step_key(booking_id, key), booking_id, stay))
        except (SoldOut, UnitUnavailable):
            continue
    return holds
