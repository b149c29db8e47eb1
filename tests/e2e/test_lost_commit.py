"""A saga's last transaction whose COMMIT raised: did it commit? (steps.committed_anyway)

The service talks to PostgreSQL through a proxy (tcp_proxy.lose_commit) that loses, for real, either
the server's answer to the COMMIT (the server committed: the booking is stored, claiming its hold
and intent) or the COMMIT itself (the server never got it: nothing is stored). A stored booking
keeps its hold and payment, the request answers it (and so does a retry with its key), and nothing
drifts; one never stored leaves no hold or intent behind. With the database unreachable right
after, nothing is undone until the recovery worker can tell which it was.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import grpc
import pytest
from booking.v1 import booking_pb2 as pb
from sqlalchemy import text

from booking_service.service_layer.reconcile.run import reconcile
from tests.e2e.groups_support import check_groups, group_request
from tests.e2e.peers_support import World, assert_converged, hotel_booking, world
from tests.e2e.tcp_proxy import TcpProxy

Make = Callable[..., pb.CreateBookingRequest]
S = pb.BookingStatus
#: The statement of a create's (and a group create's) last transaction.
STORES_A_BOOKING = b"INSERT INTO bookings ("
#: A statement of every transaction that changes a booking (its events, to the outbox).
CHANGES_A_BOOKING = b"INSERT INTO booking_outbox ("


@pytest.fixture
async def proxy(private_database: str) -> AsyncIterator[TcpProxy]:
    running = TcpProxy.before(private_database)
    await running.start()
    yield running
    await running.close()


@pytest.fixture
async def w(private_database: str, proxy: TcpProxy, settings, sandbox) -> AsyncIterator[World]:
    """The service on a database of the test's own (reconciliation reads every booking), through
    the proxy."""
    async with world(proxy.url(private_database), settings, sandbox) as running:
        yield running


def key() -> str:
    return f"key-{uuid.uuid4().hex[:10]}"


async def unavailable(call: object) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE, raised.value


async def saga_statuses(w: World, booking_id: str) -> list[tuple[str, str]]:
    async with w.app.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT kind, status FROM booking_sagas WHERE booking_id = :b ORDER BY created_at"),
            {"b": booking_id},
        )
        return [(r.kind, r.status) for r in rows]


async def stored(w: World, booking_id: str) -> bool:
    async with w.app.engine.connect() as connection:
        found = await connection.scalar(
            text("SELECT count(*) FROM bookings WHERE booking_id = :b"), {"b": booking_id}
        )
    return bool(found)


async def no_drift(w: World, venue_id: str) -> None:
    report = await reconcile(w.app.use_cases.ctx, timedelta(hours=1))
    assert report.drifts == []
    await assert_converged(w, venue_id)


def kept(w: World, booking: pb.Booking) -> None:
    """The peers still hold what the stored booking claims: its hold, its open intent."""
    hold = w.sandbox.state.inventory.holds[booking.inventory_reservation_id]
    assert (hold.booking_id, hold.status) == (booking.booking_id, "held")
    intent = w.sandbox.state.payments.intents[booking.payment_intent_id]
    assert intent.status == "requires_confirmation"


def left_behind(w: World, venue_id: str) -> tuple[list[str], list[str]]:
    """The statuses of the venue's holds, and of the intents opened for them."""
    holds = [h for h in w.sandbox.state.inventory.holds.values() if h.venue_id == venue_id]
    owners = {h.booking_id for h in holds}
    intents = [i for i in w.sandbox.state.payments.intents.values() if i.booking_id in owners]
    return [h.status for h in holds], [i.status for i in intents]


async def test_a_create_whose_commit_answer_is_lost_answers_its_booking(
    w: World, proxy: TcpProxy, new_booking: Make
) -> None:
    request = hotel_booking(new_booking, idempotency_key=key())
    proxy.lose_commit(STORES_A_BOOKING, "answer")
    booking = await w.stub.CreateBooking(request)
    assert proxy.lost == 1
    assert (booking.status, booking.version) == (S.BOOKING_STATUS_PENDING, 1)
    kept(w, booking)
    assert await saga_statuses(w, booking.booking_id) == [("create", "done")]
    again = await w.stub.CreateBooking(request)
    assert (again.booking_id, again.version) == (booking.booking_id, 1)
    await no_drift(w, request.venue.venue_id)


async def test_a_connection_that_prepared_the_statement_before_is_watched_too(
    w: World, proxy: TcpProxy, new_booking: Make
) -> None:
    """asyncpg sends a statement's text once per connection; later uses Bind it by name."""
    await w.stub.CreateBooking(new_booking())  # the pool's connection prepares the INSERT
    proxy.lose_commit(STORES_A_BOOKING, "answer")
    booking = await w.stub.CreateBooking(new_booking(unit_id=f"table-{uuid.uuid4().hex[:8]}"))
    assert (proxy.lost, proxy.marked_by) == (1, [b"B"])
    assert await saga_statuses(w, booking.booking_id) == [("create", "done")]
    await no_drift(w, booking.venue.venue_id)


async def test_a_create_whose_commit_never_arrived_is_compensated(
    w: World, proxy: TcpProxy, new_booking: Make
) -> None:
    request = hotel_booking(new_booking, idempotency_key=key())
    proxy.lose_commit(STORES_A_BOOKING, "commit")
    await unavailable(w.stub.CreateBooking(request))
    assert proxy.lost == 1
    [hold] = [h for h in w.sandbox.state.inventory.holds.values() if h.venue_id == request.venue.venue_id]
    assert not await stored(w, hold.booking_id)
    assert left_behind(w, request.venue.venue_id) == (["released"], ["canceled"])
    assert await saga_statuses(w, hold.booking_id) == [("create", "compensated")]
    await no_drift(w, request.venue.venue_id)
    retried = await w.stub.CreateBooking(request)  # the key was given back: the retry runs afresh
    assert retried.booking_id != hold.booking_id
    kept(w, retried)
    await no_drift(w, request.venue.venue_id)


async def test_a_create_whose_commit_answer_is_lost_with_the_database_undoes_nothing(
    w: World, proxy: TcpProxy, new_booking: Make
) -> None:
    request = hotel_booking(new_booking, idempotency_key=key())
    proxy.lose_commit(STORES_A_BOOKING, "answer", then_cut=True)
    await unavailable(w.stub.CreateBooking(request))
    assert proxy.lost == 1
    assert left_behind(w, request.venue.venue_id) == (["held"], ["requires_confirmation"])
    proxy.mend()
    assert await w.recover() == 0  # the saga is done: nothing to recover
    booking = await w.stub.CreateBooking(request)  # its key's answer, stored with it
    kept(w, booking)
    await no_drift(w, request.venue.venue_id)


async def test_a_create_whose_commit_never_arrived_with_the_database_is_left_to_recovery(
    w: World, proxy: TcpProxy, new_booking: Make
) -> None:
    request = hotel_booking(new_booking, idempotency_key=key())
    proxy.lose_commit(STORES_A_BOOKING, "commit", then_cut=True)
    await unavailable(w.stub.CreateBooking(request))
    assert left_behind(w, request.venue.venue_id) == (["held"], ["requires_confirmation"])
    proxy.mend()
    assert await w.recover() == 1
    assert left_behind(w, request.venue.venue_id) == (["released"], ["canceled"])
    retried = await w.stub.CreateBooking(request)
    kept(w, retried)
    await no_drift(w, request.venue.venue_id)


async def test_a_group_create_whose_commit_answer_is_lost_answers_its_group(
    w: World, proxy: TcpProxy
) -> None:
    venue = f"hotel-{uuid.uuid4().hex[:8]}"
    request = group_request(venue, ["room-1", "room-2"], key=key())
    proxy.lose_commit(STORES_A_BOOKING, "answer")
    group = await w.stub.CreateBookingGroup(request)
    assert proxy.lost == 1
    assert [item.status for item in group.bookings] == [S.BOOKING_STATUS_PENDING] * 2
    for item in group.bookings:
        kept(w, item)
    assert await saga_statuses(w, group.group_id) == [("group_create", "done")]
    again = await w.stub.CreateBookingGroup(request)
    assert again.group_id == group.group_id
    await check_groups(w, venue)
    await no_drift(w, venue)


async def test_a_reschedule_whose_commit_answer_is_lost_answers_the_moved_booking(
    w: World, proxy: TcpProxy, new_booking: Make
) -> None:
    booking = await w.stub.CreateBooking(new_booking())
    hold = w.sandbox.state.inventory.holds[booking.inventory_reservation_id]
    moved = pb.UpdateBookingRequest(
        booking_id=booking.booking_id, expected_version=1, party_size=6, idempotency_key=key()
    )
    proxy.lose_commit(CHANGES_A_BOOKING, "answer")
    answer = await w.stub.UpdateBooking(moved)
    assert proxy.lost == 1
    assert (answer.version, answer.party_size, hold.party_size, hold.status) == (2, 6, 6, "held")
    assert (await w.stub.UpdateBooking(moved)).version == 2
    await no_drift(w, booking.venue.venue_id)


async def test_a_reschedule_whose_commit_never_arrived_moves_the_hold_back(
    w: World, proxy: TcpProxy, new_booking: Make
) -> None:
    booking = await w.stub.CreateBooking(new_booking())
    hold = w.sandbox.state.inventory.holds[booking.inventory_reservation_id]
    moved = pb.UpdateBookingRequest(booking_id=booking.booking_id, expected_version=1, party_size=6)
    proxy.lose_commit(CHANGES_A_BOOKING, "commit")
    await unavailable(w.stub.UpdateBooking(moved))
    assert proxy.lost == 1
    current = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    assert (current.version, current.party_size, hold.party_size) == (1, 4, 4)
    assert await saga_statuses(w, booking.booking_id) == [("create", "done"), ("update", "compensated")]
    await no_drift(w, booking.venue.venue_id)


async def test_a_confirmation_whose_commit_never_arrived_is_confirmed_by_recovery(
    w: World, proxy: TcpProxy, new_booking: Make
) -> None:
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    confirming = pb.UpdateBookingStatusRequest(
        booking_id=booking.booking_id, expected_version=1, status=S.BOOKING_STATUS_CONFIRMED
    )
    proxy.lose_commit(CHANGES_A_BOOKING, "commit")
    await unavailable(w.stub.UpdateBookingStatus(confirming))
    assert w.sandbox.state.payments.intents[booking.payment_intent_id].status == "succeeded"
    await w.recover()  # paid: the booking is confirmed
    current = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    assert (current.status, current.version) == (S.BOOKING_STATUS_CONFIRMED, 2)
    await no_drift(w, booking.venue.venue_id)


async def test_a_recovery_whose_commit_never_arrived_leaves_the_saga_running(
    w: World, proxy: TcpProxy, new_booking: Make
) -> None:
    """The recovery worker's own last step (confirming the paid booking) loses its COMMIT: the
    saga is handed back running (not ended with the DONE its failed finish set), and the next
    round confirms the booking."""
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    confirming = pb.UpdateBookingStatusRequest(
        booking_id=booking.booking_id, expected_version=1, status=S.BOOKING_STATUS_CONFIRMED
    )
    proxy.lose_commit(CHANGES_A_BOOKING, "commit")
    await unavailable(w.stub.UpdateBookingStatus(confirming))
    proxy.lose_commit(CHANGES_A_BOOKING, "commit")
    assert await w.recover() == 1
    assert proxy.lost == 2
    assert await saga_statuses(w, booking.booking_id) == [("create", "done"), ("confirm", "running")]
    assert await w.recover() == 1
    current = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    assert (current.status, current.version) == (S.BOOKING_STATUS_CONFIRMED, 2)
    await no_drift(w, booking.venue.venue_id)


async def test_a_confirmation_whose_commit_answer_is_lost_answers_the_confirmed_booking(
    w: World, proxy: TcpProxy, new_booking: Make
) -> None:
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    confirming = pb.UpdateBookingStatusRequest(
        booking_id=booking.booking_id, expected_version=1, status=S.BOOKING_STATUS_CONFIRMED
    )
    proxy.lose_commit(CHANGES_A_BOOKING, "answer")
    answer = await w.stub.UpdateBookingStatus(confirming)
    assert proxy.lost == 1
    assert (answer.status, answer.version) == (S.BOOKING_STATUS_CONFIRMED, 2)
    await no_drift(w, booking.venue.venue_id)


async def test_recovery_never_compensates_a_create_whose_booking_is_stored(
    w: World, new_booking: Make
) -> None:
    """Cannot happen (the saga ends with the booking's insert); were it to, nothing is undone."""
    booking = await w.stub.CreateBooking(hotel_booking(new_booking))
    async with w.app.engine.begin() as connection:
        await connection.execute(
            text("UPDATE booking_sagas SET status = 'running', step = 'intent_opened' WHERE booking_id = :b"),
            {"b": booking.booking_id},
        )
    assert await w.recover() == 1
    kept(w, booking)
    assert await saga_statuses(w, booking.booking_id) == [("create", "needs_attention")]
    current = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))
    assert current.status == S.BOOKING_STATUS_PENDING
