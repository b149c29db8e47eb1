"""The sagas at their edges, as an adversarial review found them: answers lost at the worst moment,
operators acting on old sagas, calls cancelled after their commit. After each, the booking, the
hold and the money agree, and nothing was done twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_pb2 as pb
from sqlalchemy import text

from booking_service.adapters import unit_of_work
from booking_service.domain.values import Actor
from booking_service.service_layer.reconcile.run import reconcile
from booking_service.service_layer.sagas import operators
from tests.e2e.peers_support import World, assert_converged, hotel_booking, world
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
S = pb.BookingStatus
OPERATOR = Actor.system("ops-test")


@pytest.fixture
async def w(private_database: str, settings, sandbox) -> AsyncIterator[World]:
    async with world(private_database, settings, sandbox) as running:
        yield running


async def sagas(w: World, booking_id: str, status: str) -> list[tuple[str, str]]:
    async with w.app.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT saga_id, kind FROM booking_sagas WHERE booking_id = :b AND status = :s"
                " ORDER BY created_at"
            ),
            {"b": booking_id, "s": status},
        )
        return [(str(r.saga_id), r.kind) for r in rows]


async def get(w: World, booking_id: str) -> pb.Booking:
    return await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id))


async def confirmed_stay(w: World, new_booking: Make, **fields: object) -> pb.Booking:
    booking = await w.stub.CreateBooking(
        hotel_booking(new_booking, unit_id=f"room-{uuid.uuid4().hex[:8]}", **fields)
    )
    return await w.stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking.booking_id, expected_version=1, status=S.BOOKING_STATUS_CONFIRMED
        )
    )


async def clear_faults(w: World) -> None:
    await w.admin.post("/admin/reset", json={})
    await asyncio.sleep(0.6)  # the circuits the faults opened let a trial through


async def stuck_refund(w: World, new_booking: Make) -> pb.Booking:
    """A late cancellation (120.00 of 240.00 due back) whose refund the payment service makes but
    whose answers are lost, and whose refunds it cannot list meanwhile (to find the one made), until
    the release is given up on."""
    booking = await confirmed_stay(w, new_booking)
    w.clock.advance(timedelta(days=9, hours=12))  # past 18:00 (Berlin) the day before arrival
    await w.fail_next("/api/v1/payments/refunds", "error_after", count=2, method="POST")  # made, lost
    await w.stub.CancelBooking(pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=2))
    await w.fail_next("/api/v1/payments/refunds", "error", count=1000, method="GET")  # cannot look
    for _ in range(w.app.use_cases.ctx.saga_max_attempts + 1):
        await w.recover()
    await clear_faults(w)
    assert await sagas(w, booking.booking_id, "needs_attention") != []
    return booking


async def test_reconcile_records_a_refund_made_whose_answer_was_lost_and_does_not_pay_it_again(
    w: World, new_booking: Make
) -> None:
    booking = await stuck_refund(w, new_booking)
    intent = w.sandbox.state.payments.intents[booking.payment_intent_id]
    assert intent.refunded_minor == 12000
    await reconcile(w.app.use_cases.ctx, timedelta(hours=1), fix=True)
    assert intent.refunded_minor == 12000  # not twice
    stored = await get(w, booking.booking_id)
    assert stored.refunded.amount_minor == 12000
    assert [r.status for r in stored.payment.refunds] == [pb.REFUND_STATUS_SUCCEEDED]
    await assert_converged(w, booking.venue.venue_id)


async def test_an_operator_retry_records_a_refund_made_and_does_not_pay_it_again(
    w: World, new_booking: Make
) -> None:
    booking = await stuck_refund(w, new_booking)
    [(saga_id, _)] = await sagas(w, booking.booking_id, "needs_attention")
    assert (await operators.retry_saga(w.app.use_cases.ctx, saga_id, OPERATOR)).status == "done"
    assert w.sandbox.state.payments.intents[booking.payment_intent_id].refunded_minor == 12000
    assert (await get(w, booking.booking_id)).refunded.amount_minor == 12000


async def stuck_update(w: World, booking: pb.Booking, party_size: int) -> str:
    """A reschedule whose move lands but whose answers are lost, and whose move back keeps failing
    until the saga is given up on (the hold moved, the booking did not); its saga id."""
    await w.fail_next("/api/v1/inventory/update-reservation", "error_after", count=2)
    await w.fail_next("/api/v1/inventory/update-reservation", "error", count=1000)
    moved = pb.UpdateBookingRequest(
        booking_id=booking.booking_id, expected_version=booking.version, party_size=party_size
    )
    with pytest.raises(grpc.aio.AioRpcError):
        await w.stub.UpdateBooking(moved)
    for _ in range(w.app.use_cases.ctx.saga_max_attempts + 1):
        await w.recover()
    await clear_faults(w)
    [(saga_id, kind)] = await sagas(w, booking.booking_id, "needs_attention")
    assert kind == "update"
    return saga_id


@pytest.fixture
async def w_gives_up_at_once(private_database: str, settings, sandbox) -> AsyncIterator[World]:
    """Sagas given up on after one take-over: the clock moves little, bookings stay PENDING."""
    async with world(private_database, replace(settings, saga_max_attempts=1), sandbox) as running:
        yield running


async def test_an_operator_resolving_a_saga_waits_for_the_saga_holding_the_booking(
    w_gives_up_at_once: World, new_booking: Make
) -> None:
    w = w_gives_up_at_once
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    saga_id = await stuck_update(w, booking, 3)
    current = await get(w, booking.booking_id)
    await w.faults(peer="payments", latency_ms=250)
    confirming = asyncio.ensure_future(
        w.stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=booking.booking_id,
                expected_version=current.version,
                status=S.BOOKING_STATUS_CONFIRMED,
            )
        )
    )
    await w.holding(booking.booking_id, "confirm")
    with pytest.raises(operators.OperatorError, match="busy"):
        await operators.resolve_saga(w.app.use_cases.ctx, saga_id, "hold checked by hand", OPERATOR)
    assert (await confirming).status == S.BOOKING_STATUS_CONFIRMED  # not told ABORTED after paying
    await operators.resolve_saga(w.app.use_cases.ctx, saga_id, "hold checked by hand", OPERATOR)


async def test_resolving_one_saga_leaves_another_sagas_attention(w: World, new_booking: Make) -> None:
    booking = await confirmed_stay(w, new_booking)
    update = await stuck_update(w, booking, 3)
    current = await get(w, booking.booking_id)
    del w.sandbox.state.inventory.holds[booking.inventory_reservation_id]  # the inventory lost it
    await w.stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=current.version)
    )
    assert [kind for _, kind in await sagas(w, booking.booking_id, "needs_attention")] == [
        "update",
        "release",
    ]
    await operators.resolve_saga(w.app.use_cases.ctx, update, "nothing to move back", OPERATOR)
    assert [a.saga_kind for a in (await get(w, booking.booking_id)).attention] == ["release"]


async def test_an_operator_retry_of_an_old_reschedule_moves_the_hold_to_the_booking_as_it_is(
    w: World, new_booking: Make
) -> None:
    booking = await w.stub.CreateBooking(new_booking())
    booking = await w.stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking.booking_id, expected_version=1, status=S.BOOKING_STATUS_CONFIRMED
        )
    )
    hold = w.sandbox.state.inventory.holds[booking.inventory_reservation_id]
    saga_id = await stuck_update(w, booking, 5)  # the hold is at 5, the booking at 4
    current = await get(w, booking.booking_id)
    current = await w.stub.UpdateBooking(
        pb.UpdateBookingRequest(booking_id=booking.booking_id, expected_version=current.version, party_size=6)
    )
    assert hold.party_size == 6
    await operators.retry_saga(w.app.use_cases.ctx, saga_id, OPERATOR)
    assert hold.party_size == current.party_size == 6  # not back to 4
    await assert_converged(w, booking.venue.venue_id)


async def test_an_overdue_booking_an_operator_must_settle_refuses_every_change(
    w: World, new_booking: Make
) -> None:
    """Found: it was rescheduled in the database with no peer call, then confirmed."""
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    del w.sandbox.state.payments.intents[booking.payment_intent_id]  # the expiry will be refused
    w.clock.advance(timedelta(hours=1))
    await w.app.use_cases.sweep()
    assert [kind for _, kind in await sagas(w, booking.booking_id, "needs_attention")] == ["expire"]
    current = await get(w, booking.booking_id)
    calls = len(w.sandbox.state.calls)
    for refused in (
        w.stub.UpdateBooking(
            pb.UpdateBookingRequest(
                booking_id=booking.booking_id, expected_version=current.version, party_size=1
            )
        ),
        w.stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=booking.booking_id,
                expected_version=current.version,
                status=S.BOOKING_STATUS_CONFIRMED,
            )
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await refused
        error = rich_error(raised.value)
        assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "AWAITING_OPERATOR")
    assert len(w.sandbox.state.calls) == calls
    assert (await get(w, booking.booking_id)).version == current.version


async def test_a_late_create_compensation_keeps_a_later_requests_answer(w: World, new_booking: Make) -> None:
    """Found: recovering the first, failed create freed the key a later create had completed, and
    the next retry with that key booked the guest twice."""
    request = new_booking(unit_id="", idempotency_key=f"key-{uuid.uuid4().hex[:8]}")
    await w.fail_next("/api/v1/inventory/reserve", "error_after", count=2)  # held, answers lost
    await w.fail_next("/api/v1/inventory/release", "error", count=1000)  # no compensation for now
    with pytest.raises(grpc.aio.AioRpcError):
        await w.stub.CreateBooking(request)
    await asyncio.sleep(0.6)
    first = await w.stub.CreateBooking(request)
    await clear_faults(w)
    await w.recover()  # the failed create is compensated now
    again = await w.stub.CreateBooking(request)
    assert again.booking_id == first.booking_id
    await assert_converged(w, request.venue.venue_id)


@pytest.fixture
async def slow_commit(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Arms the n-th commit from now to be acknowledged a second late (it has committed by then):
    a call cancelled meanwhile never learns that its change was stored."""
    armed: list[int] = []
    real = unit_of_work.PostgresUnitOfWork._commit

    async def commit(self: unit_of_work.PostgresUnitOfWork) -> None:
        await real(self)
        if armed:
            armed[0] -= 1
            if armed[0] == 0:
                armed.clear()
                await asyncio.sleep(1.0)

    monkeypatch.setattr(unit_of_work.PostgresUnitOfWork, "_commit", commit)
    return lambda n: armed.append(n)


async def test_a_reschedule_cancelled_after_its_commit_keeps_the_hold_with_the_booking(
    w: World, new_booking: Make, slow_commit: Callable[[int], None]
) -> None:
    booking = await w.stub.CreateBooking(new_booking())
    hold = w.sandbox.state.inventory.holds[booking.inventory_reservation_id]
    slow_commit(3)  # the saga's start, its step, then the database step
    moved = pb.UpdateBookingRequest(booking_id=booking.booking_id, expected_version=1, party_size=6)
    with pytest.raises(grpc.aio.AioRpcError):
        await w.stub.UpdateBooking(moved, timeout=0.6)
    await asyncio.sleep(1.5)
    await w.recover()
    stored = await get(w, booking.booking_id)
    assert hold.party_size == stored.party_size == 6
    await assert_converged(w, booking.venue.venue_id)


async def test_a_confirmation_cancelled_after_its_commit_is_replayed_by_its_key(
    w: World, new_booking: Make, slow_commit: Callable[[int], None]
) -> None:
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    slow_commit(3)  # the saga's start, its capture, then the database step
    request = pb.UpdateBookingStatusRequest(
        booking_id=booking.booking_id,
        expected_version=1,
        status=S.BOOKING_STATUS_CONFIRMED,
        idempotency_key="k-1",
    )
    with pytest.raises(grpc.aio.AioRpcError):
        await w.stub.UpdateBookingStatus(request, timeout=0.6)
    await asyncio.sleep(1.5)
    replayed = await w.stub.UpdateBookingStatus(request)
    assert (replayed.status, replayed.version) == (S.BOOKING_STATUS_CONFIRMED, 2)
