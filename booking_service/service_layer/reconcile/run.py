"""Reconciling: every booking changed in a window, and every booking whose creation did not finish,
against the peers' own view (each reservation and intent made for it, each refund of its intents).

`--fix` settles what the sagas can settle, through them: a closed booking that still holds
something, or whose money record lags what the payment service did, gets a release saga again (it
releases the hold, voids an open intent, records a capture or void found late, and asks back the
refunds due); a PENDING booking whose payment was taken is confirmed as the confirm saga's recovery
would; a hold or open intent of a booking never stored is released or voided as the create saga's
compensation would. The rest needs an operator. A booking a saga holds right now is skipped, and so
is one that changed while the peers were read (its drift may be that change, half done).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import timedelta

from booking_service.domain.errors import BookingError
from booking_service.domain.model import Booking
from booking_service.domain.status import TERMINAL, BookingStatus
from booking_service.observability.metrics import RECONCILE_DRIFTS
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import step_key
from booking_service.service_layer.reconcile import drifts
from booking_service.service_layer.reconcile.drifts import Drift, PeerView
from booking_service.service_layer.sagas import recovery, release, steps
from booking_service.service_layer.sagas.log import Saga
from booking_service.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger("booking_service.reconcile")
PAGE = 200
#: Bookings checked at once (each reads two or three things from the peers).
IN_FLIGHT = 16


@dataclass
class Report:
    since: timedelta
    checked: int = 0
    in_flight: int = 0
    drifts: list[Drift] = field(default_factory=list)
    #: booking id -> what --fix did about its drifts ("fixed", or why not).
    fixes: dict[str, str] = field(default_factory=dict)


async def reconcile(ctx: Context, since: timedelta, *, fix: bool = False) -> Report:
    """Compares the bookings changed in the last `since` with the peers; with `fix`, settles the
    fixable drifts (and reports what it found before fixing). Raises PeerUnavailable when a peer
    cannot be asked."""
    report = Report(since)
    start = ctx.clock() - since
    after = None
    while True:
        uow = ctx.uow()
        async with uow:
            page = await uow.bookings.changed_since(start, after, PAGE)
        for first in range(0, len(page), IN_FLIGHT):  # a few peers' reads at once, in order
            await asyncio.gather(*(_check(ctx, report, b, fix) for b in page[first : first + IN_FLIGHT]))
        if len(page) < PAGE:
            break
        after = (page[-1].update_time, page[-1].booking_id)
    uow = ctx.uow()
    async with uow:
        creates = await uow.sagas.unfinished_creates(start, 10_000)
    for saga in creates:
        if saga.status == "running" or await ctx.reads.get(saga.booking_id) is not None:
            report.in_flight += saga.status == "running"
            continue
        for owner in _never_stored(saga):
            report.checked += 1
            view = await _view(ctx, owner)
            found = drifts.of_unknown_booking(owner, view)
            report.drifts += found
            if fix and any(d.fixable for d in found):
                report.fixes[owner] = await _attempt(_compensate_unknown(ctx, owner, view))
    for kind in drifts.KINDS:
        RECONCILE_DRIFTS.labels(kind).set(sum(d.kind == kind for d in report.drifts))
    return report


def _never_stored(saga: Saga) -> list[str]:
    """The ids the peers know a create saga's work by: the booking's; a group's own (its intent) and
    each of its items' (their holds)."""
    if saga.kind == "group_create":
        return [saga.booking_id, *(item["booking_id"] for item in saga.data["items"])]
    return [saga.booking_id]


async def _check(ctx: Context, report: Report, booking: Booking, fix: bool) -> None:
    if booking.saga_id is not None:
        report.in_flight += 1
        return
    view = await _view(ctx, booking.booking_id)
    found = drifts.of_booking(booking, view)
    if found and await _moved(ctx, booking):
        report.in_flight += 1  # it changed while the peers were read: they may show that change
        return
    report.checked += 1
    report.drifts += found
    if fix and any(d.fixable for d in found):
        report.fixes[booking.booking_id] = await _attempt(_repair(ctx, booking, found, view))


async def _moved(ctx: Context, booking: Booking) -> bool:
    """Whether the booking changed, or a saga took it, since it was read: a drift found against that
    read may be nothing but the change in progress (an expiry voiding and releasing, say)."""
    now = await ctx.reads.get(booking.booking_id)
    return now is None or now.version != booking.version or now.saga_id is not None


async def _view(ctx: Context, booking_id: str) -> PeerView:
    holds = await ctx.peers.inventory.reservations(booking_id)
    intents = await ctx.peers.payments.intents(booking_id)
    refunds = {i.intent_id: await ctx.peers.payments.refunds(i.intent_id) for i in intents if i.captured}
    return PeerView(holds, intents, refunds)


async def _attempt(job: Awaitable[None]) -> str:
    try:
        await job
    except BookingError as error:
        return f"not fixed: {error.message}"
    return "fixed"


async def _repair(ctx: Context, booking: Booking, found: list[Drift], view: PeerView) -> None:
    """Settles a stored booking's fixable drifts through the sagas."""
    strays = [h for h in view.holds if h.held and h.reservation_id != booking.inventory_reservation_id]
    run = f"reconcile-{uuid.uuid4().hex[:12]}"
    for hold in strays:  # a second reserve's hold (another key), never the booking's
        await ctx.peers.inventory.release(
            step_key(booking.booking_id, f"{run}-release-{hold.reservation_id}"), hold.reservation_id
        )
    kinds = {d.kind for d in found if d.fixable}
    if booking.status in TERMINAL:
        if kinds - {"hold_without_active_booking"} or any(
            h.held and h.reservation_id == booking.inventory_reservation_id for h in view.holds
        ):
            await _release_again(ctx, booking)  # it records a refund made whose answer was lost
    elif "capture_not_recorded" in kinds or "void_not_recorded" in kinds:
        await _record_payment(ctx, booking)


async def _release_again(ctx: Context, booking: Booking) -> None:
    """Gives the closed booking a release saga again, and runs it."""
    uow = ctx.uow()
    async with uow:
        current = await _as_checked(uow, booking)
        saga = await release.close(ctx, uow, current, again=True)
        await uow.bookings.save(current)
        await uow.commit()
    if saga is not None:
        await release.run(ctx, saga)


async def _record_payment(ctx: Context, booking: Booking) -> None:
    """An active booking whose payment the record lags: a PENDING one paid is confirmed (as the
    confirm saga's recovery does); otherwise the capture or void is recorded."""
    intent = await ctx.peers.payments.get(booking.payment_intent_id)
    saga = None
    uow = ctx.uow()
    async with uow:
        current = await _as_checked(uow, booking)
        if current.status is BookingStatus.PENDING and intent.captured:
            saga = steps.new_saga(ctx, "confirm", booking.booking_id, {"intent_id": intent.intent_id})
            current.saga_id = saga.saga_id
            await uow.sagas.add(saga)
        elif intent.captured:
            current.record_capture(
                current.capture_share(intent.amount), "capture found by reconciliation", ctx.clock()
            )
        elif intent.status == "canceled":
            current.record_void("void found by reconciliation", ctx.clock())
        await uow.bookings.save(current)
        await uow.commit()
    if saga is not None:
        await recovery.RECOVER["confirm"](ctx, saga)


async def _as_checked(uow: UnitOfWork, booking: Booking) -> Booking:
    """The booking as stored, if it is still as checked and no saga holds it (raises VersionMismatch,
    Contention: the fix is left for the next run)."""
    current = await uow.bookings.get(booking.booking_id)
    assert current is not None
    current.ensure_version(booking.version)
    current.ensure_free()
    return current


async def _compensate_unknown(ctx: Context, booking_id: str, view: PeerView) -> None:
    """Releases the live holds and voids the open intents of a booking never stored (as the create
    saga's compensation does, with keys of this run's own: the peers answer a key they know with its
    first answer)."""
    run = f"reconcile-{uuid.uuid4().hex[:12]}"
    for hold in view.holds:
        if hold.held:
            key = step_key(booking_id, f"{run}-release-{hold.reservation_id}")
            await ctx.peers.inventory.release(key, hold.reservation_id)
    for intent in view.intents:
        if intent.status == "requires_confirmation":
            await ctx.peers.payments.cancel(
                step_key(booking_id, f"{run}-void-{intent.intent_id}"), intent.intent_id
            )
    log.warning("compensated a booking never stored", extra={"booking_id": booking_id})
