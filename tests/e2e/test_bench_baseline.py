"""The benchmark's seed-design baseline (bench/baseline/) works: it creates its tables, creates a
booking through the sandbox peers, reads it back, replays an idempotency key and refuses an
overlapping booking of the same unit (its exclusion constraint)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.baseline.app import async_url, create_app
from bench.baseline.models import Booking
from tests.conftest import Sandbox, create_empty_database, drop_database


@pytest.fixture
async def baseline(server_url: str, sandbox: Sandbox) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    url = await create_empty_database(server_url, "bench_baseline")
    app = create_app(url, (sandbox.url, sandbox.url, sandbox.url))
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://baseline") as client,
        ):
            yield client, url
    finally:
        await drop_database(server_url, url)


def _body(unit: str, key: str, hour: int = 18) -> dict[str, object]:
    return {
        "guest": {"guest_id": "g-1", "name": "Ada Lovelace", "email": "ada@example.com"},
        "venue": {
            "venue_id": f"v-{unit}",
            "venue_type": "VENUE_TYPE_RESTAURANT",
            "name": "Bench Bistro",
            "time_zone": "Europe/Paris",
        },
        "unit_id": unit,
        "start_time": f"2030-05-01T{hour}:00:00Z",
        "end_time": f"2030-05-01T{hour + 2}:00:00Z",
        "party_size": 2,
        "idempotency_key": key,
    }


async def test_create_read_replay_and_overlap(baseline: tuple[httpx.AsyncClient, str]) -> None:
    client, url = baseline
    unit = f"table-{uuid.uuid4().hex[:6]}"
    created = await client.post("/api/v1/bookings", json=_body(unit, "k1"))
    assert created.status_code == 201, created.text
    booking = created.json()
    assert booking["status"] == "pending"
    assert booking["price"] == {"amount_minor": 5000, "currency": "EUR"}
    assert booking["inventory_reservation_id"]

    read = await client.get(f"/api/v1/bookings/{booking['booking_id']}")
    assert read.status_code == 200
    assert read.json() == booking
    assert (await client.get(f"/api/v1/bookings/{uuid.uuid4()}")).status_code == 404

    again = await client.post("/api/v1/bookings", json=_body(unit, "k1"))
    assert again.json() == booking

    overlapping = await client.post("/api/v1/bookings", json=_body(unit, "k2", hour=19))
    assert overlapping.status_code == 409  # the inventory refuses first; the constraint is below

    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as connection:
            counts = [
                await connection.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in ("bookings", "booking_status_history", "idempotency_keys", "outbox_events")
            ]
            exclusion = await connection.scalar(
                text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'x'")
            )
    finally:
        await engine.dispose()
    assert counts == [1, 1, 1, 1]
    assert "EXCLUDE USING gist" in exclusion
    assert "tstzrange(start_time, end_time) WITH &&" in exclusion


async def test_the_database_refuses_an_overlapping_booking(baseline: tuple[httpx.AsyncClient, str]) -> None:
    """Past the inventory (which refuses first in the sandbox), the exclusion constraint decides."""
    client, url = baseline
    created = (await client.post("/api/v1/bookings", json=_body(f"t-{uuid.uuid4().hex[:6]}", "k-a"))).json()
    engine = create_async_engine(async_url(url))
    try:
        async with AsyncSession(engine) as session:
            stored = await session.get(Booking, uuid.UUID(created["booking_id"]))
            assert stored is not None
            copy = {c.key: getattr(stored, c.key) for c in Booking.__table__.columns}
            copy.update(
                booking_id=uuid.uuid4(),
                booking_reference="BK-OVERLAP",
                start_time=stored.end_time - timedelta(minutes=30),
                end_time=stored.end_time + timedelta(hours=1),
            )
            session.add(Booking(**copy))
            with pytest.raises(IntegrityError, match="bookings_no_overlap"):
                await session.commit()
    finally:
        await engine.dispose()
