"""Reconciling a booking group's one payment intent with its items (group_drifts.py says what
drifts), once per group whose items were checked (run.py).

The group's intents are those the payment service holds under the group's id: its own, and any
other (one a create opened whose answer was lost, say), which is a booking never stored as far as
money goes. A group one of whose items a saga holds is in flight and skipped, and so is one whose
items changed while the payment service was read.

`--fix`, through the sagas: an item whose record lags what the payment service did (a capture or
void it does not record, a refund left pending) gets what fixes.repair gives a booking (a closed
item a release again, an active one the void recorded); an open intent once every item is closed
is voided by releasing an item again (the release of the last active item voids it, and the
group's shares follow: groups/shares.py); another open intent of the group's id is voided as a
booking never stored would be. The rest needs an operator.
"""

from __future__ import annotations

from booking_service.domain.group import BookingGroup
from booking_service.domain.status import TERMINAL
from booking_service.service_layer.context import Context
from booking_service.service_layer.peers import Intent
from booking_service.service_layer.reconcile import drifts, fixes, group_drifts
from booking_service.service_layer.reconcile.drifts import Drift, PeerView
from booking_service.service_layer.reconcile.report import Report

OPEN = "open_intent_on_closed_booking"


async def check(ctx: Context, report: Report, group_id: str, fix: bool) -> None:
    """Compares the group's intents with its items; with `fix`, settles what can be settled, then
    reads the peers again: a drift is fixed when it is gone (a fix of one item may settle another's,
    through the group's shares)."""
    group = await _read(ctx, group_id)
    if group is None or not group.payment_intent_id:
        return
    if any(item.saga_id is not None for item in group.bookings):
        report.in_flight += 1
        return
    found, stray = await _drifts(ctx, group)
    if found and _moved(group, await _read(ctx, group_id)):
        report.in_flight += 1  # it changed while the payment service was read
        return
    report.drifts += found
    if not fix or not any(d.fixable for d in found):
        return
    failures = await _fix(ctx, group, found, stray)
    after = await _read(ctx, group_id)
    left = {d.booking_id: d for d in (await _drifts(ctx, after))[0]} if after is not None else {}
    for owner in {d.booking_id for d in found if d.fixable}:
        if owner in failures:
            report.fixed(owner, failures[owner])
        else:
            report.fixed(owner, f"not fixed: {left[owner].kind} is left" if owner in left else "fixed")


async def _drifts(ctx: Context, group: BookingGroup) -> tuple[list[Drift], PeerView]:
    """The group's drifts, and the intents of its id that are not its own (a view of them)."""
    payments = ctx.peers.payments
    found: list[Drift] = []
    others: list[Intent] = []
    own = False
    for intent in await payments.intents(group.group_id):
        if intent.intent_id != group.payment_intent_id:
            others.append(intent)
            continue
        own = True
        refunds = await payments.refunds(intent.intent_id) if intent.captured else []
        found += group_drifts.of_group(group.group_id, group.bookings, intent, refunds)
    if not own:
        found += group_drifts.intent_unknown(group.payment_intent_id, group.bookings)
    stray = PeerView((), others, {})
    return found + drifts.of_unknown_booking(group.group_id, stray), stray


async def _fix(ctx: Context, group: BookingGroup, found: list[Drift], stray: PeerView) -> dict[str, str]:
    """Settles the fixable drifts; returns what could not be tried, by owner."""
    failures: dict[str, str] = {}
    for item in group.bookings:
        mine = [d for d in found if d.booking_id == item.booking_id]
        current = await ctx.reads.get(item.booking_id)
        if not any(d.fixable for d in mine) or current is None or current.version != item.version:
            continue  # nothing to fix, or a fix of another item settled it meanwhile (its shares)
        outcome = await fixes.attempt(fixes.repair(ctx, item, mine, PeerView((), (), {})))
        if outcome != "fixed":
            failures[item.booking_id] = outcome
    open_ones = [d for d in found if d.booking_id == group.group_id and d.kind == OPEN]
    if any(d.detail.startswith(f"intent {group.payment_intent_id} ") for d in open_ones):
        now = await _read(ctx, group.group_id)
        closed = [item for item in now.bookings if item.status in TERMINAL] if now is not None else []
        outcome = await fixes.attempt(fixes.release_again(ctx, closed[0])) if closed else "fixed"
        if outcome != "fixed":
            failures[group.group_id] = outcome
    if stray.intents and open_ones:
        outcome = await fixes.attempt(fixes.compensate_unknown(ctx, group.group_id, stray))
        if outcome != "fixed":
            failures[group.group_id] = outcome
    return failures


async def _read(ctx: Context, group_id: str) -> BookingGroup | None:
    uow = ctx.uow()
    async with uow:
        return await uow.groups.get(group_id)


def _moved(before: BookingGroup, now: BookingGroup | None) -> bool:
    """Whether an item changed, or a saga took one, since the group was read."""
    if now is None:
        return True
    versions = {(b.booking_id, b.version) for b in before.bookings}
    return versions != {(b.booking_id, b.version) for b in now.bookings} or any(
        b.saga_id is not None for b in now.bookings
    )
