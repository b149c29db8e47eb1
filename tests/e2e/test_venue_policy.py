"""A venue's booking rules (issue 17): reading and changing them (versions, history, validation),
and every create and reschedule at the venue judged by them, over gRPC and REST. A booking keeps
the rules it was made under."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from booking.v1 import venue_policy_pb2 as vp
from google.protobuf import json_format
from google.protobuf.field_mask_pb2 import FieldMask

from tests.conftest import NOW
from tests.e2e.test_booking_limits import grpc_violations, rest_violations
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
START = NOW + timedelta(days=2, hours=9)

#: A policy narrower than every default.
NARROW = {
    "min_notice": timedelta(hours=2),
    "max_advance": timedelta(days=10),
    "min_duration": timedelta(minutes=30),
    "max_duration": timedelta(hours=4),
    "min_party_size": 2,
    "max_party_size": 8,
}


def policy_request(venue_id: str, version: int = 0, mask: tuple[str, ...] = (), **values: Any) -> Any:
    policy = vp.VenuePolicy()
    for name, value in values.items():
        if isinstance(value, timedelta):
            getattr(policy, name).FromTimedelta(value)
        else:
            setattr(policy, name, value)
    request = vp.UpdateVenuePolicyRequest(venue_id=venue_id, policy=policy, expected_version=version)
    if mask:
        request.update_mask.CopyFrom(FieldMask(paths=list(mask)))
    return request


def source(venue_id: str, version: int = 1) -> str:
    return f"policy of venue {venue_id}, version {version}"


async def grpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


async def test_a_venue_without_a_policy_has_the_settings(stub: Any, ids: Callable[[str], str]) -> None:
    policy = await stub.GetVenuePolicy(vp.GetVenuePolicyRequest(venue_id=ids("venue")))
    assert (policy.version, list(policy.venue_fields), list(policy.history)) == (0, [], [])
    assert (policy.min_party_size, policy.max_party_size) == (1, 100)
    assert policy.min_notice.ToTimedelta() == timedelta(minutes=-5)
    assert policy.max_duration.ToTimedelta() == timedelta(days=90)
    assert (policy.buffer_before.ToTimedelta(), policy.buffer_after.ToTimedelta()) == (timedelta(0),) * 2
    assert policy.time_zone == ""


async def test_versions_conflicts_and_history(stub: Any, ids: Callable[[str], str]) -> None:
    venue = ids("venue")
    first = await stub.UpdateVenuePolicy(
        policy_request(venue, max_party_size=8, buffer_after=timedelta(minutes=15))
    )
    assert (first.version, first.max_party_size) == (1, 8)
    assert list(first.venue_fields) == ["max_party_size", "buffer_after"]
    stale = await grpc_error(stub.UpdateVenuePolicy(policy_request(venue, 0, max_party_size=6)))
    error = rich_error(stale)
    assert (error.code, error.reason) == (grpc.StatusCode.ABORTED, "VERSION_MISMATCH")
    assert error.metadata["current_version"] == "1"
    # Back to the setting: in the mask, without a value.
    second = await stub.UpdateVenuePolicy(policy_request(venue, 1, ("max_party_size",)))
    assert (second.version, second.max_party_size, list(second.venue_fields)) == (2, 100, ["buffer_after"])
    read = await stub.GetVenuePolicy(vp.GetVenuePolicyRequest(venue_id=venue))
    assert [(h.version, list(h.changed_fields)) for h in read.history] == [
        (1, ["max_party_size", "buffer_after"]),
        (2, ["max_party_size"]),
    ]
    assert dict(read.history[0].new_values) == {"max_party_size": "8", "buffer_after": "900s"}
    assert (dict(read.history[1].old_values), dict(read.history[1].new_values)) == (
        {"max_party_size": "8"},
        {},
    )
    assert read.history[0].actor
    unchanged = await stub.UpdateVenuePolicy(policy_request(venue, 2, buffer_after=timedelta(minutes=15)))
    assert unchanged.version == 2  # nothing changed: no new version


async def test_rest_reads_and_changes_with_etags(rest: httpx.AsyncClient, ids: Callable[[str], str]) -> None:
    venue = ids("venue")
    url = f"/api/v1/venues/{venue}/policy"
    created = await rest.put(url, json={"max_party_size": 6, "buffer_before": "600s"})
    assert created.status_code == 200, created.text
    assert (created.json()["version"], created.headers["etag"]) == ("1", '"1"')
    conflict = await rest.put(url, json={"max_party_size": 4}, headers={"If-Match": '"7"'})
    assert conflict.status_code == 409, conflict.text
    changed = await rest.put(url, json={"max_party_size": 4}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    answer = await rest.get(url)
    body = answer.json()
    assert (answer.headers["etag"], body["max_party_size"], body["buffer_before"]) == ('"2"', 4, "600s")
    assert [h["version"] for h in body["history"]] == ["1", "2"]


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"min_party_size": 10, "max_party_size": 4}, "policy.max_party_size", "must be at least"),
        ({"min_duration": timedelta(hours=5), "max_duration": timedelta(hours=1)}, "policy.max_duration", ""),
        ({"buffer_after": timedelta(seconds=-60)}, "policy.buffer_after", "must be from 0 seconds"),
        ({"buffer_before": timedelta(days=2)}, "policy.buffer_before", "to 1 day, not 2 days"),
        ({"max_party_size": 0}, "policy.max_party_size", "must be from 1"),
        ({"max_advance": timedelta(days=40_000)}, "policy.max_advance", "36500 days"),
        ({"time_zone": "Mars/Olympus"}, "policy.time_zone", "IANA time zone"),
        ({"buffer_after": timedelta(seconds=1.5)}, "policy.buffer_after", "whole seconds"),
    ],
)
async def test_a_bad_policy_is_refused_naming_the_field(
    stub: Any, ids: Callable[[str], str], values: dict[str, Any], field: str, words: str
) -> None:
    violations = await grpc_violations(stub.UpdateVenuePolicy(policy_request(ids("venue"), **values)))
    assert field in violations
    assert words in violations[field]


async def test_an_unknown_mask_path_is_refused(stub: Any, ids: Callable[[str], str]) -> None:
    violations = await grpc_violations(stub.UpdateVenuePolicy(policy_request(ids("venue"), 0, ("colour",))))
    assert "update_mask" in violations


#: Each rule of NARROW: what breaks it on a create, and the violation (field, words before the source).
BROKEN = [
    pytest.param(
        {"start_time": NOW + timedelta(hours=1), "end_time": NOW + timedelta(hours=2)},
        "start_time",
        "must be at least 2 hours from now",
        id="min_notice",
    ),
    pytest.param(
        {"start_time": NOW + timedelta(days=11), "end_time": NOW + timedelta(days=11, hours=1)},
        "start_time",
        "must be at most 10 days from now",
        id="max_advance",
    ),
    pytest.param(
        {"end_time": START + timedelta(minutes=20)},
        "end_time",
        "must be at least 30 minutes after start_time",
        id="min_duration",
    ),
    pytest.param(
        {"end_time": START + timedelta(hours=5)},
        "end_time",
        "must be at most 4 hours after start_time",
        id="max_duration",
    ),
    pytest.param({"party_size": 1}, "party_size", "must be at least 2", id="min_party_size"),
    pytest.param({"party_size": 9}, "party_size", "must be at most 8", id="max_party_size"),
]


@pytest.mark.parametrize(("change", "field", "words"), BROKEN)
async def test_each_rule_is_refused_on_create_naming_the_venues_policy(
    stub: Any, rest: httpx.AsyncClient, new_booking: Make, change: dict[str, Any], field: str, words: str
) -> None:
    request = new_booking(**change)
    venue = request.venue.venue_id
    await stub.UpdateVenuePolicy(policy_request(venue, **NARROW))
    expected = {field: f"{words} ({source(venue)})"}
    assert await grpc_violations(stub.CreateBooking(request)) == expected
    body = json_format.MessageToDict(request, preserving_proto_field_name=True)
    answer = await rest.post("/api/v1/bookings", json=body)
    assert (answer.status_code, rest_violations(answer)) == (400, expected)
    # The settings still judge another venue: the same request is taken there.
    elsewhere = new_booking(**change)
    elsewhere.venue.venue_id = f"{venue}-other"
    assert (await stub.CreateBooking(elsewhere)).status == pb.BOOKING_STATUS_PENDING


@pytest.mark.parametrize(("change", "field", "words"), BROKEN)
async def test_each_rule_is_refused_on_reschedule_naming_the_venues_policy(
    stub: Any, rest: httpx.AsyncClient, new_booking: Make, change: dict[str, Any], field: str, words: str
) -> None:
    request = new_booking()
    venue = request.venue.venue_id
    await stub.UpdateVenuePolicy(policy_request(venue, **NARROW))
    created = await stub.CreateBooking(request)
    update = pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=created.version)
    for name, value in change.items():
        if name == "party_size":
            update.party_size = value
        else:
            getattr(update, name).FromDatetime(value)
    expected = {field: f"{words} ({source(venue)})"}
    assert await grpc_violations(stub.UpdateBooking(update)) == expected
    body = json_format.MessageToDict(update, preserving_proto_field_name=True)
    answer = await rest.put(f"/api/v1/bookings/{created.booking_id}", json=body)
    assert (answer.status_code, rest_violations(answer)) == (400, expected)


async def test_a_booking_keeps_the_rules_it_was_made_under(stub: Any, new_booking: Make) -> None:
    request = new_booking(party_size=6)
    venue = request.venue.venue_id
    await stub.UpdateVenuePolicy(policy_request(venue, max_party_size=8, buffer_after=timedelta(minutes=30)))
    made = await stub.CreateBooking(request)
    await stub.UpdateVenuePolicy(policy_request(venue, 1, max_party_size=4, buffer_after=timedelta(0)))
    # The new rules judge new bookings...
    violations = await grpc_violations(stub.CreateBooking(new_booking(venue=request.venue, party_size=6)))
    assert violations == {"party_size": f"must be at most 4 ({source(venue, 2)})"}
    # ...and the booking made before keeps its own: 7 is within its 8.
    grown = await stub.UpdateBooking(
        pb.UpdateBookingRequest(booking_id=made.booking_id, expected_version=made.version, party_size=7)
    )
    assert grown.party_size == 7
    over = pb.UpdateBookingRequest(booking_id=made.booking_id, expected_version=grown.version, party_size=9)
    assert await grpc_violations(stub.UpdateBooking(over)) == {
        "party_size": f"must be at most 8 ({source(venue, 1)})"
    }
    # Its 30 minutes after still block the unit, though the venue now has no buffer.
    end = START + timedelta(hours=2)
    too_soon = new_booking(venue=request.venue, unit_id=request.unit_id, party_size=2)
    too_soon.start_time.FromDatetime(end + timedelta(minutes=20))
    too_soon.end_time.FromDatetime(end + timedelta(hours=1))
    error = rich_error(await grpc_error(stub.CreateBooking(too_soon)))
    assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "UNIT_UNAVAILABLE")
    after = new_booking(venue=request.venue, unit_id=request.unit_id, party_size=2)
    after.start_time.FromDatetime(end + timedelta(minutes=30))
    after.end_time.FromDatetime(end + timedelta(hours=1))
    assert (await stub.CreateBooking(after)).status == pb.BOOKING_STATUS_PENDING


async def test_availability_counts_the_buffers(stub: Any, new_booking: Make) -> None:
    request = new_booking()
    venue = request.venue.venue_id
    await stub.UpdateVenuePolicy(policy_request(venue, buffer_before=timedelta(minutes=15)))
    await stub.CreateBooking(request)
    end = START + timedelta(hours=2)
    check = pb.CheckAvailabilityRequest(venue_id=venue, unit_id=request.unit_id, party_size=2)
    check.start_time.FromDatetime(end + timedelta(minutes=10))  # its own 15 minutes before overlap
    check.end_time.FromDatetime(end + timedelta(hours=1))
    answer = await stub.CheckAvailability(check)
    assert not answer.available
    assert [c.booking_reference for c in answer.conflicts]
    check.start_time.FromDatetime(end + timedelta(minutes=15))
    assert (await stub.CheckAvailability(check)).available


async def test_the_policys_zone_is_the_venues_zone(stub: Any, new_booking: Make) -> None:
    request = new_booking()
    venue = request.venue.venue_id
    await stub.UpdateVenuePolicy(policy_request(venue, time_zone="Asia/Tokyo"))
    violations = await grpc_violations(stub.CreateBooking(request))  # names Europe/Berlin
    assert "Europe/Berlin" in violations["venue.time_zone"]
    assert "Asia/Tokyo" in violations["venue.time_zone"]
    request.venue.time_zone = ""
    assert (await stub.CreateBooking(request)).venue.time_zone == "Asia/Tokyo"


@pytest.mark.parametrize("venue_id", ["", "bad\x00venue", "x" * 129])
async def test_a_malformed_venue_id_is_refused_by_name_without_a_read(
    stub: Any, new_booking: Make, venue_id: str
) -> None:
    request = new_booking()
    request.venue.venue_id = venue_id
    assert "venue.venue_id" in await grpc_violations(stub.CreateBooking(request))
    check = pb.CheckAvailabilityRequest(venue_id=venue_id, party_size=2)
    check.start_time.CopyFrom(request.start_time)
    check.end_time.CopyFrom(request.end_time)
    assert "venue_id" in await grpc_violations(stub.CheckAvailability(check))
    assert "venue_id" in await grpc_violations(
        stub.GetVenuePolicy(vp.GetVenuePolicyRequest(venue_id=venue_id))
    )
    assert "venue_id" in await grpc_violations(
        stub.UpdateVenuePolicy(policy_request(venue_id, max_party_size=4))
    )
