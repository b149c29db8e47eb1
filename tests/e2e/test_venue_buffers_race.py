"""Turnover buffers under real concurrency: the database's exclusion constraint compares blocked
times ([start - buffer before, end + buffer after)), so of 30 creates racing either side of a
buffered booking only those outside its buffers win, and one per slot.

Seeded: VENUE_BUFFER_SEED=N replays a run; the seed is in every failure's message.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_pb2 as pb

from tests.conftest import NOW
from tests.e2e.test_concurrency import outcomes
from tests.e2e.test_venue_policy import policy_request
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
DAY = NOW.replace(hour=0) + timedelta(days=2)  # midnight UTC
HELD = (DAY + timedelta(hours=12), DAY + timedelta(hours=13))
BUFFER = timedelta(minutes=20)
SLOT = timedelta(minutes=10)
#: 10-minute slots that never overlap one another, 10:30 to 14:30 UTC.
GRID = [DAY + timedelta(hours=10, minutes=30) + i * SLOT for i in range(24)]
#: Always raced: the last slot that ends where the buffer begins, the first inside it, the last
#: inside it, the first that starts where the buffer ends.
EDGES = [HELD[0] - BUFFER - SLOT, HELD[0] - BUFFER, HELD[1] + BUFFER - SLOT, HELD[1] + BUFFER]


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("VENUE_BUFFER_SEED") or time.time_ns() % 1_000_000)


async def test_racing_creates_either_side_of_a_buffered_booking(stub, new_booking: Make, seed: int) -> None:
    rng = random.Random(seed)
    template = new_booking(start_time=HELD[0], end_time=HELD[1])
    venue = template.venue.venue_id
    await stub.UpdateVenuePolicy(policy_request(venue, buffer_before=BUFFER, buffer_after=BUFFER))
    held = await stub.CreateBooking(template)
    # The racers are made without buffers of their own (the venue drops them): only the held
    # booking's frozen buffers stand between them and the unit.
    await stub.UpdateVenuePolicy(
        policy_request(venue, 1, buffer_before=timedelta(0), buffer_after=timedelta(0))
    )
    starts = EDGES + rng.sample([s for s in GRID if s not in EDGES], 11)
    requests = []
    for i, start in enumerate(starts * 2):
        request = new_booking(start_time=start, end_time=start + SLOT)
        request.guest.guest_id = f"{template.guest.guest_id}-{i}"
        requests.append(request)
    rng.shuffle(requests)
    results = await outcomes([stub.CreateBooking(r) for r in requests])
    won = sorted(r.start_time.ToDatetime().time() for r in results if isinstance(r, pb.Booking))
    lost = {
        (e.code, e.reason) for e in (rich_error(r) for r in results if isinstance(r, grpc.aio.AioRpcError))
    }
    blocked = (HELD[0] - BUFFER, HELD[1] + BUFFER)
    outside = sorted(s.time() for s in starts if s + SLOT <= blocked[0] or s >= blocked[1])
    note = f"seed {seed} (replay with VENUE_BUFFER_SEED={seed}); raced {sorted(s.time() for s in starts)}"
    assert won == outside, note
    assert lost <= {
        (grpc.StatusCode.ALREADY_EXISTS, "UNIT_UNAVAILABLE"),
        (grpc.StatusCode.FAILED_PRECONDITION, "SOLD_OUT"),
    }, note
    listed = await stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=venue, page_size=100))
    assert len(listed.bookings) == len(outside) + 1, note
    assert held.booking_id in {b.booking_id for b in listed.bookings}, note
