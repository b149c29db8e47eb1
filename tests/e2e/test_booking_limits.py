"""Every booking limit is a setting, and a refusal names the limit's value and its setting, over gRPC
and REST alike; a changed setting changes what is refused and what the refusal says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import grpc
import httpx
import pytest
from booking.v1 import booking_pb2 as pb
from google.protobuf import json_format

from booking_service.config import Settings
from tests.conftest import NOW
from tests.helpers import rich_error

Make = Callable[..., pb.CreateBookingRequest]
API = "/api/v1/bookings"
START = NOW + timedelta(days=2, hours=9)

#: Each default limit: what breaks it, and the violation it answers.
BROKEN = [
    pytest.param(
        {"start_time": NOW + timedelta(days=1099), "end_time": NOW + timedelta(days=1099, hours=2)},
        ("start_time", "must be at most 1098 days from now (BOOKING_MAX_ADVANCE_DAYS)"),
        id="max_advance",
    ),
    pytest.param(
        {"start_time": NOW - timedelta(minutes=10), "end_time": NOW + timedelta(hours=1)},
        ("start_time", "must not be more than 5 minutes in the past (BOOKING_MIN_NOTICE_SECONDS)"),
        id="min_notice",
    ),
    pytest.param(
        {"end_time": START + timedelta(days=91)},
        ("end_time", "must be at most 90 days after start_time (BOOKING_MAX_DURATION_DAYS)"),
        id="max_duration",
    ),
    pytest.param(
        {"party_size": 101},
        ("party_size", "must be at most 100 (BOOKING_MAX_PARTY_SIZE)"),
        id="max_party_size",
    ),
    pytest.param(
        {"party_size": 0},
        ("party_size", "must be at least 1 (BOOKING_MIN_PARTY_SIZE)"),
        id="min_party_size",
    ),
]


def rest_violations(answer: httpx.Response) -> dict[str, str]:
    body: dict[str, Any] = answer.json()
    bad = [d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    return {v["field"]: v["description"] for d in bad for v in d["field_violations"]}


async def grpc_violations(call: Any) -> dict[str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    error = rich_error(raised.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    return error.violations


@pytest.mark.parametrize(("change", "violation"), BROKEN)
async def test_each_limit_is_refused_with_its_value_and_setting_over_grpc_and_rest(
    stub, rest: httpx.AsyncClient, new_booking: Make, change: dict[str, Any], violation: tuple[str, str]
) -> None:
    field, description = violation
    request = new_booking(**change)
    assert (await grpc_violations(stub.CreateBooking(request))) == {field: description}
    answer = await rest.post(API, json=json_format.MessageToDict(request, preserving_proto_field_name=True))
    assert (answer.status_code, rest_violations(answer)) == (400, {field: description})
    check = pb.CheckAvailabilityRequest(
        venue_id=request.venue.venue_id, party_size=request.party_size, unit_id=request.unit_id
    )
    check.start_time.CopyFrom(request.start_time)
    check.end_time.CopyFrom(request.end_time)
    assert (await grpc_violations(stub.CheckAvailability(check))) == {field: description}


async def test_a_change_keeps_the_limits(stub, rest: httpx.AsyncClient, new_booking: Make) -> None:
    created = await stub.CreateBooking(new_booking())
    update = pb.UpdateBookingRequest(booking_id=created.booking_id, expected_version=1, party_size=101)
    assert (await grpc_violations(stub.UpdateBooking(update))) == {
        "party_size": "must be at most 100 (BOOKING_MAX_PARTY_SIZE)"
    }
    answer = await rest.put(
        f"{API}/{created.booking_id}",
        json={"end_time": (START + timedelta(days=91)).isoformat()},
        headers={"If-Match": '"1"'},
    )
    assert (answer.status_code, rest_violations(answer)) == (
        400,
        {"end_time": "must be at most 90 days after start_time (BOOKING_MAX_DURATION_DAYS)"},
    )


class TestChangedSettings:
    """The same service with the BOOKING_* settings changed: the limits follow them."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        configured = Settings.from_env(
            {
                "BOOKING_MIN_NOTICE_SECONDS": "3600",
                "BOOKING_MAX_ADVANCE_DAYS": "30",
                "BOOKING_MIN_DURATION_SECONDS": "1800",
                "BOOKING_MAX_DURATION_DAYS": "120",
                "BOOKING_MIN_PARTY_SIZE": "2",
                "BOOKING_MAX_PARTY_SIZE": "8",
            }
        )
        return replace(settings, booking_limits=configured.booking_limits)

    @pytest.mark.parametrize(
        ("change", "violation"),
        [
            ({"party_size": 9}, ("party_size", "must be at most 8 (BOOKING_MAX_PARTY_SIZE)")),
            ({"party_size": 1}, ("party_size", "must be at least 2 (BOOKING_MIN_PARTY_SIZE)")),
            (
                {"start_time": NOW + timedelta(minutes=30), "end_time": NOW + timedelta(hours=2)},
                ("start_time", "must be at least 1 hour from now (BOOKING_MIN_NOTICE_SECONDS)"),
            ),
            (
                {"start_time": NOW + timedelta(days=31), "end_time": NOW + timedelta(days=31, hours=2)},
                ("start_time", "must be at most 30 days from now (BOOKING_MAX_ADVANCE_DAYS)"),
            ),
            (
                {"end_time": START + timedelta(minutes=20)},
                ("end_time", "must be at least 30 minutes after start_time (BOOKING_MIN_DURATION_SECONDS)"),
            ),
        ],
    )
    async def test_the_changed_limits_are_refused_with_their_values(
        self,
        stub,
        rest: httpx.AsyncClient,
        new_booking: Make,
        change: dict[str, Any],
        violation: tuple[str, str],
    ) -> None:
        field, description = violation
        request = new_booking(**change)
        assert (await grpc_violations(stub.CreateBooking(request))) == {field: description}
        body = json_format.MessageToDict(request, preserving_proto_field_name=True)
        answer = await rest.post(API, json=body)
        assert (answer.status_code, rest_violations(answer)) == (400, {field: description})

    async def test_what_the_defaults_refuse_the_changed_settings_allow(self, stub, new_booking: Make) -> None:
        stay = await stub.CreateBooking(new_booking(end_time=START + timedelta(days=100)))
        assert stay.status == pb.BOOKING_STATUS_PENDING
