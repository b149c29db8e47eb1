"""EraseGuestData (issue 18, part 5): a guest's personal data goes from every table, checked by SQL
against the real database, while their bookings keep working with the sandbox peers; twice is once;
a replayed create answers the erased booking; an erasure racing a create, a reschedule or a cancel
leaves nothing behind and breaks neither; the scope guests.erase; the REST path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc
from booking.v1 import guest_erasure_pb2 as epb
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format
from sqlalchemy import text

from booking_service.bootstrap import Application
from booking_service.domain.erasure import ERASED_FIELDS
from booking_service.domain.events import GuestContact
from booking_service.domain.values import Actor, ChangeSource
from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.grpc.mapping import create_command
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.entrypoints.grpc.services import interceptors
from booking_service.service_layer.idempotency import erased_fingerprint, fingerprint
from booking_service.service_layer.sagas import operators
from booking_service.service_layer.sagas.log import NEEDS_ATTENTION
from tests.conftest import NOW
from tests.e2e.erasure_support import MARKER, Person, kept_fingerprint, mark_sent, outbox, traces
from tests.e2e.groups_support import group_request
from tests.e2e.peers_support import World, assert_converged, hotel_booking, world
from tests.e2e.security_support import TokenMaker, pem_verifier
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
S = pb.BookingStatus


@pytest.fixture
async def w(database_url: str, settings, sandbox) -> AsyncIterator[World]:  # type: ignore[no-untyped-def]
    # Events that carry the guest's email and phone (EVENTS_GUEST_CONTACT=include): the erasure
    # must reach them too.
    settings = replace(settings, events_guest_contact=GuestContact.INCLUDE)
    async with world(database_url, settings, sandbox) as running:
        yield running


@pytest.fixture
async def secured_stub(
    app: Application,
) -> AsyncIterator[tuple[booking_pb2_grpc.BookingServiceStub, TokenMaker]]:
    """A server that asks every caller for a bearer token, and a maker of tokens it accepts."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = GrpcServer(
        app.use_cases, "127.0.0.1", 0, chain=interceptors(CallGuard(verifier=pem_verifier(key)))
    )
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    yield booking_pb2_grpc.BookingServiceStub(channel), TokenMaker(key)  # type: ignore[misc]
    await channel.close()
    await server.stop(0)


def dinner(
    new_booking: Make, ids: Callable[[str], str], person: Person, table: str
) -> pb.CreateBookingRequest:
    """A dinner at a restaurant (not prepaid) for the person, with their special requests."""
    venue = pb.Venue(
        venue_id=ids("bistro"), venue_type=pb.VENUE_TYPE_RESTAURANT, name="Bistro", time_zone="Europe/Berlin"
    )
    return new_booking(
        guest=person.guest, venue=venue, unit_id=ids(table), special_requests=person.special_requests
    )


def erased(guest: pb.Guest, guest_id: str) -> bool:
    return (guest.guest_id, guest.name, guest.email, guest.phone) == (guest_id, MARKER, "", "")


async def test_erasure_reaches_every_table_and_the_booking_keeps_working(
    w: World, database_url: str, new_booking: Make, ids: Callable[[str], str]
) -> None:
    ada, bob = Person.make(ids, "ada"), Person.make(ids, "bob")
    key = ids("create-key")
    hotel = await w.stub.CreateBooking(
        hotel_booking(
            new_booking, guest=ada.guest, special_requests=ada.special_requests, idempotency_key=key
        )
    )
    meal = await w.stub.CreateBooking(dinner(new_booking, ids, ada, "t1"))
    renamed = pb.Guest(name=ada.note)  # a new name, in the booking, its history, an event and an answer
    meal = await w.stub.UpdateBooking(
        pb.UpdateBookingRequest(
            booking_id=meal.booking_id, expected_version=1, guest=renamed, idempotency_key=key
        )
    )
    cancel = pb.CancelBookingRequest(booking_id=meal.booking_id, expected_version=2, reason=ada.cancel_reason)
    meal = await w.stub.CancelBooking(cancel)
    group = group_request(ids("inn"), [ids("room")], guest_id=ada.guest_id)
    group.guest.CopyFrom(ada.guest)
    group.items[0].special_requests = ada.special_requests
    group.idempotency_key = key
    group_made = await w.stub.CreateBookingGroup(group)
    other = await w.stub.CreateBooking(dinner(new_booking, ids, bob, "t2"))
    await mark_sent(database_url, hotel.booking_id)  # delivered, and kept for the retention period
    before = await traces(database_url, ada.values)
    tables = {"bookings", "booking_status_history", "booking_groups", "idempotency_keys"}
    assert {table for found in before.values() for table in found} >= tables | {"booking_outbox.payload"}

    answer = await w.stub.EraseGuestData(ada.erase())

    assert (answer.guest_id, answer.bookings_erased, answer.booking_groups_erased) == (ada.guest_id, 3, 1)
    assert answer.idempotency_records_erased == 3  # the create, the update, the group
    assert answer.history_entries_erased == 1  # the cancellation's reason (the rename gave none)
    assert answer.outbox_events_erased >= 6
    assert await traces(database_url, ada.values) == {}
    untouched = await traces(database_url, (bob.name, bob.email, bob.phone, bob.special_requests))
    assert set(untouched) == {bob.name, bob.email, bob.phone, bob.special_requests}
    assert "booking_outbox.payload" in untouched[bob.email]
    stored = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=hotel.booking_id))
    assert erased(stored.guest, ada.guest_id)
    assert stored.special_requests == MARKER
    assert (stored.version, stored.status, stored.price) == (2, S.BOOKING_STATUS_PENDING, hotel.price)
    assert list(stored.history[-1].changed_fields) == list(ERASED_FIELDS)
    assert (await outbox(database_url, hotel.booking_id))[-1] == (2, "booking.guest_erased", False)
    assert all(sent for _, _, sent in (await outbox(database_url, hotel.booking_id))[:-1])
    gone = await w.stub.GetBookingByReference(
        pb.GetBookingByReferenceRequest(booking_reference=meal.booking_reference)
    )
    assert erased(gone.guest, ada.guest_id)
    assert gone.cancellation_reason == MARKER
    assert [h.reason for h in gone.history][-2] == MARKER
    item = await w.stub.GetBooking(pb.GetBookingRequest(booking_id=group_made.bookings[0].booking_id))
    assert erased(item.guest, ada.guest_id)
    assert item.special_requests == MARKER
    assert (await w.stub.GetBooking(pb.GetBookingRequest(booking_id=other.booking_id))).guest.name == bob.name

    # The booking goes on: paid (the payment service captures), moved (the inventory moves the hold),
    # cancelled (the payment service refunds); a reason given now is stored erased as well.
    confirm = pb.UpdateBookingStatusRequest(
        booking_id=hotel.booking_id, expected_version=2, status=S.BOOKING_STATUS_CONFIRMED, reason=ada.note
    )
    confirmed = await w.stub.UpdateBookingStatus(confirm)
    assert (confirmed.status, confirmed.payment.status) == (
        S.BOOKING_STATUS_CONFIRMED,
        pb.PAYMENT_STATUS_CAPTURED,
    )
    later = pb.UpdateBookingRequest(booking_id=hotel.booking_id, expected_version=confirmed.version)
    later.start_time.FromDatetime(NOW + timedelta(days=30, hours=5))  # two nights, the same price
    later.end_time.FromDatetime(NOW + timedelta(days=32, hours=1))
    moved = await w.stub.UpdateBooking(later)
    assert moved.start_time.ToDatetime().day == (NOW + timedelta(days=30)).day
    cancel = pb.CancelBookingRequest(
        booking_id=hotel.booking_id, expected_version=moved.version, reason=ada.note
    )
    cancelled = await w.stub.CancelBooking(cancel)
    assert cancelled.status == S.BOOKING_STATUS_CANCELLED
    assert cancelled.cancellation_reason == MARKER
    assert cancelled.payment.refunded.amount_minor + cancelled.payment.refund_pending.amount_minor > 0
    assert erased(cancelled.guest, ada.guest_id)
    await assert_converged(w, hotel.venue.venue_id)
    assert await traces(database_url, ada.values) == {}


async def test_a_second_erasure_changes_nothing_and_raises_no_event(
    w: World, database_url: str, new_booking: Make, ids: Callable[[str], str]
) -> None:
    ada = Person.make(ids)
    booking = await w.stub.CreateBooking(dinner(new_booking, ids, ada, "t1"))
    first = await w.stub.EraseGuestData(ada.erase(key=ids("erase-key")))
    events = await outbox(database_url, booking.booking_id)
    again = await w.stub.EraseGuestData(ada.erase())
    assert (first.bookings_erased, again.bookings_erased) == (1, 0)
    assert again == epb.EraseGuestDataResponse(guest_id=ada.guest_id, erase_time=first.erase_time)
    assert await outbox(database_url, booking.booking_id) == events
    assert (await w.stub.GetBooking(pb.GetBookingRequest(booking_id=booking.booking_id))).version == 2
    # With the first call's key, the first answer again.
    assert await w.stub.EraseGuestData(ada.erase(key=ids("erase-key"))) == first


async def test_replaying_a_create_after_the_erasure_answers_the_erased_booking(
    w: World, database_url: str, new_booking: Make, ids: Callable[[str], str]
) -> None:
    ada = Person.make(ids)
    request = dinner(new_booking, ids, ada, "t1")
    request.idempotency_key = ids("key")
    made = await w.stub.CreateBooking(request)
    await w.stub.EraseGuestData(ada.erase())
    # The key's record keeps no digest of the guest's data: the digest of the request erased instead.
    command = create_command(request, Actor.system())
    kept = await kept_fingerprint(database_url, request.idempotency_key)
    assert kept == erased_fingerprint(command) != fingerprint(command)
    replayed = await w.stub.CreateBooking(request)  # the same key and the same request
    assert (replayed.booking_id, replayed.booking_reference) == (made.booking_id, made.booking_reference)
    assert erased(replayed.guest, ada.guest_id)
    assert replayed.special_requests == MARKER
    assert await traces(database_url, ada.values) == {}


async def test_an_operators_note_on_a_resolved_saga_is_erased(
    w: World, database_url: str, new_booking: Make, ids: Callable[[str], str]
) -> None:
    """Resolved before the erasure (erased by it) and after it (stored erased)."""
    ada = Person.make(ids)
    sagas = []
    for table in ("t1", "t2"):
        booking = await w.stub.CreateBooking(dinner(new_booking, ids, ada, table))
        del w.sandbox.state.inventory.holds[booking.inventory_reservation_id]  # the release needs an operator
        await w.stub.CancelBooking(pb.CancelBookingRequest(booking_id=booking.booking_id, expected_version=1))
        sagas += await operators.list_sagas(w.app.use_cases.ctx, (NEEDS_ATTENTION,), booking.booking_id, 10)
    ops = Actor("ops-desk", ChangeSource.API)
    await operators.resolve_saga(w.app.use_cases.ctx, sagas[0].saga_id, ada.note, ops)  # saga, history, event
    assert ada.note in (await traces(database_url, ada.values))
    answer = await w.stub.EraseGuestData(ada.erase())
    assert (answer.saga_records_erased, answer.history_entries_erased) == (1, 1)
    assert await traces(database_url, ada.values) == {}
    await operators.resolve_saga(w.app.use_cases.ctx, sagas[1].saga_id, ada.note, ops)
    assert await traces(database_url, ada.values) == {}


async def running_create(w: World, venue_id: str) -> None:
    """Waits (bounded) until a create saga for the venue is between its peer calls."""
    for _ in range(300):
        async with w.app.engine.connect() as connection:
            found = await connection.scalar(
                text(
                    "SELECT count(*) FROM booking_sagas WHERE kind = 'create' AND status = 'running'"
                    " AND data->'stay'->>'venue_id' = :venue"
                ),
                {"venue": venue_id},
            )
        if found:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no create saga for {venue_id}")


async def test_a_create_in_flight_when_the_guest_is_erased_is_stored_erased(
    w: World, database_url: str, new_booking: Make, ids: Callable[[str], str]
) -> None:
    ada = Person.make(ids)
    await w.faults(peer="inventory", latency_ms=250)  # the saga's persist step comes after the erasure
    request = dinner(new_booking, ids, ada, "t1")
    request.idempotency_key = ids("key")
    creating = asyncio.ensure_future(w.stub.CreateBooking(request))
    await running_create(w, request.venue.venue_id)
    answer = await w.stub.EraseGuestData(ada.erase())
    assert answer.bookings_erased == 0  # not stored yet
    made = await creating
    assert made.status == S.BOOKING_STATUS_PENDING
    assert erased(made.guest, ada.guest_id)
    assert made.special_requests == MARKER
    assert await traces(database_url, ada.values) == {}
    command = create_command(request, Actor.system())
    assert await kept_fingerprint(database_url, request.idempotency_key) == erased_fingerprint(command)
    await assert_converged(w, request.venue.venue_id)


async def test_a_reschedule_in_flight_lands_on_the_erased_booking(
    w: World, database_url: str, new_booking: Make, ids: Callable[[str], str]
) -> None:
    ada = Person.make(ids)
    booking = await w.stub.CreateBooking(dinner(new_booking, ids, ada, "t1"))
    await w.faults(peer="inventory", latency_ms=250)
    change = pb.UpdateBookingRequest(
        booking_id=booking.booking_id,
        expected_version=1,
        party_size=3,
        guest=pb.Guest(name=ada.note),
        special_requests=ada.note,
    )
    rescheduling = asyncio.ensure_future(w.stub.UpdateBooking(change))
    await w.holding(booking.booking_id, "update")
    assert (await w.stub.EraseGuestData(ada.erase())).bookings_erased == 1
    moved = await rescheduling  # made from version 1; only the erasure came between
    assert (moved.party_size, moved.version) == (3, 3)
    assert erased(moved.guest, ada.guest_id)
    assert moved.special_requests == MARKER
    assert await traces(database_url, ada.values) == {}
    await assert_converged(w, booking.venue.venue_id)


async def test_erasures_racing_creates_and_cancels_leave_nothing_and_refuse_nothing(
    w: World, database_url: str, new_booking: Make, ids: Callable[[str], str]
) -> None:
    """Per guest at once: a booking made, a group made, a booking cancelled with a reason, and the
    erasure. Whichever commits first, every call succeeds and nothing of the guest is left."""
    people = [Person.make(ids, f"guest{n}") for n in range(6)]
    firsts = [await w.stub.CreateBooking(dinner(new_booking, ids, p, f"a{n}")) for n, p in enumerate(people)]
    calls = []
    for n, (person, first) in enumerate(zip(people, firsts, strict=True)):
        cancel = pb.CancelBookingRequest(
            booking_id=first.booking_id, expected_version=1, reason=person.cancel_reason
        )
        group = group_request(ids(f"inn{n}"), [ids(f"room{n}")], guest_id=person.guest_id)
        group.guest.CopyFrom(person.guest)
        group.items[0].special_requests = person.special_requests
        calls += [
            w.stub.CreateBooking(dinner(new_booking, ids, person, f"b{n}")),
            w.stub.CreateBookingGroup(group),
            w.stub.CancelBooking(cancel),
            w.stub.EraseGuestData(person.erase()),
        ]
    answers = await asyncio.gather(*calls)  # every call succeeds, whichever came first
    for made, grouped, cancelled in zip(answers[0::4], answers[1::4], answers[2::4], strict=True):
        assert made.status == S.BOOKING_STATUS_PENDING
        assert [b.status for b in grouped.bookings] == [S.BOOKING_STATUS_PENDING]
        assert cancelled.status == S.BOOKING_STATUS_CANCELLED
    assert await traces(database_url, tuple(v for p in people for v in p.values)) == {}


async def test_erasing_needs_the_guests_erase_scope(
    secured_stub: tuple[booking_pb2_grpc.BookingServiceStub, TokenMaker],
    new_booking: Make,
    ids: Callable[[str], str],
) -> None:
    stub, token = secured_stub
    ada = Person.make(ids)
    staff = (("authorization", f"Bearer {token('bookings.read bookings.write bookings.operate')}"),)
    made = await stub.CreateBooking(dinner(new_booking, ids, ada, "t1"), metadata=staff)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.EraseGuestData(ada.erase(), metadata=staff)  # every booking scope, not guests.erase
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rich_error(refused.value).metadata["required_scope"] == "guests.erase"
    kept = await stub.GetBooking(pb.GetBookingRequest(booking_id=made.booking_id), metadata=staff)
    assert kept.guest.name == ada.name
    eraser = (("authorization", f"Bearer {token('guests.erase', subject='privacy-desk')}"),)
    assert (await stub.EraseGuestData(ada.erase(), metadata=eraser)).bookings_erased == 1
    erased_now = await stub.GetBooking(pb.GetBookingRequest(booking_id=made.booking_id), metadata=staff)
    assert erased_now.history[-1].actor == "privacy-desk"


async def test_rest_erases_a_guest(
    rest: httpx.AsyncClient, database_url: str, new_booking: Make, ids: Callable[[str], str]
) -> None:
    ada = Person.make(ids)
    body = dinner(new_booking, ids, ada, "t1")
    made = (await rest.post("/api/v1/bookings", json=json_format.MessageToDict(body))).json()
    answer = await rest.post(f"/api/v1/guests/{ada.guest_id}/erase", json={})
    assert answer.status_code == 200, answer.text
    assert answer.json()["bookings_erased"] == 1
    assert answer.json()["guest_id"] == ada.guest_id
    stored = (await rest.get(f"/api/v1/bookings/{made['booking_id']}")).json()
    assert stored["guest"] == {"guest_id": ada.guest_id, "name": MARKER, "email": "", "phone": ""}
    assert await traces(database_url, ada.values) == {}
