"""Booking groups under random operations and injected peer faults: a seeded test. Groups of one to
four rooms over a few overlapping slots (so units collide), cancellations, confirmations of items,
and a fault before or after the work on a random peer step. After the recovery worker has run, the
database and the sandbox's state must agree (groups_support.check_groups: no unit double-booked, no
orphan hold, intent or charge) and every group is all active or all released. A failure prints the
seed: run it again with `--invariant-seed N` (or INVARIANT_SEED=N)."""

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

from booking_service.domain.status import ACTIVE
from tests.e2e.groups_support import HOTEL_START, check_groups, group_request
from tests.e2e.peers_support import World, world
from tests.helpers import rich_error

OPERATIONS = 40
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
}


async def test_random_groups_with_faults_keep_the_invariants(
    database_url: str,
    settings,
    sandbox,
    request: pytest.FixtureRequest,  # type: ignore[no-untyped-def]
) -> None:
    seed: int = request.config.invariant_seed  # type: ignore[attr-defined]
    rng = random.Random(seed)
    venue = f"random-groups-{uuid.uuid4().hex[:8]}"
    log: list[str] = []
    print(f"group invariant test: seed {seed}, {OPERATIONS} operations")
    try:
        async with world(database_url, settings, sandbox) as w:
            await w.admin.post("/admin/capacity", json={"venue_id": venue, "capacity": 10})
            groups: dict[str, pb.BookingGroup] = {}
            for step in range(OPERATIONS):
                op = rng.choice(["create", "create", "create", "cancel", "confirm"])
                if rng.random() < 0.35:
                    path, mode = rng.choice(FAULTS)
                    count = rng.randint(1, 3)
                    await w.fail_next(path, mode, count)
                    log.append(f"{step}: fault {mode} x{count} on {path}")
                log.append(f"{step}: {op} -> {await _run(w, rng, op, venue, groups)}")
                await w.admin.post("/admin/reset", json={})
            await _settle(w)
            await check_groups(w, venue)
            await _all_or_nothing(w, venue)
            assert any("created" in line for line in log), "no group was ever created"
            print("\n".join(log))
    except BaseException:
        print(f"group invariant test: seed {seed}\n" + "\n".join(log))
        raise


async def _run(w: World, rng: random.Random, op: str, venue: str, groups: dict[str, pb.BookingGroup]) -> str:
    try:
        if op == "create" or not groups:
            rooms = rng.sample([f"room-{i}" for i in range(10)], rng.randint(1, 4))
            units = [(room, HOTEL_START + timedelta(days=rng.choice(range(0, 12, 2)))) for room in rooms]
            group = await w.stub.CreateBookingGroup(group_request(venue, units))
            groups[group.group_id] = group
            return f"created {group.group_id} {rooms}"
        group = groups[rng.choice(sorted(groups))]
        if op == "cancel":
            cancelled = await w.stub.CancelBookingGroup(
                gpb.CancelBookingGroupRequest(group_id=group.group_id, expected_version=group.version)
            )
            groups[group.group_id] = cancelled
            return f"cancelled {group.group_id}"
        item = rng.choice(list(group.bookings))
        current = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=item.booking_id))
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


async def _settle(w: World) -> None:
    """Every saga left behind is finished or compensated (the breaker's interval passed first)."""
    await asyncio.sleep(0.6)
    for _ in range(6):
        if not await w.recover():
            return
    raise AssertionError("sagas still due after six recoveries")


async def _all_or_nothing(w: World, venue: str) -> None:
    async with w.app.engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT g.group_id::text, array_agg(b.status) FROM booking_groups g"
                    " JOIN bookings b ON b.group_id = g.group_id WHERE g.venue_id = :v GROUP BY g.group_id"
                ),
                {"v": venue},
            )
        ).all()
    active = {s.value for s in ACTIVE}
    for group_id, statuses in rows:
        assert len({s in active for s in statuses}) == 1, f"group {group_id} is half active: {statuses}"
