"""Schemathesis hooks for the schema-driven fuzz run (tests/e2e/test_openapi.py).

Random bodies almost never make a booking (a real IANA zone, a start in the future and an end after
it are not in the schema), so the stateful phase would never get past CreateBooking and no link
would be followed. Each generated CreateBooking body is therefore, two times in three, repaired
into one the service can accept: a zone, a slot a few days after the test's clock (FUZZ_NOW, an
ISO instant), a venue and guest of this run (FUZZ_RUN), a venue type, a party size, and no key in
the body (a drawn Idempotency-Key header would differ from it); else kept as drawn. Hypothesis
chooses which, so shrinking and the seed work as usual; the other fields keep their drawn values.

The changes a link leads to from a booking (UpdateBooking, CancelBooking, UpdateBookingStatus) and
the lists are repaired the same way, two times in three, so that a sequence goes on past its second
step: the link's If-Match stands for `expected_version` (a drawn one would almost never be the
booking's), a change names a field and a value the service accepts (a party size, special
requests, a status any booking could reach), and a list's page size is one the service allows.
Without that, how many links a run follows depends on the seed (4 to 21 of them in 60 examples).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import schemathesis
from hypothesis import strategies as st

_ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC")
_TYPES = ("VENUE_TYPE_HOTEL", "VENUE_TYPE_RESTAURANT", "VENUE_TYPE_CAFE", "VENUE_TYPE_RETAIL_EXPERIENCE")


_STATUSES = (
    "BOOKING_STATUS_CONFIRMED",
    "BOOKING_STATUS_CHECKED_IN",
    "BOOKING_STATUS_COMPLETED",
    "BOOKING_STATUS_NO_SHOW",
    "BOOKING_STATUS_CANCELLED",
)

#: How a change a link leads to is repaired: (method, path) -> a strategy of the fields to set.
_CHANGES: dict[tuple[str, str], st.SearchStrategy[dict[str, Any]]] = {
    ("PUT", "/api/v1/bookings/{booking_id}"): st.one_of(
        st.builds(lambda n: {"party_size": n, "update_mask": "partySize"}, st.integers(1, 8)),
        st.builds(
            lambda text: {"special_requests": text, "update_mask": "specialRequests"},
            st.text(max_size=40),
        ),
    ),
    ("POST", "/api/v1/bookings/{booking_id}/cancel"): st.builds(
        lambda reason: {"reason": reason}, st.text(max_size=40)
    ),
    ("POST", "/api/v1/bookings/{booking_id}/status"): st.builds(
        lambda status: {"status": status}, st.sampled_from(_STATUSES)
    ),
}

_LISTS = {("GET", "/api/v1/bookings/guest/{guest_id}"), ("GET", "/api/v1/bookings/venue/{venue_id}")}


def _key(context: Any) -> tuple[str, str] | None:
    operation = context.operation
    return None if operation is None else (operation.method.upper(), operation.path)


@schemathesis.hook
def flatmap_query(context: Any, query: Any) -> Any:
    if _key(context) not in _LISTS or not isinstance(query, dict):
        return st.just(query)
    repaired = st.builds(lambda size: {"page_size": size}, st.integers(min_value=0, max_value=50))
    return st.one_of(repaired, repaired, st.just(query))


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> Any:
    key = _key(context)
    if not isinstance(body, dict):
        return st.just(body)
    if key in _CHANGES:
        change = _CHANGES[key]
        return st.one_of(change, change, st.just(body))
    if key != ("POST", "/api/v1/bookings"):
        return st.just(body)
    repaired = st.builds(
        _repaired,
        st.just(body),
        st.sampled_from(_ZONES),
        st.sampled_from(_TYPES),
        st.integers(min_value=1, max_value=400),
        st.integers(min_value=1, max_value=72),
        st.integers(min_value=1, max_value=8),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12),
    )
    # Repaired first: the branch hypothesis favours, so that most sequences get past the create.
    return st.one_of(repaired, repaired, st.just(body))


def _repaired(
    body: dict[str, Any], zone: str, venue_type: str, days: int, hours: int, party: int, name: str
) -> dict[str, Any]:
    now = datetime.fromisoformat(os.environ["FUZZ_NOW"])
    start = now + timedelta(days=days)
    repaired = dict(body)
    venue = repaired.get("venue") if isinstance(repaired.get("venue"), dict) else {}
    run = os.environ["FUZZ_RUN"]
    repaired["guest"] = {"guest_id": f"guest-{run}-{name}", "name": f"Guest {name}"}
    repaired["venue"] = {**venue, "venue_id": f"venue-{run}-{name}", "time_zone": zone}
    repaired["venue"]["venue_type"] = venue_type
    repaired["start_time"] = start.isoformat().replace("+00:00", "Z")
    repaired["end_time"] = (start + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
    repaired["party_size"] = party
    repaired.pop("idempotency_key", None)  # the drawn Idempotency-Key header, if any, is the key
    repaired.pop("unit_id", None)
    return repaired
