"""Coordinating inventory, pricing and payments (the sandbox peers, real HTTP on loopback): the happy
paths, a fault at every step of every saga, and the breaker. After each, the systems agree."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_pb2 as pb
from sqlalchemy import text

from booking_service.domain.deadlines import Deadlines
from booking_service.domain.model import Booking
from booking_service.domain.reference import new_reference
from booking_service.domain.values import Guest, TimeSlot, Venue, VenueType
from tests.conftest import NOW
from tests.e2e.peers_support import World, assert_converged, hotel_booking, world
from tests.helpers import API, rich_error

Make = Callable[..., pb.CreateBookingRequest]
S = pb.BookingStatus


@pytest.fixture
async def w(database_url: str, settings, sandbox) -> AsyncIterator[World]:
    async with world(database_url, settings, sandbox) as running:
        yield running


async def fails(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    return raised.value


async def confirm(w: World, booking: pb.Booking) -> pb.Booking:
    return await w.stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking.booking_id, expected_version=booking.version, status=S.BOOKING_STATUS_CONFIRMED
        )
    )


# --- happy paths --------------------------------------------------------------------------------------


async def test_a_hotel_stay_is_priced_held_paid_and_refunded(w: World, new_booking: Make) -> None:
    request = hotel_booking(new_booking)
    booking = await w.stub.CreateBooking(request)
    assert (booking.price.amount_minor, booking.price.currency) == (24000, "EUR")  # two nights
    assert booking.pricing.requires_prepayment
    assert booking.pricing.quote_id
    assert booking.pricing.cancellation.fee_percent == 50
    hold = w.sandbox.state.inventory.holds[booking.inventory_reservation_id]
    assert (hold.status, hold.booking_id, hold.party_size) == ("held", booking.booking_id, 2)
    intent = w.sandbox.state.payments.intents[booking.payment_intent_id]
    assert (intent.status, intent.amount_minor) == ("requires_confirmation", 24000)

    booking = await confirm(w, booking)
    assert booking.status == S.BOOKING_STATUS_CONFIRMED
    assert intent.status == "succeeded"

    moved = pb.UpdateBookingRequest(booking_id=booking.booking_id, expected_version=booking.version)
    moved.start_time.FromDatetime(NOW + timedelta(days=12, hours=5))  # two other nights: same price
    moved.end_time.FromDatetime(NOW + timedelta(days=14, hours=1))
    booking = await w.stub.UpdateBooking(moved)
    assert hold.start == NOW + timedelta(days=12, hours=5)
    assert booking.inventory_reservation_id == hold.reservation_id

    cancelled = await w.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=booking.version)
    )
    # The answer is the cancellation as committed: the refund asked for, not yet confirmed.
    assert cancelled.refunded.amount_minor == 0
    assert cancelled.payment.refund_pending.amount_minor == 24000  # before the deadline: all
    assert [r.status for r in cancelled.payment.refunds] == [pb.REFUND_STATUS_REQUESTED]
    assert hold.status == "released"
    assert intent.refunded_minor == 24000
    # Then the payment service confirmed it: a change of its own, with its history row and event.
    refunded = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    assert refunded.version == cancelled.version + 1
    assert (refunded.refunded.amount_minor, refunded.refunded.currency) == (24000, "EUR")
    assert refunded.payment.refund_pending.amount_minor == 0
    [refund] = refunded.payment.refunds
    assert (refund.status, refund.amount.amount_minor) == (pb.REFUND_STATUS_SUCCEEDED, 24000)
    assert refund.refund_id in w.sandbox.state.payments.refunds
    assert refunded.history[-1].changed_fields == ["payment"]
    await assert_converged(w, request.venue.venue_id)


async def test_a_late_cancellation_keeps_the_fee(w: World, new_booking: Make) -> None:
    request = hotel_booking(new_booking)
    booking = await confirm(w, await w.stub.CreateBooking(request))
    w.clock.advance(timedelta(days=10))  # past 18:00 (Berlin) the day before arrival
    cancelled = await w.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=2)
    )
    assert cancelled.payment.refund_pending.amount_minor == 12000  # half of 240.00 kept
    assert w.sandbox.state.payments.intents[booking.payment_intent_id].refunded_minor == 12000
    refunded = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    assert refunded.refunded.amount_minor == 12000
    await assert_converged(w, request.venue.venue_id)


async def test_a_prepaid_stay_keeps_its_price(w: World, new_booking: Make) -> None:
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    longer = pb.UpdateBookingRequest(booking_id=booking.booking_id, expected_version=1)
    longer.end_time.FromDatetime(NOW + timedelta(days=14))
    error = rich_error(await fails(w.stub.UpdateBooking(longer)))
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "PRICE_CHANGED")
    assert w.sandbox.state.inventory.holds[
        booking.inventory_reservation_id
    ].end == booking.end_time.ToDatetime(tzinfo=NOW.tzinfo)


async def test_a_restaurant_needs_no_payment_and_completing_releases_the_table(
    w: World, new_booking: Make
) -> None:
    request = new_booking()
    booking = await w.stub.CreateBooking(request)
    assert booking.payment_intent_id == ""
    assert not booking.pricing.requires_prepayment
    for status in (S.BOOKING_STATUS_CONFIRMED, S.BOOKING_STATUS_CHECKED_IN, S.BOOKING_STATUS_COMPLETED):
        booking = await w.stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=booking.booking_id, expected_version=booking.version, status=status
            )
        )
    assert w.sandbox.state.inventory.holds[booking.inventory_reservation_id].status == "released"
    await assert_converged(w, request.venue.venue_id)


async def test_availability_asks_the_inventory_and_can_estimate(w: World, new_booking: Make) -> None:
    request = new_booking(unit_id="")
    await w.admin.post("/admin/capacity", json={"venue_id": request.venue.venue_id, "capacity": 4})
    question = pb.CheckAvailabilityRequest(
        venue_id=request.venue.venue_id,
        party_size=4,
        include_price_estimate=True,
        venue_type=pb.VENUE_TYPE_RESTAURANT,
    )
    question.start_time.CopyFrom(request.start_time)
    question.end_time.CopyFrom(request.end_time)
    answer = await w.stub.CheckAvailability(question)
    assert answer.available
    assert answer.price_estimate.amount_minor == 4 * 2500
    await w.stub.CreateBooking(request)
    answer = await w.stub.CheckAvailability(question)
    assert not answer.available
    assert [(c.source, c.available) for c in answer.checks] == [
        (pb.AVAILABILITY_SOURCE_BOOKINGS, True),
        (pb.AVAILABILITY_SOURCE_INVENTORY, False),
    ]


# --- a fault at each step -------------------------------------------------------------------------------

CREATE_FAULTS = [
    ("/api/v1/pricing/calculate", "error"),
    ("/api/v1/inventory/reserve", "error"),
    ("/api/v1/inventory/reserve", "timeout"),
    ("/api/v1/inventory/reserve", "error_after"),  # held, but the answer was lost
    ("/api/v1/payments/intents", "error"),
    ("/api/v1/payments/intents", "timeout_after"),  # opened, but the answer was lost
]


@pytest.mark.parametrize(("path", "mode"), CREATE_FAULTS)
async def test_a_create_that_fails_at_any_step_leaves_nothing_behind(
    w: World, new_booking: Make, path: str, mode: str
) -> None:
    request = hotel_booking(new_booking, idempotency_key=f"fault-{path}-{mode}-{NOW.timestamp()}")
    await w.fail_next(path, mode, count=2)  # every attempt of the step fails
    error = rich_error(await fails(w.stub.CreateBooking(request)))
    assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "PEER_UNAVAILABLE")
    listed = await w.stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=request.venue.venue_id))
    assert list(listed.bookings) == []
    await assert_converged(w, request.venue.venue_id)
    # The key was freed: the same request goes through once the peer is back.
    created = await w.stub.CreateBooking(request)
    assert created.status == S.BOOKING_STATUS_PENDING
    await assert_converged(w, request.venue.venue_id)


def squatter_for(request: pb.CreateBookingRequest) -> Booking:
    """An active booking of the request's room and time, which only the database knows of (the
    inventory never held it)."""
    return Booking.create(
        booking_id=str(uuid.uuid4()),
        reference=new_reference(),
        guest=Guest("someone", "Someone"),
        venue=Venue(request.venue.venue_id, VenueType.HOTEL, "", "Europe/Berlin"),
        unit_id=request.unit_id,
        slot=TimeSlot(
            request.start_time.ToDatetime(tzinfo=NOW.tzinfo), request.end_time.ToDatetime(tzinfo=NOW.tzinfo)
        ),
        party_size=1,
        special_requests="",
        idempotency_key="",
        actor=API,
        now=NOW,
        deadlines=Deadlines(timedelta(days=365)),
    )


async def store(w: World, booking: Booking) -> None:
    uow = w.app.use_cases.uow()
    async with uow:
        await uow.bookings.add(booking)
        await uow.commit()


async def test_a_unit_held_by_an_active_booking_is_refused_before_any_peer_is_called(
    w: World, new_booking: Make
) -> None:
    request = hotel_booking(new_booking, idempotency_key=f"early-{uuid.uuid4()}")
    await store(w, squatter_for(request))
    calls = len(w.sandbox.state.calls)
    async with w.app.engine.connect() as conn:
        sagas_before = (await conn.execute(text("SELECT count(*) FROM booking_sagas"))).scalar_one()
    error = rich_error(await fails(w.stub.CreateBooking(request)))
    assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "UNIT_UNAVAILABLE")
    assert w.sandbox.state.calls[calls:] == []  # neither priced nor held
    async with w.app.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM booking_sagas"))).scalar_one() == sagas_before
        kept = await conn.execute(
            text("SELECT count(*) FROM idempotency_keys WHERE key = :key"), {"key": request.idempotency_key}
        )
        assert kept.scalar_one() == 0


async def test_a_create_refused_by_the_database_releases_what_the_peers_gave(
    w: World, new_booking: Make
) -> None:
    request = hotel_booking(new_booking)
    # The room is taken in the database after the early check, while the payment is being opened.
    await w.faults(peer="payments", latency_ms=250)
    creating = asyncio.ensure_future(w.stub.CreateBooking(request))
    for _ in range(300):  # until the inventory holds the room
        if any(h.venue_id == request.venue.venue_id for h in w.sandbox.state.inventory.holds.values()):
            break
        await asyncio.sleep(0.01)
    await store(w, squatter_for(request))
    error = rich_error(await fails(creating))
    await w.faults(peer="payments", latency_ms=0)
    assert error.reason == "UNIT_UNAVAILABLE"
    holds = [h for h in w.sandbox.state.inventory.holds.values() if h.venue_id == request.venue.venue_id]
    assert [h.status for h in holds] == ["released"]
    intents = [i for i in w.sandbox.state.payments.intents.values() if i.booking_id == holds[0].booking_id]
    assert [i.status for i in intents] == ["canceled"]


@pytest.mark.parametrize("mode", ["error", "error_after"])
async def test_a_confirm_whose_payment_answer_is_lost_is_settled_by_recovery(
    w: World, new_booking: Make, mode: str
) -> None:
    request = hotel_booking(new_booking)
    booking = await w.stub.CreateBooking(request)
    await w.fail_next("/api/v1/payments/intents/", mode, count=2)
    error = rich_error(await fails(confirm(w, booking)))
    assert error.code is grpc.StatusCode.UNAVAILABLE
    stored = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    assert stored.status == S.BOOKING_STATUS_PENDING  # never announced CONFIRMED before the payment is known
    assert await w.recover() >= 1
    stored = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    paid = mode == "error_after"
    assert stored.status == (S.BOOKING_STATUS_CONFIRMED if paid else S.BOOKING_STATUS_PENDING)
    await assert_converged(w, request.venue.venue_id)


async def test_a_declined_payment_leaves_the_booking_pending(w: World, new_booking: Make) -> None:
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    await w.admin.post("/admin/decline-next", json={"count": 1})
    error = rich_error(await fails(confirm(w, booking)))
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "PAYMENT_DECLINED")
    assert (await confirm(w, booking)).status == S.BOOKING_STATUS_CONFIRMED  # the next card works


@pytest.mark.parametrize("mode", ["error", "error_after", "late"])
async def test_a_reschedule_that_fails_moves_the_hold_back(w: World, new_booking: Make, mode: str) -> None:
    """`late`: both attempts at the move reach the inventory only after the service gave up on them
    (and after its move back, unless the move is settled first): the hold must still end where the
    booking says."""
    request = new_booking()
    booking = await w.stub.CreateBooking(request)
    hold = w.sandbox.state.inventory.holds[booking.inventory_reservation_id]
    before = (hold.start, hold.end)
    await w.fail_next("/api/v1/inventory/update-reservation", mode, count=2)
    later = pb.UpdateBookingRequest(booking_id=booking.booking_id, expected_version=1)
    later.start_time.FromDatetime(NOW + timedelta(days=3, hours=9))
    later.end_time.FromDatetime(NOW + timedelta(days=3, hours=11))
    assert rich_error(await fails(w.stub.UpdateBooking(later))).code is grpc.StatusCode.UNAVAILABLE
    if mode == "late":
        await asyncio.sleep(2.5)  # the world's hang_seconds (2): the late moves have arrived
    assert (hold.start, hold.end) == before
    assert (await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))).version == 1
    await assert_converged(w, request.venue.venue_id)


async def test_a_cancel_with_the_peers_down_still_cancels_and_recovery_releases(
    w: World, new_booking: Make
) -> None:
    request = hotel_booking(new_booking)
    booking = await confirm(w, await w.stub.CreateBooking(request))
    await w.faults(peer="inventory", down=True)
    await w.faults(peer="payments", down=True)
    cancelled = await w.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=2)
    )
    assert cancelled.status == S.BOOKING_STATUS_CANCELLED  # the booking's end is decided
    assert w.sandbox.state.inventory.holds[booking.inventory_reservation_id].status == "held"
    await w.faults(peer="*", down=False)
    await asyncio.sleep(0.6)  # the breakers half-open
    assert await w.recover() >= 1  # (other tests' sagas in the shared database may be due too)
    assert w.sandbox.state.inventory.holds[booking.inventory_reservation_id].status == "released"
    assert w.sandbox.state.payments.intents[booking.payment_intent_id].refunded_minor == 24000
    await assert_converged(w, request.venue.venue_id)


# --- capacity and the breaker -------------------------------------------------------------------------


async def test_fifty_creates_for_the_last_ten_seats(w: World, new_booking: Make) -> None:
    template = new_booking(unit_id="", party_size=1)
    await w.admin.post("/admin/capacity", json={"venue_id": template.venue.venue_id, "capacity": 10})
    requests = []
    for i in range(50):
        request = pb.CreateBookingRequest()
        request.CopyFrom(template)
        request.guest.guest_id = f"{template.guest.guest_id}-{i}"
        requests.append(request)
    results = await asyncio.gather(*(w.stub.CreateBooking(r) for r in requests), return_exceptions=True)
    won = [r for r in results if isinstance(r, pb.Booking)]
    lost = {
        (rich_error(r).code, rich_error(r).reason) for r in results if isinstance(r, grpc.aio.AioRpcError)
    }
    assert len(won) == 10
    assert lost == {(grpc.StatusCode.FAILED_PRECONDITION, "SOLD_OUT")}
    held = [
        h
        for h in w.sandbox.state.inventory.holds.values()
        if h.venue_id == template.venue.venue_id and h.status == "held"
    ]
    assert len(held) == 10
    await assert_converged(w, template.venue.venue_id)


async def test_a_dead_peer_trips_the_breaker_and_recovers(w: World, new_booking: Make) -> None:
    request = new_booking(unit_id="")
    await w.faults(peer="inventory", down=True)
    breaker = w.app.peers[0].breaker
    for failed in range(1, 4):  # one failed create is one failed call, whatever its attempts and
        # compensations did (the inventory is asked again while compensating): 3 open the circuit
        assert rich_error(await fails(w.stub.CreateBooking(request))).code is grpc.StatusCode.UNAVAILABLE
        assert breaker.state == ("open" if failed == 3 else "closed")
    calls = len(w.sandbox.state.calls)
    error = rich_error(await fails(w.stub.CreateBooking(request)))
    assert (error.code, error.metadata.get("circuit")) == (grpc.StatusCode.UNAVAILABLE, "open")
    inventory_calls = [c for c in w.sandbox.state.calls[calls:] if "inventory" in c[1]]
    assert inventory_calls == []  # failed fast
    listed = await w.stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=request.venue.venue_id))
    assert list(listed.bookings) == []  # nothing left behind in an active state
    await w.faults(peer="inventory", down=False)
    await asyncio.sleep(0.6)
    assert (await w.stub.CreateBooking(request)).status == S.BOOKING_STATUS_PENDING
    await assert_converged(w, request.venue.venue_id)
