"""One shape per resource: every answer that carries a booking carries it whole, history included,
over gRPC and REST, first answers and idempotent replays alike; one version is one representation,
so its ETag is strong, and If-Match takes nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from google.protobuf import json_format

from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
API = "/api/v1/bookings"
S = pb.BookingStatus


def as_json(message: Any) -> dict[str, Any]:
    """A message as the gateway writes it (proto field names, unset scalars included)."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def versions(booking: pb.Booking) -> list[int]:
    return [entry.version for entry in booking.history]


async def test_every_grpc_answer_carries_the_booking_as_get_does(stub, new_booking: Make) -> None:
    request = new_booking()
    created = await stub.CreateBooking(request)
    booking_id = created.booking_id
    updated = await stub.UpdateBooking(
        pb.UpdateBookingRequest(booking_id=booking_id, expected_version=1, special_requests="a cot")
    )
    confirmed = await stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=booking_id, expected_version=2, status=S.BOOKING_STATUS_CONFIRMED
        )
    )
    cancelled = await stub.CancelBooking(
        pb.CancelBookingRequest(booking_id=booking_id, expected_version=3, reason="plans changed")
    )
    answers = [created, updated, confirmed, cancelled]
    assert [versions(answer) for answer in answers] == [[1], [1, 2], [1, 2, 3], [1, 2, 3, 4]]
    assert [answer.history[-1].to_status for answer in answers] == [
        S.BOOKING_STATUS_PENDING,
        S.BOOKING_STATUS_PENDING,
        S.BOOKING_STATUS_CONFIRMED,
        S.BOOKING_STATUS_CANCELLED,
    ]
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id))
    by_reference = await stub.GetBookingByReference(
        pb.GetBookingByReferenceRequest(booking_reference=created.booking_reference)
    )
    [listed_for_guest] = (
        await stub.ListGuestBookings(pb.ListGuestBookingsRequest(guest_id=request.guest.guest_id))
    ).bookings
    [listed_at_venue] = (
        await stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=request.venue.venue_id))
    ).bookings
    assert cancelled == fetched == by_reference == listed_for_guest == listed_at_venue


async def test_every_rest_answer_carries_the_booking_as_get_does(
    rest: httpx.AsyncClient, stub, new_booking: Make
) -> None:
    request = new_booking()
    body = json_format.MessageToDict(request, preserving_proto_field_name=True)
    created = await rest.post(API, json=body)
    booking_id = created.json()["booking_id"]
    url = f"{API}/{booking_id}"
    updated = await rest.put(
        url, json={"special_requests": "a cot"}, headers={"If-Match": created.headers["etag"]}
    )
    confirmed = await rest.post(
        f"{url}/status",
        json={"status": "BOOKING_STATUS_CONFIRMED"},
        headers={"If-Match": updated.headers["etag"]},
    )
    cancelled = await rest.post(
        f"{url}/cancel", json={"reason": "plans changed"}, headers={"If-Match": '"3"'}
    )
    answers = [created, updated, confirmed, cancelled]
    assert [a.status_code for a in answers] == [200] * 4
    assert [[h["version"] for h in a.json()["history"]] for a in answers] == [
        ["1"],
        ["1", "2"],
        ["1", "2", "3"],
        ["1", "2", "3", "4"],
    ]
    assert [a.headers["etag"] for a in answers] == ['"1"', '"2"', '"3"', '"4"']
    fetched = await rest.get(url)
    by_reference = await rest.get(f"{API}/reference/{created.json()['booking_reference']}")
    [for_guest] = (await rest.get(f"{API}/guest/{request.guest.guest_id}")).json()["bookings"]
    [at_venue] = (await rest.get(f"{API}/venue/{request.venue.venue_id}")).json()["bookings"]
    expected = as_json(await stub.GetBooking(pb.GetBookingRequest(booking_id=booking_id)))
    assert cancelled.json() == fetched.json() == by_reference.json() == for_guest == at_venue == expected
    assert fetched.headers["etag"] == by_reference.headers["etag"] == '"4"'


async def test_a_replay_answers_the_first_answer_with_its_history_then(stub, new_booking: Make) -> None:
    request = new_booking(idempotency_key="shape-create")
    created = await stub.CreateBooking(request)
    assert await stub.CreateBooking(request) == created
    update = pb.UpdateBookingRequest(
        booking_id=created.booking_id,
        expected_version=1,
        special_requests="a cot",
        idempotency_key="shape-update",
    )
    updated = await stub.UpdateBooking(update)
    assert versions(updated) == [1, 2]
    # The booking moves on; a replay still answers the booking as that request left it.
    await stub.UpdateBookingStatus(
        pb.UpdateBookingStatusRequest(
            booking_id=created.booking_id, expected_version=2, status=S.BOOKING_STATUS_CONFIRMED
        )
    )
    replayed = await stub.UpdateBooking(update)
    assert replayed == updated
    assert (replayed.version, versions(replayed)) == (2, [1, 2])


async def test_rest_replays_answer_the_same_shape(rest: httpx.AsyncClient, new_booking: Make) -> None:
    body = json_format.MessageToDict(new_booking(), preserving_proto_field_name=True)
    headers = {"Idempotency-Key": "shape-rest-create"}
    first = await rest.post(API, json=body, headers=headers)
    again = await rest.post(API, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    assert [h["version"] for h in again.json()["history"]] == ["1"]
    assert again.headers["etag"] == first.headers["etag"] == '"1"'


def _refusal(answer: httpx.Response) -> tuple[int, str, dict[str, str]]:
    body: dict[str, Any] = answer.json()
    bad = [d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    return (
        answer.status_code,
        body["message"],
        {v["field"]: v["description"] for d in bad for v in d["field_violations"]},
    )


async def test_if_match_takes_one_strong_etag_and_refuses_the_rest_by_name(
    rest: httpx.AsyncClient, new_booking: Make
) -> None:
    body = json_format.MessageToDict(new_booking(), preserving_proto_field_name=True)
    url = f"{API}/{(await rest.post(API, json=body)).json()['booking_id']}"
    cases = {
        "*": ("If-Match: * is not accepted", "not *"),
        'W/"1"': ("weak ETag", "without W/"),
        'w/"1"': ("in quotes", "quotes included"),
        '"1", "2"': ("several ETags", "must be one ETag"),
        "1": ("in quotes", "quotes included"),
        '"one"': ("ETag", "whole number"),
    }
    for value, (in_message, in_description) in cases.items():
        answer = await rest.put(url, json={"party_size": 3}, headers={"If-Match": value})
        status, message, violations = _refusal(answer)
        assert (status, list(violations)) == (400, ["If-Match"]), value
        assert in_message in message, (value, message)
        assert in_description in violations["If-Match"], (value, violations)
    cancel = await rest.post(f"{url}/cancel", json={}, headers={"If-Match": "*"})
    assert _refusal(cancel)[0] == 400
    # Strong comparison is of the exact opaque-tag: only the form written ("1") is version 1.
    for value in ('"01"', '"+1"', '"1 "', '" 1"', '"1.0"', '"-1"', '""'):
        status, message, violations = _refusal(
            await rest.put(url, json={"party_size": 3}, headers={"If-Match": value})
        )
        assert (status, list(violations)) == (400, ["If-Match"]), value
        assert "ETag" in message, (value, message)
        assert "without sign, leading zeros or blanks" in violations["If-Match"], (value, violations)
    status, message, violations = _refusal(
        await rest.put(url, json={"party_size": 3}, headers={"If-Match": '"0"'})
    )
    assert (status, list(violations)) == (400, ["If-Match"])
    assert "versions start at 1" in violations["If-Match"], violations
    # Several If-Match lines are one list (RFC 9110 5.3), refused as the comma form is.
    for lines in ([("If-Match", '"7"'), ("If-Match", '"1"')], [("If-Match", '"1"'), ("If-Match", '"1"')]):
        status, message, violations = _refusal(await rest.put(url, json={"party_size": 3}, headers=lines))
        assert (status, list(violations)) == (400, ["If-Match"]), lines
        assert "several ETags" in message, (lines, message)
        assert "must be one ETag" in violations["If-Match"], (lines, violations)
    # Nothing was changed by the refusals; the strong ETag works.
    fetched = await rest.get(url)
    assert (fetched.json()["version"], fetched.headers["etag"]) == ("1", '"1"')
    changed = await rest.put(url, json={"party_size": 3}, headers={"If-Match": fetched.headers["etag"]})
    assert (changed.status_code, changed.headers["etag"]) == (200, '"2"')


async def test_lists_answer_full_bookings_unless_basic_is_asked_for(
    stub, rest: httpx.AsyncClient, new_booking: Make
) -> None:
    request = new_booking()
    created = await stub.CreateBooking(request)
    await stub.UpdateBooking(
        pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=1, special_requests="a cot")
    )
    venue = request.venue.venue_id
    default, full, basic = [
        (await stub.ListVenueBookings(pb.ListVenueBookingsRequest(venue_id=venue, view=view))).bookings[0]
        for view in (pb.BOOKING_VIEW_UNSPECIFIED, pb.BOOKING_VIEW_FULL, pb.BOOKING_VIEW_BASIC)
    ]
    fetched = await stub.GetBooking(pb.GetBookingRequest(booking_id=created.booking_id))
    assert default == full == fetched
    assert (versions(basic), basic.version) == ([], 2)
    del fetched.history[:]
    assert basic == fetched, "BASIC leaves out the history, nothing else"
    guest = request.guest.guest_id
    [rest_basic] = (await rest.get(f"{API}/guest/{guest}", params={"view": "BOOKING_VIEW_BASIC"})).json()[
        "bookings"
    ]
    [rest_full] = (await rest.get(f"{API}/guest/{guest}")).json()["bookings"]
    assert (rest_basic["history"], [h["version"] for h in rest_full["history"]]) == ([], ["1", "2"])


async def test_an_unknown_view_is_refused_by_name(stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.ListGuestBookings(pb.ListGuestBookingsRequest(guest_id="someone", view=9))  # type: ignore[arg-type]
    error = rich_error(raised.value)
    assert (error.code, list(error.violations)) == (grpc.StatusCode.INVALID_ARGUMENT, ["view"])


async def test_a_negative_expected_version_is_named_as_such_on_both_transports(
    stub, rest: httpx.AsyncClient, new_booking: Make
) -> None:
    created = await stub.CreateBooking(new_booking())
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.UpdateBooking(
            pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=-1, special_requests="x")
        )
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.violations["expected_version"].startswith("must be a version, 1 or more")
    url = f"{API}/{created.booking_id}"
    negative = await rest.put(url, json={"special_requests": "x", "expected_version": "-1"})
    assert _refusal(negative)[2]["expected_version"].startswith("must be a version, 1 or more")
    missing = await rest.put(url, json={"special_requests": "x"})
    assert _refusal(missing)[2]["expected_version"].startswith("is required")
