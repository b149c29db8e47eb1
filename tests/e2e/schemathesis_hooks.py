"""Schemathesis hooks for the schema-driven fuzz run (tests/e2e/test_openapi.py).

Random bodies almost never make a booking (a real IANA zone, a start in the future and an end after
it are not in the schema), so the stateful phase would never get past CreateBooking and no link
would be followed. Each generated CreateBooking body is therefore, two times in three, repaired
into one the service can accept: a zone, a slot a few days after the test's clock (FUZZ_NOW, an
ISO instant), a venue and guest of this run (FUZZ_RUN), a venue type, a party size, and no key in
the body (a drawn Idempotency-Key header would differ from it); else kept as drawn. Hypothesis
chooses which, so shrinking and the seed work as usual; the other fields keep their drawn values.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import schemathesis
from hypothesis import strategies as st

_ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC")
_TYPES = ("VENUE_TYPE_HOTEL", "VENUE_TYPE_RESTAURANT", "VENUE_TYPE_CAFE", "VENUE_TYPE_RETAIL_EXPERIENCE")


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> Any:
    operation = context.operation
    if operation is None or (operation.method.upper(), operation.path) != ("POST", "/api/v1/bookings"):
        return st.just(body)
    if not isinstance(body, dict):
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
