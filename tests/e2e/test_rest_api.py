"""The REST gateway over real HTTP on loopback: every seed path behaves exactly like its RPC."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from google.protobuf import json_format

from tests.conftest import NOW

Make = Callable[..., pb.CreateBookingRequest]
API = "/api/v1/bookings"


def as_json(message: Any) -> dict[str, Any]:
    """A message as the gateway writes it (proto field names, unset scalars included)."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def body_of(request: pb.CreateBookingRequest) -> dict[str, Any]:
    return json_format.MessageToDict(request, preserving_proto_field_name=True)


async def test_every_seed_path_answers_like_its_rpc(rest: httpx.AsyncClient, stub, new_booking: Make) -> None:
    request = new_booking()
    created = (await rest.post(API, json=body_of(request))).json()
    booking_id, reference = created["booking_id"], created["booking_reference"]

    def rpc_booking(message: pb.Booking) -> dict[str, Any]:
        return as_json(message)

    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id))
    assert (await rest.get(f"{API}/{booking_id}")).json() == rpc_booking(fetched)
    assert (await rest.get(f"{API}/reference/{reference}")).json() == rpc_booking(fetched)
    assert created == rpc_booking(fetched)

    updated = (await rest.put(f"{API}/{booking_id}", json={"expected_version": "1", "party_size": 5})).json()
    confirmed = (
        await rest.post(
            f"{API}/{booking_id}/status", json={"expected_version": 2, "status": "BOOKING_STATUS_CONFIRMED"}
        )
    ).json()
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id))
    assert confirmed == rpc_booking(fetched)
    assert (updated["version"], updated["party_size"], confirmed["version"]) == ("2", 5, "3")

    guest = request.guest.guest_id
    listed = await stub.ListGuestBookings(pb.ListGuestBookingsRequest(guest_id=guest))
    assert (await rest.get(f"{API}/guest/{guest}")).json() == as_json(listed)
    venue = request.venue.venue_id
    listed_venue = await stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=venue))
    assert (await rest.get(f"{API}/venue/{venue}")).json() == as_json(listed_venue)

    question = {
        "venue_id": venue,
        "unit_id": request.unit_id,
        "party_size": 2,
        "start_time": created["start_time"],
        "end_time": created["end_time"],
    }
    answer = await stub.CheckAvailability(json_format.ParseDict(question, pb.CheckAvailabilityRequest()))
    assert (await rest.post(f"{API}/availability/check", json=question)).json() == as_json(answer)
    assert answer.available is False

    cancelled = (
        await rest.post(f"{API}/{booking_id}/cancel", json={"expected_version": 3, "reason": "rain"})
    ).json()
    assert (cancelled["status"], cancelled["cancellation_reason"]) == ("BOOKING_STATUS_CANCELLED", "rain")


async def test_json_follows_the_proto3_mapping(rest: httpx.AsyncClient, new_booking: Make) -> None:
    camel = json_format.MessageToDict(new_booking())  # lowerCamelCase names, as JSON clients often send
    assert "startTime" in camel
    response = await rest.post(API, json=camel)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    booking = response.json()
    assert {"booking_id", "booking_reference", "start_time", "party_size", "create_time"} <= booking.keys()
    assert booking["version"] == "1"  # int64 as a string
    assert booking["status"] == "BOOKING_STATUS_PENDING"  # enums as names
    assert booking["start_time"].endswith("Z")  # RFC 3339
    assert booking["cancellation_reason"] == ""  # unset scalars are written too


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"surprise": 1}', "surprise"),
        (b'{"party_size": "many"}', "party_size"),
        (b'{"guest": {"name": "\\ud800"}}', "surrogate"),
    ],
)
async def test_unreadable_bodies_are_400_with_a_clear_message(
    rest: httpx.AsyncClient, body: bytes, words: str
) -> None:
    response = await rest.post(API, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == 3
    assert words.lower() in error["message"].lower()
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"


async def test_idempotency_key_header(rest: httpx.AsyncClient, new_booking: Make) -> None:
    body = body_of(new_booking())
    first = await rest.post(API, json=body, headers={"Idempotency-Key": "hdr-1"})
    again = await rest.post(API, json=body, headers={"Idempotency-Key": "hdr-1"})
    assert first.json() == again.json()
    assert first.json()["idempotency_key"] == "hdr-1"
    other = await rest.post(API, json={**body, "party_size": 9}, headers={"Idempotency-Key": "hdr-1"})
    assert other.status_code == 400
    assert other.json()["details"][0]["reason"] == "IDEMPOTENCY_KEY_REUSED"
    clash = await rest.post(
        API, json={**body, "idempotency_key": "body-key"}, headers={"Idempotency-Key": "hdr-2"}
    )
    assert clash.status_code == 400


async def test_if_match_and_etag(rest: httpx.AsyncClient, new_booking: Make) -> None:
    created = await rest.post(API, json=body_of(new_booking()))
    assert created.headers["etag"] == '"1"'
    url = f"{API}/{created.json()['booking_id']}"
    updated = await rest.put(url, json={"party_size": 3}, headers={"If-Match": created.headers["etag"]})
    assert (updated.status_code, updated.headers["etag"]) == (200, '"2"')
    stale = await rest.put(url, json={"party_size": 4}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.json()["details"][0]["metadata"]["current_version"] == "2"
    assert (await rest.get(url)).headers["etag"] == '"2"'


async def test_request_ids_are_echoed_or_made(
    rest: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="booking_service.access")
    given = await rest.get(
        f"{API}/00000000-0000-4000-8000-000000000000", headers={"X-Request-Id": "rest-req-7"}
    )
    assert given.headers["x-request-id"] == "rest-req-7"
    made = await rest.get(f"{API}/00000000-0000-4000-8000-000000000000")
    assert len(made.headers["x-request-id"]) == 36
    logged = [r for r in caplog.records if getattr(r, "request_id", "") == "rest-req-7"]
    assert [(r.method, r.code, r.transport) for r in logged] == [  # type: ignore[attr-defined]
        ("/booking.v1.BookingService/GetBooking", "NOT_FOUND", "rest")
    ]


async def test_query_parameters_on_get(rest: httpx.AsyncClient, stub, new_booking: Make) -> None:
    for hours in (1, 2, 3):
        start = NOW + timedelta(days=4, hours=hours)
        await stub.CreateBooking(
            new_booking(start_time=start, end_time=start + timedelta(minutes=30), unit_id="")
        )
    venue = new_booking().venue.venue_id
    page = await rest.get(
        f"{API}/venue/{venue}",
        params=[
            ("pageSize", "2"),
            ("filters.statuses", "BOOKING_STATUS_PENDING"),
            ("filters.statuses", "BOOKING_STATUS_CONFIRMED"),
            ("filters.local_date.year", "2030"),
            ("filters.localDate.month", "1"),
            ("filters.local_date.day", "5"),
        ],
    )
    assert page.status_code == 200, page.text
    assert len(page.json()["bookings"]) == 2
    token = page.json()["next_page_token"]
    rest_page = await rest.get(
        f"{API}/venue/{venue}",
        params=[
            ("page_size", "2"),
            ("page_token", token),
            ("filters.statuses", "BOOKING_STATUS_PENDING"),
            ("filters.statuses", "BOOKING_STATUS_CONFIRMED"),
            ("filters.local_date.year", "2030"),
            ("filters.local_date.month", "1"),
            ("filters.local_date.day", "5"),
        ],
    )
    assert [len(rest_page.json()["bookings"]), rest_page.json()["next_page_token"]] == [1, ""]
    window = await rest.get(
        f"{API}/venue/{venue}",
        params={"filters.time_range.start_time": (NOW + timedelta(days=4, hours=2, minutes=10)).isoformat()},
    )
    assert len(window.json()["bookings"]) == 2
    for bad in ({"bogus": "1"}, {"page_size": "many"}, {"filters": "x"}, {"venue_id": "other"}):
        response = await rest.get(f"{API}/venue/{venue}", params=bad)
        assert response.status_code == 400, bad


async def test_routing_errors_take_the_same_error_path(rest: httpx.AsyncClient) -> None:
    missing = await rest.get("/api/v1/unknown")
    assert (missing.status_code, missing.json()["code"], missing.json()["details"][0]["reason"]) == (
        404,
        5,
        "ROUTE_NOT_FOUND",
    )
    wrong = await rest.delete(f"{API}/00000000-0000-4000-8000-000000000000")
    assert (wrong.status_code, wrong.headers["allow"], wrong.json()["details"][0]["reason"]) == (
        405,
        "GET, PUT",
        "METHOD_NOT_ALLOWED",
    )
    huge = await rest.post(API, content=b"{" + b" " * (2 << 20) + b"}")
    assert huge.status_code == 413


async def test_health_endpoints(rest: httpx.AsyncClient) -> None:
    assert (await rest.get("/healthz")).json() == {"status": "live"}
    assert (await rest.get("/readyz")).status_code == 200


async def test_curl_without_a_content_type_means_json(rest: httpx.AsyncClient, new_booking: Make) -> None:
    import json

    response = await rest.post(
        API,
        content=json.dumps(body_of(new_booking())).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200


async def test_protobuf_bodies_are_understood(rest: httpx.AsyncClient, new_booking: Make) -> None:
    response = await rest.post(
        API,
        content=new_booking().SerializeToString(),
        headers={"content-type": "application/x-protobuf", "accept": "application/x-protobuf"},
    )
    assert response.status_code == 200
    assert pb.Booking.FromString(response.content).status == pb.BOOKING_STATUS_PENDING
