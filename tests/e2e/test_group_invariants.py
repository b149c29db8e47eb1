"""Booking groups under random operations and injected peer faults: a seeded test. Groups of one to
four rooms over a few overlapping slots (so units collide), and between them, in any order: group
cancellations, single-item cancels (CancelBooking on one item), confirmations of items (each takes
the group's whole intent: a late capture when a sibling closed before), payments that land at the
payment service behind this service's back (a guest's payment page), and time passing (PENDING
items fall due and a read settles them); a fault before or after the work on a random peer step.

After the recovery worker has run, the database and the sandbox's state must agree
(groups_support.check_groups): no unit double-booked, no orphan hold, intent or charge, every group
stored with all its items, and, per group, the items' money records say what the payment service
did: the sum over the items of (captured - refunded) is what it holds net for the intent, no closed
item holds more than its frozen policy keeps, a voided intent is VOIDED on every item.
Reconciliation then finds nothing but the payments made behind the service's back, and --fix
settles those. A failure prints the seed: run it again with `--invariant-seed N` (or
INVARIANT_SEED=N). `--long` runs 25 rounds (seeds N, N+1, ...)."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_group_pb2 as gpb
from booking.v1 import booking_pb2 as pb
from sqlalchemy import text

from booking_service.sandbox.state import Refused
from booking_service.service_layer.reconcile.drifts import Drift
from booking_service.service_layer.reconcile.run import reconcile
from tests.e2e.groups_support import HOTEL_START, check_groups, group_request
from tests.e2e.peers_support import World, world
from tests.helpers import rich_error

OPERATIONS = 40
#: Rounds of OPERATIONS with --long (seeds N, N+1, ...; each round a venue of its own).
LONG_ROUNDS = 25
#: Operations and their weights.
OPS = {"create": 3, "cancel": 1, "cancel_item": 2, "confirm": 2, "pay_outside": 1, "tick": 1}
FAULTS = [
    ("/api/v1/inventory/reserve", "error"),
    ("/api/v1/inventory/reserve", "error_after"),
    ("/api/v1/payments/intents", "error_after"),
    ("/api/v1/payments/intents", "error"),
    ("/api/v1/pricing/calculate", "error"),
    ("/api/v1/inventory/release", "error"),
    ("/api/v1/payments/refunds", "error"),
]
#: Answers an operation may get; anything else is a failure of the test.
EXPECTED = {
    "UNIT_UNAVAILABLE",
    "SOLD_OUT",
    "PEER_UNAVAILABLE",
    "VERSION_MISMATCH",
    "CONTENTION",
    "INVALID_TRANSITION",
    "PAYMENT_REQUIRED",
    "AWAITING_OPERATOR",
}


async def test_random_groups_with_faults_keep_the_invariants(
    database_url: str,
    settings,
    sandbox,
    request: pytest.FixtureRequest,  # type: ignore[no-untyped-def]
) -> None:
    seed: int = request.config.invariant_seed  # type: ignore[attr-defined]
    rounds = LONG_ROUNDS if request.config.getoption("--long") else 1
    print(f"group invariant test: seed {seed}, {rounds} x {OPERATIONS} operations")
    async with world(database_url, settings, sandbox) as w:
        for round_seed in range(seed, seed + rounds):  # each round a venue of its own
            await _round(w, round_seed)


async def _round(w: World, seed: int) -> None:
    rng = random.Random(seed)
    venue = f"random-groups-{uuid.uuid4().hex[:8]}"
    log: list[str] = []
    try:
        await w.admin.post("/admin/capacity", json={"venue_id": venue, "capacity": 10})
        groups: dict[str, pb.BookingGroup] = {}
        paid_outside: set[str] = set()
        for step in range(OPERATIONS):
            op = rng.choices(list(OPS), weights=list(OPS.values()))[0]
            if rng.random() < 0.35:
                path, mode = rng.choice(FAULTS)
                count = rng.randint(1, 3)
                await w.fail_next(path, mode, count)
                log.append(f"{step}: fault {mode} x{count} on {path}")
            log.append(f"{step}: {op} -> {await _run(w, rng, op, venue, groups, paid_outside)}")
            await w.admin.post("/admin/reset", json={})
        await _settle(w)
        await _reconciled(w, set(groups), paid_outside, log)
        await check_groups(w, venue)
        await _all_or_nothing(w, venue)
        assert any("created" in line for line in log), "no group was ever created"
    except BaseException:
        print(f"group invariant test: seed {seed} (rerun with --invariant-seed {seed})\n" + "\n".join(log))
        raise


async def _run(
    w: World,
    rng: random.Random,
    op: str,
    venue: str,
    groups: dict[str, pb.BookingGroup],
    paid_outside: set[str],
) -> str:
    try:
        if op == "create" or not groups:
            rooms = rng.sample([f"room-{i}" for i in range(10)], rng.randint(1, 4))
            units = [(room, HOTEL_START + timedelta(days=rng.choice(range(0, 12, 2)))) for room in rooms]
            group = await w.stub.CreateBookingGroup(group_request(venue, units))
            groups[group.group_id] = group
            return f"created {group.group_id} {rooms}"
        group = groups[rng.choice(sorted(groups))]
        if op == "cancel":
            current = await w.stub.GetBookingGroup(gpb.GetBookingGroupRequest(group_id=group.group_id))
            version = current.version if rng.random() < 0.8 else group.version  # sometimes stale
            cancelled = await w.stub.CancelBookingGroup(
                gpb.CancelBookingGroupRequest(group_id=group.group_id, expected_version=version)
            )
            groups[group.group_id] = cancelled
            return f"cancelled {group.group_id}"
        if op == "pay_outside":
            return _pay_outside(w, group, paid_outside)
        if op == "tick":
            w.clock.advance(timedelta(minutes=rng.choice([5, 20])))  # PENDING items fall due after 15
            read = await w.stub.GetBookingGroup(gpb.GetBookingGroupRequest(group_id=group.group_id))
            statuses = [
                pb.BookingStatus.Name(b.status).removeprefix("BOOKING_STATUS_") for b in read.bookings
            ]
            return f"tick, read {group.group_id}: {statuses}"
        item = rng.choice(list(group.bookings))
        current = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=item.booking_id))
        if op == "cancel_item":
            await w.stub.CancelBooking(
                pb.CancelBookingRequest(booking_id=item.booking_id, expected_version=current.version)
            )
            return f"cancelled item {item.booking_id} of {group.group_id}"
        await w.stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=item.booking_id,
                expected_version=current.version,
                status=pb.BOOKING_STATUS_CONFIRMED,
            )
        )
        return f"confirmed {item.booking_id} of {group.group_id}"
    except grpc.aio.AioRpcError as error:
        refused = rich_error(error)
    assert refused.reason in EXPECTED, f"unexpected {refused.code} {refused.reason}: {refused.message}"
    return f"refused {refused.reason}"


def _pay_outside(w: World, group: pb.BookingGroup, paid_outside: set[str]) -> str:
    """The guest pays the group's intent at the payment service itself (its payment page): this
    service learns of it later (a confirmation, an expiry, a release, or reconciliation)."""
    intent = w.sandbox.state.payments.intents[group.payment_intent_id]
    if intent.status != "requires_confirmation":
        return f"intent of {group.group_id} is {intent.status}: nothing to pay"
    try:
        w.sandbox.state.payments.confirm(group.payment_intent_id)
    except Refused as refused:
        return f"payment page refused: {refused.code}"
    paid_outside.add(group.group_id)
    return f"paid {group.group_id} at the payment service"


async def _settle(w: World) -> None:
    """Every saga left behind is finished or compensated (the breaker's interval passed first)."""
    await asyncio.sleep(0.6)
    for _ in range(6):
        if not await w.recover():
            return
    raise AssertionError("sagas still due after six recoveries")


async def _reconciled(w: World, group_ids: set[str], paid_outside: set[str], log: list[str]) -> None:
    """Reconciliation finds drift only in groups paid behind the service's back (nothing told it),
    and --fix settles all of it."""
    ctx = w.app.use_cases.ctx

    async def ours() -> list[Drift]:
        report = await reconcile(ctx, timedelta(days=30))
        found = []
        for drift in report.drifts:
            booking = await ctx.reads.get(drift.booking_id)
            group_id = booking.group_id if booking is not None else drift.booking_id
            if group_id in group_ids:
                found.append(drift)
                log.append(f"drift in group {group_id}: {drift}")
        return found

    found = await ours()
    explained = set()
    for drift in found:
        booking = await ctx.reads.get(drift.booking_id)
        explained.add(booking.group_id if booking is not None else drift.booking_id)
    assert explained <= paid_outside, f"drift no outside payment explains: {found}"
    if found:
        await reconcile(ctx, timedelta(days=30), fix=True)
        await _settle(w)
        assert await ours() == [], "drift left after reconcile --fix"


async def _all_or_nothing(w: World, venue: str) -> None:
    """Every group was stored with all its items (each item's own lifecycle may close it since)."""
    async with w.app.engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT g.group_id::text, cardinality(g.booking_ids), count(b.booking_id)"
                    " FROM booking_groups g LEFT JOIN bookings b ON b.group_id = g.group_id"
                    " WHERE g.venue_id = :v GROUP BY g.group_id"
                ),
                {"v": venue},
            )
        ).all()
    for group_id, listed, stored in rows:
        assert listed == stored, f"group {group_id} lists {listed} items, {stored} stored"
