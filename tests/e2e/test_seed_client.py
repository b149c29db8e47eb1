"""A client written from the seed's document alone, against a real `booking-service serve` (issue 16).

The client knows what docs/seed's "Booking & Reservation Service" page says and nothing else: its
REST paths (`/api/v1/bookings...`, `POST .../availability/check`, `PUT` with `expected_version`,
`POST .../cancel`, `POST .../status`, the guest and venue lists, the reference lookup) and the
fields it names (guest id, name, email, phone; venue id, type, name; the booking's time and party
size in this API's fields; `idempotency_key`). It sends no time zone, no If-Match, no update_mask,
no x-actor, and reads only the fields the seed names.

Then the time zone the seed's venue lacks: a create without one gets DEFAULT_VENUE_TIME_ZONE (set
here to a zone that is not UTC, so that a hard-coded UTC would fail), or the zone the service last
recorded for the venue, and its local date follows that zone; a replay with and without the zone.
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_command_line import BIN, environment, free_port, serve

pytestmark = pytest.mark.slow

API = "/api/v1/bookings"
#: DEFAULT_VENUE_TIME_ZONE of the service under test: not UTC, and behind it, so that the local date
#: of an early UTC morning is the day before.
DEFAULT_ZONE = "America/Los_Angeles"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[str]:
    """`booking-service serve` on the tests' database, the broker and sandbox peers embedded."""
    folder = tmp_path_factory.mktemp("seed-client")
    port, http_port = free_port(), free_port()
    env = {"DATABASE_URL": database_url, "DEFAULT_VENUE_TIME_ZONE": DEFAULT_ZONE}
    with serve(folder / "data", port, folder / "serve.log", http_port, dev=True, **env):
        yield f"http://127.0.0.1:{http_port}"


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    """A plain HTTP client: JSON in, JSON out, no headers of this service's own."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


def unique(name: str) -> str:
    return f"seed-{name}-{uuid.uuid4().hex[:10]}"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def stamp(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def a_day_ahead(days: int) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


def seed_booking(
    guest_id: str, venue_id: str, start: datetime, key: str, party_size: int = 2
) -> dict[str, Any]:
    """A create as the seed describes a booking: guest (id, name, email, phone), venue (id, type,
    name: no time zone), when and for how long, for how many, and an idempotency key."""
    return {
        "guest": {
            "guest_id": guest_id,
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "phone": "+15551234567",
        },
        "venue": {"venue_id": venue_id, "venue_type": "VENUE_TYPE_RESTAURANT", "name": "Chez Nous"},
        "start_time": stamp(start),
        "end_time": stamp(start + timedelta(hours=2)),
        "party_size": party_size,
        "special_requests": "window seat",
        "idempotency_key": key,
    }


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def set_status(client: httpx.Client, booking: dict[str, Any], status: str) -> httpx.Response:
    """POST .../status from the version last read, as the seed's optimistic locking asks."""
    body = {"expected_version": int(booking["version"]), "status": status}
    return client.post(f"{API}/{booking['booking_id']}/status", json=body)


def test_a_seed_client_completes_a_whole_lifecycle(client: httpx.Client) -> None:
    guest, venue = unique("guest"), unique("venue")
    start = at(a_day_ahead(30), 19)
    body = seed_booking(guest, venue, start, key=unique("create"))

    # Check availability, then create; the same key again is the same booking, not a second one.
    question = {
        "venue_id": venue,
        "start_time": body["start_time"],
        "end_time": body["end_time"],
        "party_size": 2,
    }
    assert ok(client.post(f"{API}/availability/check", json=question))["available"] is True
    created = ok(client.post(API, json=body))
    booking_id, reference = created["booking_id"], created["booking_reference"]
    assert created["status"] == "BOOKING_STATUS_PENDING"
    assert int(created["version"]) == 1
    assert created["guest"] == body["guest"]
    venue_read = created["venue"]
    assert (venue_read["venue_id"], venue_read["venue_type"], venue_read["name"]) == (
        venue,
        "VENUE_TYPE_RESTAURANT",
        "Chez Nous",
    )
    assert (instant(created["start_time"]), instant(created["end_time"])) == (
        start,
        start + timedelta(hours=2),
    )
    assert (created["party_size"], created["special_requests"]) == (2, "window seat")
    assert created["idempotency_key"] == body["idempotency_key"]
    assert created["create_time"]
    assert created["update_time"]
    replayed = ok(client.post(API, json=body))
    assert (replayed["booking_id"], replayed["booking_reference"], int(replayed["version"])) == (
        booking_id,
        reference,
        1,
    )

    # Read it by id and by reference.
    assert ok(client.get(f"{API}/{booking_id}"))["booking_reference"] == reference
    assert ok(client.get(f"{API}/reference/{reference}"))["booking_id"] == booking_id

    # Update from the version read; the same version again is a conflict, and changes nothing.
    updated = ok(
        client.put(
            f"{API}/{booking_id}",
            json={"expected_version": 1, "party_size": 3, "special_requests": "a high chair"},
        )
    )
    assert (int(updated["version"]), updated["party_size"], updated["special_requests"]) == (
        2,
        3,
        "a high chair",
    )
    stale = client.put(f"{API}/{booking_id}", json={"expected_version": 1, "party_size": 4})
    assert stale.status_code == 409, stale.text
    current = ok(client.get(f"{API}/{booking_id}"))
    assert (int(current["version"]), current["party_size"]) == (2, 3)

    # Confirm, check in, complete: each step from the version the last answer gave.
    confirmed = ok(set_status(client, current, "BOOKING_STATUS_CONFIRMED"))
    assert (confirmed["status"], int(confirmed["version"])) == ("BOOKING_STATUS_CONFIRMED", 3)
    assert confirmed["confirm_time"]
    checked_in = ok(set_status(client, confirmed, "BOOKING_STATUS_CHECKED_IN"))
    assert (checked_in["status"], int(checked_in["version"])) == ("BOOKING_STATUS_CHECKED_IN", 4)
    assert checked_in["check_in_time"]
    completed = ok(set_status(client, checked_in, "BOOKING_STATUS_COMPLETED"))
    assert (completed["status"], int(completed["version"])) == ("BOOKING_STATUS_COMPLETED", 5)
    assert completed["complete_time"]

    # The state machine refuses a move it does not allow, and nothing changes.
    refused = set_status(client, completed, "BOOKING_STATUS_CONFIRMED")
    assert refused.status_code == 400, refused.text
    assert "COMPLETED" in refused.json()["message"]
    after = ok(client.get(f"{API}/{booking_id}"))
    assert (after["status"], int(after["version"])) == ("BOOKING_STATUS_COMPLETED", 5)

    # Another booking of the guest, cancelled; it cannot be checked in afterwards.
    later = seed_booking(guest, venue, start + timedelta(days=1), key=unique("create"), party_size=4)
    other = ok(client.post(API, json=later))
    cancelled = ok(
        client.post(
            f"{API}/{other['booking_id']}/cancel", json={"expected_version": 1, "reason": "plans changed"}
        )
    )
    assert (cancelled["status"], cancelled["cancellation_reason"]) == (
        "BOOKING_STATUS_CANCELLED",
        "plans changed",
    )
    assert int(cancelled["version"]) == 2
    assert cancelled["cancel_time"]
    assert set_status(client, cancelled, "BOOKING_STATUS_CHECKED_IN").status_code == 400

    # Both bookings in the guest's list and in the venue's, with their statuses.
    expected = {booking_id: "BOOKING_STATUS_COMPLETED", other["booking_id"]: "BOOKING_STATUS_CANCELLED"}
    for path in (f"{API}/guest/{guest}", f"{API}/venue/{venue}"):
        listed = ok(client.get(path))["bookings"]
        assert {b["booking_id"]: b["status"] for b in listed} == expected, path


def test_a_create_without_a_time_zone_gets_the_default_zone(client: httpx.Client) -> None:
    """DEFAULT_VENUE_TIME_ZONE for a venue the service has never seen; the booking's local date is
    that zone's (03:30 UTC is the evening before in Los Angeles)."""
    venue, day = unique("venue"), a_day_ahead(40)
    created = ok(
        client.post(API, json=seed_booking(unique("guest"), venue, at(day, 3, 30), unique("create")))
    )
    assert created["venue"]["time_zone"] == DEFAULT_ZONE
    assert ok(client.get(f"{API}/{created['booking_id']}"))["venue"]["time_zone"] == DEFAULT_ZONE
    assert on_local_date(client, venue, day - timedelta(days=1)) == [created["booking_id"]]
    assert on_local_date(client, venue, day) == []


def test_a_create_without_a_time_zone_reuses_the_venues_recorded_zone(client: httpx.Client) -> None:
    """A venue booked earlier with Europe/Berlin: the next create without a zone is in Berlin too,
    and so is its local date (23:30 UTC is the next day in Berlin, the same day in UTC and in
    Los Angeles)."""
    venue, day = unique("venue"), a_day_ahead(50)
    first = seed_booking(unique("guest"), venue, at(day - timedelta(days=7), 12), unique("create"))
    first["venue"]["time_zone"] = "Europe/Berlin"
    assert ok(client.post(API, json=first))["venue"]["time_zone"] == "Europe/Berlin"
    created = ok(
        client.post(API, json=seed_booking(unique("guest"), venue, at(day, 23, 30), unique("create")))
    )
    assert created["venue"]["time_zone"] == "Europe/Berlin"
    assert on_local_date(client, venue, day + timedelta(days=1)) == [created["booking_id"]]
    assert on_local_date(client, venue, day) == []


def test_a_create_replayed_without_its_zone_is_the_same_request_and_with_one_another(
    client: httpx.Client,
) -> None:
    """The key remembers the request as sent: replayed without a zone, the first answer comes back
    with the zone it was given, even after the venue's recorded zone has changed; the same key
    naming a zone is another request (IDEMPOTENCY_KEY_REUSED), even the zone the first was given."""
    venue, day = unique("venue"), a_day_ahead(60)
    body = seed_booking(unique("guest"), venue, at(day, 18), unique("create"))
    first = ok(client.post(API, json=body))
    assert first["venue"]["time_zone"] == DEFAULT_ZONE
    in_berlin = seed_booking(unique("guest"), venue, at(day, 20), unique("create"))
    in_berlin["venue"]["time_zone"] = "Europe/Berlin"
    ok(client.post(API, json=in_berlin))
    no_zone = ok(client.post(API, json=seed_booking(unique("guest"), venue, at(day, 21), unique("create"))))
    assert no_zone["venue"]["time_zone"] == "Europe/Berlin"

    replayed = ok(client.post(API, json=body))
    assert (replayed["booking_id"], replayed["venue"]["time_zone"]) == (first["booking_id"], DEFAULT_ZONE)
    named = {**body, "venue": {**body["venue"], "time_zone": DEFAULT_ZONE}}
    refused = client.post(API, json=named)
    assert refused.status_code == 400, refused.text
    assert refused.json()["details"][0]["reason"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_default_zone_that_is_no_iana_zone_is_refused_at_start_in_one_line(tmp_path: Path) -> None:
    command = [
        str(BIN / "booking-service"),
        "serve",
        "--data-dir",
        str(tmp_path / "data"),
        "--host",
        "127.0.0.1",
    ]
    command += ["--grpc-port", str(free_port()), "--http-port", str(free_port())]
    process = subprocess.Popen(
        command,
        env=environment(DEFAULT_VENUE_TIME_ZONE="Mars/Olympus_Mons"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # it started: stop it as a user would, its database too
        process.communicate(timeout=30)
        pytest.fail("serve started with DEFAULT_VENUE_TIME_ZONE=Mars/Olympus_Mons")
    assert process.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "DEFAULT_VENUE_TIME_ZONE" in lines[0]
    assert "Mars/Olympus_Mons" in lines[0]


def on_local_date(client: httpx.Client, venue: str, day: date) -> list[str]:
    """The ids of the venue's bookings that start on `day` in the venue's time zone."""
    query = {
        "filters.local_date.year": day.year,
        "filters.local_date.month": day.month,
        "filters.local_date.day": day.day,
    }
    answer = ok(client.get(f"{API}/venue/{venue}", params=query))
    return [b["booking_id"] for b in answer.get("bookings", [])]
