"""Idempotency keys belong to their caller, as Stripe's belong to an account.

With tokens on, caller B sending the key caller A used is a new key: B's request runs for B (never
A's stored booking, with A's guest, handed to B) and is not refused as a reuse. In an open service
`x-actor` is only a claim, so every caller is one and shares the keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from booking.v1 import booking_pb2 as pb
from cryptography.hazmat.primitives.asymmetric import rsa

from booking_service.bootstrap import Application
from tests.e2e.test_auth import ALL, Secured, _secured, bearer

Make = Callable[..., pb.CreateBookingRequest]


@pytest.fixture
async def secured(app: Application) -> AsyncIterator[Secured]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async for value in _secured(app, key, None):
        yield value


def _unitless(new_booking: Make, key: str, name: str = "Ada Lovelace") -> pb.CreateBookingRequest:
    """A booking of a venue's capacity (no unit), so that two of them can both be made."""
    request = new_booking(unit_id="", idempotency_key=key)
    request.guest.name = name
    return request


async def test_another_callers_key_with_the_same_request_runs_for_that_caller(
    secured: Secured, new_booking: Make
) -> None:
    alice = bearer(secured.token("bookings.write", subject="svc-alice"))
    bob = bearer(secured.token("bookings.write", subject="svc-bob"))
    request = _unitless(new_booking, "shared-key-1")
    first = await secured.stub.CreateBooking(request, metadata=alice)
    theirs = await secured.stub.CreateBooking(request, metadata=bob)
    assert theirs.booking_id != first.booking_id
    read = bearer(secured.token(ALL))
    stored = await secured.stub.GetBooking(pb.GetBookingRequest(booking_id=theirs.booking_id), metadata=read)
    assert [entry.actor for entry in stored.history] == ["svc-bob"]
    # Each caller's own retry still replays its own first answer.
    assert (await secured.stub.CreateBooking(request, metadata=alice)).booking_id == first.booking_id
    assert (await secured.stub.CreateBooking(request, metadata=bob)).booking_id == theirs.booking_id


async def test_another_callers_key_with_another_request_is_not_refused(
    secured: Secured, new_booking: Make
) -> None:
    alice = bearer(secured.token("bookings.write", subject="svc-alice"))
    bob = bearer(secured.token("bookings.write", subject="svc-bob"))
    first = await secured.stub.CreateBooking(_unitless(new_booking, "shared-key-2"), metadata=alice)
    other = _unitless(new_booking, "shared-key-2", name="Grace Hopper")
    theirs = await secured.stub.CreateBooking(other, metadata=bob)
    assert theirs.booking_id != first.booking_id
    assert theirs.guest.name == "Grace Hopper"
    # A change keyed like another caller's change is the caller's own, too.
    cancel = pb.CancelBookingRequest(booking_id=theirs.booking_id, expected_version=1, idempotency_key="k")
    await secured.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=first.booking_id, expected_version=1, idempotency_key="k"),
        metadata=alice,
    )
    assert (await secured.stub.CancelBooking(cancel, metadata=bob)).status == pb.BOOKING_STATUS_CANCELLED


async def test_in_an_open_service_every_caller_is_one(stub, new_booking: Make) -> None:
    request = _unitless(new_booking, "open-key")
    first = await stub.CreateBooking(request, metadata=(("x-actor", "front-desk"),))
    again = await stub.CreateBooking(request, metadata=(("x-actor", "web-shop"),))
    assert again.booking_id == first.booking_id
