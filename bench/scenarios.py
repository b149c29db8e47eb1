"""The benchmark's calls: the requests, the clients that send them (generated gRPC stubs; a minimal
HTTP/1.1 client for REST) and each scenario as one operation over either transport."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc, slots_pb2
from google.protobuf import json_format
from google.type import date_pb2

from bench.http1 import Http1Connection
from bench.open_loop import OK

CALL_TIMEOUT = 30.0
START = (datetime.now(UTC) + timedelta(days=30)).replace(hour=18, minute=0, second=0, microsecond=0)


def create_request(venue_id: str, unit_id: str, start: datetime = START) -> pb.CreateBookingRequest:
    request = pb.CreateBookingRequest(
        guest=pb.Guest(guest_id=f"guest-{unit_id}", name="Ada Lovelace", email="ada@example.com"),
        venue=pb.Venue(
            venue_id=venue_id,
            venue_type=pb.VENUE_TYPE_RESTAURANT,
            name="Bench Bistro",
            time_zone="Europe/Paris",
        ),
        unit_id=unit_id,
        party_size=2,
        idempotency_key=f"key-{unit_id}-{uuid.uuid4().hex[:8]}",  # as careful clients send
    )
    request.start_time.FromDatetime(start)
    request.end_time.FromDatetime(start + timedelta(hours=2))
    return request


def as_json(message: Any) -> bytes:
    return json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True)).encode()


class Clients:
    """One gRPC channel per 16 calls in flight (or `channels`), and one HTTP/1.1 connection per call
    in flight (each opened at its first request)."""

    def __init__(
        self, grpc_target: str, rest_host: str, rest_port: int, concurrency: int, channels: int = 0
    ) -> None:
        channels = (channels or max(1, concurrency // 16)) if grpc_target else 0  # none: REST only
        self.channels = [grpc.aio.insecure_channel(grpc_target) for _ in range(channels)]
        self.stubs = [booking_pb2_grpc.BookingServiceStub(c) for c in self.channels]
        self.echo: list[Any] = [c.unary_unary("/bench.Echo/Echo") for c in self.channels]
        self.http = [Http1Connection(rest_host, rest_port) for _ in range(concurrency)]

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
        for connection in self.http:
            await connection.close()


Op = Callable[[Clients, int, int], Awaitable[str]]


def _grpc(call: Callable[[Clients, int, int], Awaitable[Any]]) -> Op:
    async def op(clients: Clients, worker: int, i: int) -> str:
        try:
            await call(clients, worker, i)
        except grpc.aio.AioRpcError as error:
            return error.code().name
        return OK

    return op


async def _rest(clients: Clients, worker: int, method: str, path: str, body: bytes = b"") -> tuple[str, Any]:
    status, payload = await clients.http[worker].request(method, path, body)
    return (OK if 200 <= status < 300 else str(status)), payload


class Scenarios:
    """The operations, given the data seeded for this run."""

    def __init__(self, run: str, seeded: dict[str, Any]) -> None:
        self.run = run
        self.ids: list[str] = seeded.get("booking_ids", [])
        self.venue: str = seeded.get("venue_id", "")
        self.measurement = 0

    def new_booking(self, worker: int, i: int) -> pb.CreateBookingRequest:
        """A booking nobody else asks for: a venue per worker and measurement, a slot per call
        (so that the only refusals are real ones)."""
        venue = f"bench-{self.run}-{self.measurement}-{worker}"
        return create_request(venue, f"table-{i % 40}", START + timedelta(hours=3 * (i // 40)))

    def grpc_op(self, name: str) -> Op:
        if name == "Echo":
            return _grpc(lambda c, w, i: c.echo[w % len(c.echo)](b"ping", timeout=CALL_TIMEOUT))
        if name == "CreateBooking":
            return _grpc(
                lambda c, w, i: c.stubs[w % len(c.stubs)].CreateBooking(
                    self.new_booking(w, i), timeout=CALL_TIMEOUT
                )
            )
        if name == "GetBooking":
            return _grpc(
                lambda c, w, i: c.stubs[w % len(c.stubs)].GetBooking(
                    pb.GetBookingRequest(booking_id=self.ids[(w * 7919 + i) % len(self.ids)]),
                    timeout=CALL_TIMEOUT,
                )
            )
        if name == "ListVenueBookings":
            return _grpc(
                lambda c, w, i: c.stubs[w % len(c.stubs)].ListVenueBookings(
                    pb.ListVenueBookingsRequest(venue_id=self.venue, page_size=20), timeout=CALL_TIMEOUT
                )
            )
        if name == "CheckAvailability":
            return _grpc(lambda c, w, i: c.stubs[w % len(c.stubs)].CheckAvailability(self._availability(i)))
        if name == "Lifecycle":
            return _grpc(lambda c, w, i: self._grpc_lifecycle(c.stubs[w % len(c.stubs)], w, i))
        if name in ("SearchAvailableSlots", "SearchAvailableSlotsCold"):
            cold = name == "SearchAvailableSlotsCold"
            return _grpc(
                lambda c, w, i: c.stubs[w % len(c.stubs)].SearchAvailableSlots(
                    self._slots(w, i, cold=cold), timeout=CALL_TIMEOUT
                )
            )
        raise ValueError(name)

    def rest_op(self, name: str) -> Op:

        async def op(c: Clients, w: int, i: int) -> str:
            if name == "CreateBooking":
                return (await _rest(c, w, "POST", "/api/v1/bookings", as_json(self.new_booking(w, i))))[0]
            if name == "GetBooking":
                return (
                    await _rest(c, w, "GET", f"/api/v1/bookings/{self.ids[(w * 7919 + i) % len(self.ids)]}")
                )[0]
            if name == "ListVenueBookings":
                return (await _rest(c, w, "GET", f"/api/v1/bookings/venue/{self.venue}?page_size=20"))[0]
            if name == "CheckAvailability":
                return (
                    await _rest(
                        c, w, "POST", "/api/v1/bookings/availability/check", as_json(self._availability(i))
                    )
                )[0]
            if name == "Lifecycle":
                return await self._rest_lifecycle(c, w, i)
            if name in ("SearchAvailableSlots", "SearchAvailableSlotsCold"):
                path = "/api/v1/bookings/availability/slots"
                slots = self._slots(w, i, cold=name == "SearchAvailableSlotsCold")
                return (await _rest(c, w, "POST", path, as_json(slots)))[0]
            raise ValueError(name)

        return op

    def _availability(self, i: int) -> pb.CheckAvailabilityRequest:
        request = pb.CheckAvailabilityRequest(
            venue_id=self.venue, unit_id=f"seed-unit-{i % 50}", party_size=2
        )
        request.start_time.FromDatetime(START)
        request.end_time.FromDatetime(START + timedelta(hours=2))
        return request

    def _slots(self, w: int, i: int, *, cold: bool = False) -> slots_pb2.SearchAvailableSlotsRequest:
        """A day of 15-minute candidates (96) for two hours, on the seeded venue's first day of
        bookings: one unit asked for, held by a seeded booking from 18:00 to 20:00 UTC, so the
        slots over it are BOOKED here and the others (about 87) each need an inventory answer.
        Always the same unit (a popular day: after the first search, the slot search's cache
        has its answers; before the cache each search cost its 87 checks whichever seeded unit
        it asked, and the scenario asked seed-unit-{i % 50}). `cold`: a unit no search asked
        before (none booked here), so each of the 96 candidates costs an inventory check: what
        a search costs when nothing is cached."""
        day = (START + timedelta(days=1)).date()
        unit = f"cold-{self.run}-{self.measurement}-{w}-{i}" if cold else "seed-unit-0"
        request = slots_pb2.SearchAvailableSlotsRequest(
            venue_id=self.venue,
            local_date=date_pb2.Date(year=day.year, month=day.month, day=day.day),
            party_size=2,
            unit_ids=[unit],
        )
        request.duration.FromTimedelta(timedelta(hours=2))
        return request

    async def _grpc_lifecycle(self, stub: Any, w: int, i: int) -> None:
        booking = await stub.CreateBooking(self.new_booking(w, i), timeout=CALL_TIMEOUT)
        for status in (
            pb.BOOKING_STATUS_CONFIRMED,
            pb.BOOKING_STATUS_CHECKED_IN,
            pb.BOOKING_STATUS_COMPLETED,
        ):
            booking = await stub.UpdateBookingStatus(
                pb.UpdateBookingStatusRequest(
                    booking_id=booking.booking_id, expected_version=booking.version, status=status
                ),
                timeout=CALL_TIMEOUT,
            )

    async def _rest_lifecycle(self, c: Clients, w: int, i: int) -> str:
        code, payload = await _rest(c, w, "POST", "/api/v1/bookings", as_json(self.new_booking(w, i)))
        for status in ("BOOKING_STATUS_CONFIRMED", "BOOKING_STATUS_CHECKED_IN", "BOOKING_STATUS_COMPLETED"):
            if code != OK:
                return code
            booking = json.loads(payload)
            body = json.dumps({"expected_version": booking["version"], "status": status}).encode()
            code, payload = await _rest(
                c, w, "POST", f"/api/v1/bookings/{booking['booking_id']}/status", body
            )
        return code
