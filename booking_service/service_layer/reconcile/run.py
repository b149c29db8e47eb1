"""Reconciling: every booking changed in a window, and every booking whose creation did not finish,
against the peers' own view (each reservation and intent made for it, each refund of its intents).

The items of a booking group are checked as bookings for their holds; the one intent they share
(opened under the group's id) is compared with all of them at once, once per group (groups.py).

`--fix` settles what the sagas can settle, through them (fixes.py); the rest needs an operator. A
booking a saga holds right now is skipped, and so is one that changed while the peers were read
(its drift may be that change, half done).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from booking_service.domain.model import Booking
from booking_service.observability.metrics import RECONCILE_DRIFTS
from booking_service.service_layer.context import Context
from booking_service.service_layer.reconcile import drifts, fixes, groups
from booking_service.service_layer.reconcile.drifts import PeerView
from booking_service.service_layer.reconcile.report import Report
from booking_service.service_layer.sagas.log import Saga

__all__ = ["Report", "reconcile"]
PAGE = 200
#: Bookings checked at once (each reads two or three things from the peers).
IN_FLIGHT = 16


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
    for group_id in sorted(report.groups):
        await groups.check(ctx, report, group_id, fix)
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
                report.fixed(owner, await fixes.attempt(fixes.compensate_unknown(ctx, owner, view)))
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
    if booking.group_id is not None:
        report.groups.add(booking.group_id)
    if fix and any(d.fixable for d in found):
        report.fixed(booking.booking_id, await fixes.attempt(fixes.repair(ctx, booking, found, view)))


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
