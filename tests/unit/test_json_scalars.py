"""Strings protobuf's JSON parser reads too loosely are held to their one form (json_scalars.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from booking.v1 import booking_pb2 as pb
from hypothesis import given, settings
from hypothesis import strategies as st

from booking_service.entrypoints.rest.marshal import JSON, UnreadableBody


def decode(
    body: dict[str, object], message: type[pb.UpdateBookingRequest] = pb.UpdateBookingRequest
) -> object:
    request = message()
    JSON.decode(json.dumps(body).encode(), request)
    return request


@pytest.mark.parametrize(
    "written", ["1_0", "\u0661\u0660", "\uff11", "\t1", "1\n", " 1 ", "+1", "1.0", "0x10"]
)
def test_an_integer_string_is_ascii_digits_only(written: str) -> None:
    with pytest.raises(UnreadableBody, match="expected_version is not an integer"):
        decode({"expected_version": written})


@pytest.mark.parametrize(
    "written",
    [
        "2027-03-05T19:00:00+99:99",
        "2027-03-05T19:00:00+24:00",
        "\uff12\uff10\uff12\uff17-03-05T19:00:00Z",
        "2027-03-05T19:00:00.Z",
        "2027-03-05T19:00:00",
        "2027-03-05T19:00:00.1234567890Z",
    ],
)
def test_a_timestamp_is_rfc_3339_with_an_offset_in_range(written: str) -> None:
    with pytest.raises(UnreadableBody, match="start_time is not an RFC 3339 time"):
        decode({"start_time": written})


def test_good_forms_still_read() -> None:
    request = decode({"expected_version": "-0012", "start_time": "2027-03-05T19:00:00.5-23:59"})
    assert request.expected_version == -12  # type: ignore[attr-defined]
    assert request.start_time.ToDatetime(tzinfo=UTC) == datetime(2027, 3, 6, 18, 59, 0, 500000, tzinfo=UTC)  # type: ignore[attr-defined]


def test_a_field_mask_may_use_the_proto_field_names() -> None:
    request = decode({"update_mask": "party_size,guest.email,startTime"})
    assert list(request.update_mask.paths) == ["party_size", "guest.email", "start_time"]  # type: ignore[attr-defined]


def test_nested_and_repeated_fields_are_held_too() -> None:
    with pytest.raises(UnreadableBody, match=r"filters\.local_date\.year is not an integer"):
        decode({"filters": {"local_date": {"year": "\uff12\uff10\uff12\uff17"}}}, pb.ListVenueBookingsRequest)  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(st.text(min_size=1, max_size=12))
def test_an_integer_string_read_is_the_integer_it_writes(written: str) -> None:
    """Differential: whatever string is accepted reads as Python's plain reading of ASCII digits."""
    try:
        request = decode({"expected_version": written})
    except UnreadableBody:
        return
    assert written.lstrip("-").isascii()
    assert request.expected_version == int(written)  # type: ignore[attr-defined]


@pytest.mark.parametrize("written", ["\uff11", "\u0661", " 1", "1 ", "+1", "HOTEL", "venue_type_hotel"])
def test_an_enum_string_is_a_name_or_a_plain_number(written: str) -> None:
    with pytest.raises(UnreadableBody, match=r"venue\.venue_type is not one of its enum's names"):
        decode({"venue": {"venue_type": written}}, pb.CreateBookingRequest)  # type: ignore[arg-type]


def test_one_field_under_both_names_is_refused() -> None:
    with pytest.raises(UnreadableBody, match="party_size is given twice"):
        decode({"party_size": 2, "partySize": 7})


@pytest.mark.parametrize(
    "path", ["party__size", "party_size_", "GUEST", "Party_size", "guest.", "guest..email"]
)
def test_a_mask_path_in_neither_form_is_refused_as_written(path: str) -> None:
    with pytest.raises(UnreadableBody, match="update_mask has a path that is no field path"):
        decode({"update_mask": path})
