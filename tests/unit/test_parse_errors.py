"""A value that does not fit its field is told by the field and the problem, never by the value."""

from __future__ import annotations

import pytest
from booking.v1 import booking_pb2 as pb
from google.protobuf import json_format

from booking_service.entrypoints.rest.parse_errors import parse_problem


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"party_size": "99999999999"}, "party_size is out of range"),
        ({"party_size": "ada@example.com"}, "party_size is not an integer"),
        ({"party_size": 1.5}, "party_size is not an integer"),
        (
            {"start_time": "555.123.4567"},
            "start_time is not an RFC 3339 time with an offset (2027-05-02T14:00:00Z)",
        ),
        ({"guest": {"name": 5}}, "guest.name is not a string"),
        ({"guest": {"name": "\ud800"}}, "guest.name is not valid UTF-8 text (an unpaired surrogate)"),
        ({"guest": {"nickname": "x"}}, "there is no field guest.nickname"),
        ({"ada@example.com": 1}, "a field name is not known"),
        ({"guest": {"ada@example.com": 1}}, "there is no such field in guest"),
    ],
)
def test_the_problem_names_the_field_not_the_value(body: dict[str, object], expected: str) -> None:
    with pytest.raises(json_format.ParseError) as raised:
        json_format.ParseDict(body, pb.CreateBookingRequest())
    assert parse_problem(raised.value) == expected


def test_an_enum_name_that_is_not_one_is_told_without_it() -> None:
    with pytest.raises(json_format.ParseError) as raised:
        json_format.ParseDict({"status": "ada@example.com"}, pb.UpdateBookingStatusRequest())
    assert parse_problem(raised.value) == "status is not one of its enum's names"
