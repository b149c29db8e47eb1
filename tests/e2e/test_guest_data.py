"""Guest email and phone never reach the logs or an error message: a whole lifecycle over gRPC and
over REST, with some failures, while every logger writes at DEBUG through the service's JSON format.

The capture has no GuestDataFilter on purpose: what is checked is that the code itself never puts
guest data in a record; the filter is only the last line of defence behind it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from google.protobuf import json_format
from grpc_status import rpc_status

from booking_service.entrypoints.logs import JsonFormatter
from tests.conftest import NOW

Make = Callable[..., pb.CreateBookingRequest]
API = "/api/v1/bookings"


@dataclass(frozen=True)
class GuestData:
    """A guest's contact details unique to one test, and an invalid email to send once."""

    email: str
    phone: str
    new_email: str
    new_phone: str
    invalid_email: str

    @classmethod
    def make(cls, ids: Callable[[str], str]) -> GuestData:
        def phone() -> str:
            return f"+4917{uuid.uuid4().int % 10**9:09d}"

        return cls(
            f"{ids('ada')}@example.com",
            phone(),
            f"{ids('ada-new')}@example.org",
            phone(),
            f"{ids('not-an-email')}@nowhere",
        )

    @property
    def values(self) -> tuple[str, ...]:
        """Each value, and each phone number without its + as well (a parser may drop it)."""
        phones = (self.phone, self.new_phone)
        return (self.email, self.new_email, self.invalid_email, *phones, *(p[1:] for p in phones))


class Capture(logging.Handler):
    """Every record, as the service would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def captured() -> Iterator[Capture]:
    root = logging.getLogger()
    capture, level = Capture(), root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    yield capture
    root.removeHandler(capture)
    root.setLevel(level)


def with_guest(request: pb.CreateBookingRequest, guest: GuestData) -> pb.CreateBookingRequest:
    request.guest.email, request.guest.phone = guest.email, guest.phone
    return request


def on_unit(new_booking: Make, unit: str) -> Make:
    """new_booking on units of the transport's own (both runs share the test's ids)."""

    def make(**overrides: Any) -> pb.CreateBookingRequest:
        return new_booking(**{"unit_id": unit, **overrides})

    return make


def body_of(request: pb.CreateBookingRequest) -> dict[str, Any]:
    return json_format.MessageToDict(request, preserving_proto_field_name=True)


async def grpc_error(call: Any) -> str:
    """The whole rich status an RPC failed with, as text."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    status = rpc_status.from_call(raised.value)  # type: ignore[arg-type]
    return f"{raised.value.details()} {status}"


async def run_over_grpc(stub: Any, make: Make, guest: GuestData, request_id: str) -> str:
    """The lifecycle and its failures over gRPC; returns the booking id."""
    meta = (("x-request-id", request_id),)
    created = await stub.CreateBooking(with_guest(make(), guest), metadata=meta)
    booking_id = created.booking_id
    await stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id), metadata=meta)
    await stub.ListGuestBookings(pb.ListGuestBookingsRequest(guest_id=created.guest.guest_id), metadata=meta)
    booking = await stub.UpdateBooking(
        pb.UpdateBookingRequest(
            booking_id=booking_id,
            expected_version=1,
            guest=pb.Guest(email=guest.new_email, phone=guest.new_phone),
        ),
        metadata=meta,
    )
    for status in (pb.BOOKING_STATUS_CONFIRMED, pb.BOOKING_STATUS_CHECKED_IN, pb.BOOKING_STATUS_COMPLETED):
        booking = await stub.UpdateBookingStatus(
            pb.UpdateBookingStatusRequest(
                booking_id=booking_id, expected_version=booking.version, status=status
            ),
            metadata=meta,
        )
    assert booking.status == pb.BOOKING_STATUS_COMPLETED

    other = await stub.CreateBooking(
        with_guest(make(unit_id=f"{created.unit_id}-other"), guest), metadata=meta
    )
    await stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=other.booking_id, expected_version=1, reason="plans changed"),
        metadata=meta,
    )

    invalid = with_guest(make(unit_id=f"{created.unit_id}-invalid"), guest)
    invalid.guest.email = guest.invalid_email
    overlapping = with_guest(
        make(
            unit_id=created.unit_id,
            start_time=NOW + timedelta(days=2, hours=10),
            end_time=NOW + timedelta(days=2, hours=12),
        ),
        guest,
    )
    taken = await stub.CreateBooking(with_guest(make(unit_id=f"{created.unit_id}-taken"), guest))
    overlapping.unit_id = taken.unit_id
    errors = [
        await grpc_error(stub.CreateBooking(invalid, metadata=meta)),
        await grpc_error(stub.CreateBooking(overlapping, metadata=meta)),
        await grpc_error(stub.GetBooking(pb.GetBookingRequest(booking_id=str(uuid.uuid4())), metadata=meta)),
    ]
    assert "guest.email" in errors[0]
    assert "UNIT_UNAVAILABLE" in errors[1]
    assert "BOOKING_NOT_FOUND" in errors[2]
    for error in errors:
        assert not [value for value in guest.values if value in error], error
    return booking_id


async def run_over_rest(rest: httpx.AsyncClient, make: Make, guest: GuestData, request_id: str) -> str:
    """The lifecycle and its failures over REST; returns the booking id."""
    headers = {"X-Request-Id": request_id}

    async def call(method: str, path: str, expected: int, body: dict[str, Any] | None = None) -> Any:
        answer = await rest.request(method, path, json=body, headers=headers)
        assert answer.status_code == expected, answer.text
        if expected >= 400:
            assert not [value for value in guest.values if value in answer.text], answer.text
        return answer.json()

    request = with_guest(make(), guest)
    created = await call("POST", API, 200, body_of(request))
    booking_id, unit_id = created["booking_id"], request.unit_id
    await call("GET", f"{API}/{booking_id}", 200)
    await call("GET", f"{API}/guest/{request.guest.guest_id}", 200)
    guest_change = {"email": guest.new_email, "phone": guest.new_phone}
    booking = await call("PUT", f"{API}/{booking_id}", 200, {"expected_version": "1", "guest": guest_change})
    for status in ("BOOKING_STATUS_CONFIRMED", "BOOKING_STATUS_CHECKED_IN", "BOOKING_STATUS_COMPLETED"):
        booking = await call(
            "POST",
            f"{API}/{booking_id}/status",
            200,
            {"expected_version": booking["version"], "status": status},
        )

    other = await call("POST", API, 200, body_of(with_guest(make(unit_id=f"{unit_id}-other"), guest)))
    await call("POST", f"{API}/{other['booking_id']}/cancel", 200, {"expected_version": 1})

    invalid = body_of(with_guest(make(unit_id=f"{unit_id}-invalid"), guest))
    invalid["guest"]["email"] = guest.invalid_email
    await call("POST", API, 400, invalid)
    for value in (guest.phone, guest.email):  # in the wrong field: the JSON parser quotes it
        misplaced = body_of(with_guest(make(unit_id=f"{unit_id}-misplaced"), guest))
        misplaced["party_size"] = value
        await call("POST", API, 400, misplaced)
    taken = await call("POST", API, 200, body_of(with_guest(make(unit_id=f"{unit_id}-taken"), guest)))
    overlapping = body_of(
        with_guest(
            make(
                unit_id=taken["unit_id"],
                start_time=NOW + timedelta(days=2, hours=10),
                end_time=NOW + timedelta(days=2, hours=12),
            ),
            guest,
        )
    )
    await call("POST", API, 409, overlapping)
    await call("GET", f"{API}/{uuid.uuid4()}", 404)
    return str(booking_id)


async def test_a_lifecycle_over_both_transports_logs_no_guest_data(
    stub: Any,
    rest: httpx.AsyncClient,
    new_booking: Make,
    ids: Callable[[str], str],
    captured: Capture,
) -> None:
    over_grpc, over_rest = GuestData.make(ids), GuestData.make(ids)
    grpc_request, rest_request = ids("grpc-request"), ids("rest-request")

    grpc_booking = await run_over_grpc(stub, on_unit(new_booking, ids("grpc")), over_grpc, grpc_request)
    rest_booking = await run_over_rest(rest, on_unit(new_booking, ids("rest")), over_rest, rest_request)

    log = "\n".join(captured.lines)
    for value in over_grpc.values + over_rest.values:
        assert value not in log, f"{value} is in the log:\n" + "\n".join(
            line for line in captured.lines if value in line
        )
    access = [
        e for e in captured.entries() if e["logger"] == "booking_service.access" and e["message"] == "rpc"
    ]
    for booking_id, request_id, transport in (
        (grpc_booking, grpc_request, "grpc"),
        (rest_booking, rest_request, "rest"),
    ):
        mine = [e for e in access if e["request_id"] == request_id]
        assert {e["transport"] for e in mine} == {transport}
        assert {"OK", "INVALID_ARGUMENT", "ALREADY_EXISTS", "NOT_FOUND"} <= {e["code"] for e in mine}
        assert booking_id in {e["booking_id"] for e in mine}
