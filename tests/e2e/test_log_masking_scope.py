"""The log masker is for logs only: what a client is told is never rewritten by it, and names the
field and the problem, not the value; a logged REST path is its route's template, never the raw
path (which may carry a guest id or a percent-encoded address)."""

from __future__ import annotations

import logging

import httpx
import pytest

API = "/api/v1/bookings"


async def test_an_out_of_range_page_size_is_told_as_such_not_masked(rest: httpx.AsyncClient) -> None:
    answer = await rest.get(f"{API}/guest/guest-1", params={"page_size": "99999999999"})
    assert answer.status_code == 400, answer.text
    status = answer.json()
    assert status["message"] == "Some query parameters are not understood."
    [bad_request] = [d for d in status["details"] if d["@type"].endswith("BadRequest")]
    [violation] = bad_request["field_violations"]
    assert violation["field"] == "page_size"
    assert violation["description"] == "must be between -2147483648 and 2147483647"
    assert "[phone]" not in answer.text


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("+4915112345678", "party_size is not an integer"),  # a sign is no part of the written form
        ("4915112345678", "party_size is out of range"),
        ("ada@example.com", "party_size is not an integer"),
        (99999999999, "party_size is out of range"),
    ],
)
async def test_a_misplaced_value_is_named_by_its_field_never_echoed_or_masked(
    rest: httpx.AsyncClient, value: object, problem: str
) -> None:
    answer = await rest.post(API, json={"party_size": value})
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"] == f"The body does not fit CreateBookingRequest: {problem}"
    assert "[phone]" not in answer.text
    assert "[email]" not in answer.text
    assert str(value) not in answer.text


async def test_a_refused_rest_call_logs_its_route_template_not_its_path(
    rest: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="booking_service.http")
    answer = await rest.get(f"{API}/guest/ada%40example.com", params={"page_size": "x"})
    assert answer.status_code == 400, answer.text
    logged = [r for r in caplog.records if r.name == "booking_service.http"]
    assert [getattr(r, "path", None) for r in logged] == ["/api/v1/bookings/guest/{guest_id}"]
    assert not [r for r in caplog.records if "ada" in str(r.__dict__)]


async def test_what_a_client_wrote_for_a_booking_id_is_never_logged(
    rest: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused id is logged as a marker: the masker knows addresses and phone numbers, not names
    or an address written out in words, and an id of 60,000 characters made lines as long."""
    caplog.set_level(logging.INFO, logger="booking_service.access")
    for written in ("Grace Hopper, grace at example dot com, DOB 1906-12-09", "x" * 60_000):
        answer = await rest.get(f"{API}/{written}")
        assert answer.status_code == 400, answer.text
    logged = [r for r in caplog.records if r.name == "booking_service.access"]
    assert [getattr(r, "booking_id", None) for r in logged] == ["(not a booking id)"] * 2
    assert not [r for r in caplog.records if "Grace" in str(r.__dict__) or "x" * 200 in str(r.__dict__)]
