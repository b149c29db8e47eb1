"""Test support for coordination: a service with quick peer timeouts, the sandbox's admin API, and
the convergence check (the three systems agree)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc
from sqlalchemy import text

from booking_service.bootstrap import Application, PeerUrls, bootstrap
from booking_service.config import Settings
from booking_service.domain.payment import PaymentRecord, PaymentStatus, RefundStatus
from booking_service.domain.status import ACTIVE, BookingStatus
from booking_service.entrypoints.grpc.server import GrpcServer
from booking_service.sandbox.state import Intent
from booking_service.service_layer.reads import BookingQuery
from tests.conftest import NOW, FakeClock, Sandbox

#: Quick failures, so that fault tests take seconds, not minutes.
QUICK = {
    "peer_timeout": timedelta(milliseconds=400),
    "peer_retries": 1,
    "peer_failures_to_open": 3,
    "peer_open_interval": timedelta(milliseconds=500),
    "saga_lease": timedelta(seconds=30),
}


@dataclass
class World:
    app: Application
    stub: booking_pb2_grpc.BookingServiceAsyncStub
    clock: FakeClock
    sandbox: Sandbox
    admin: httpx.AsyncClient

    async def fail_next(self, path: str, mode: str, count: int = 1, method: str = "") -> None:
        response = await self.admin.post(
            "/admin/fail-next", json={"path": path, "mode": mode, "count": count, "method": method}
        )
        response.raise_for_status()

    async def holding(self, booking_id: str, kind: str) -> None:
        """Waits (bounded) until a saga of that kind holds the booking: a race is then certain."""
        for _ in range(300):
            async with self.app.engine.connect() as connection:
                held = await connection.scalar(
                    text(
                        "SELECT count(*) FROM bookings b JOIN booking_sagas s ON s.saga_id = b.saga_id"
                        " WHERE b.booking_id = :id AND s.kind = :kind"
                    ),
                    {"id": booking_id, "kind": kind},
                )
            if held:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {kind} saga took booking {booking_id}")

    async def faults(self, **settings: Any) -> None:
        (await self.admin.post("/admin/faults", json=settings)).raise_for_status()

    async def recover(self) -> int:
        """Lets every saga's lease run out, then runs the recovery worker once."""
        self.clock.advance(timedelta(minutes=5))
        return await self.app.use_cases.recover()


@asynccontextmanager
async def world(database_url: str, settings: Settings, sandbox: Sandbox) -> AsyncIterator[World]:
    clock = FakeClock()
    urls = PeerUrls(sandbox.url, sandbox.url, sandbox.url)
    app = bootstrap(replace(settings, **QUICK), database_url, urls, clock=clock)  # type: ignore[arg-type]
    server = GrpcServer(app.use_cases, "127.0.0.1", 0)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    async with httpx.AsyncClient(base_url=sandbox.url) as admin:
        await admin.post("/admin/faults", json={"hang_seconds": 2})
        try:
            yield World(app, booking_pb2_grpc.BookingServiceStub(channel), clock, sandbox, admin)  # type: ignore[arg-type]
        finally:
            await admin.post("/admin/reset", json={})
            await admin.post("/admin/faults", json={"hang_seconds": 30})
            await channel.close()
            await server.stop(1)
            await app.aclose()


async def run_command(w: World, database_url: str, data_dir: Path, *args: str) -> tuple[int, str]:
    """`booking-service ARGS` as an operator runs it, on this database and the world's sandbox
    peers: its exit status and what it printed (stdout and stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env |= {
        "DATABASE_URL": database_url,
        "BOOKING_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
        **{f"{peer}_SERVICE_URL": w.sandbox.url for peer in ("INVENTORY", "PRICING", "PAYMENT")},
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "booking-service"),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode()


def hotel_booking(new_booking: Any, **fields: Any) -> pb.CreateBookingRequest:
    """Two nights in a hotel room: prepaid, 120.00 EUR a night, free to cancel until 18:00 the day before."""
    start = NOW + timedelta(days=10, hours=5)  # 14:00 UTC, 15:00 in Berlin
    request = new_booking(
        start_time=start, end_time=start + timedelta(days=1, hours=20), party_size=2, **fields
    )
    request.venue.venue_type = pb.VENUE_TYPE_HOTEL
    return request


async def assert_converged(w: World, venue_id: str) -> None:
    """The inventory holds are exactly the active bookings' holds; every payment matches its booking."""
    stored = await w.app.use_cases.ctx.reads.page(
        BookingQuery("venue", venue_id, frozenset(), (None, None), None, None, 1000)
    )
    bookings = {b.booking_id: b for b in stored}
    state = w.sandbox.state
    holds = [h for h in state.inventory.holds.values() if h.venue_id == venue_id]
    held = {h.reservation_id for h in holds if h.status == "held"}
    active = {b.inventory_reservation_id for b in stored if b.status in ACTIVE}
    assert held == active, f"holds {held} but active bookings hold {active}"
    booking_ids = {h.booking_id for h in holds} | set(bookings)
    for intent in (i for i in state.payments.intents.values() if i.booking_id in booking_ids):
        booking = bookings.get(intent.booking_id)
        captured = intent.status == "succeeded"
        kept = intent.amount_minor - intent.refunded_minor if captured else 0
        if booking is None or booking.payment_intent_id != intent.intent_id:
            assert intent.status == "canceled" or kept == 0, f"orphan payment {intent}"
        elif booking.status is BookingStatus.PENDING:
            assert intent.status == "requires_confirmation", (booking.status, intent)
        elif booking.status in (BookingStatus.CANCELLED, BookingStatus.EXPIRED):
            refunded = booking.refunded.amount_minor if booking.refunded is not None else intent.amount_minor
            assert intent.status == "canceled" or intent.refunded_minor == refunded, (booking.status, intent)
        else:
            assert captured, (booking.status, intent)
        if booking is not None and booking.payment is not None:
            assert_money_record(booking.payment, intent, state.payments.refunds)


def assert_money_record(record: PaymentRecord, intent: Intent, refunds: dict[str, dict[str, object]]) -> None:
    """The booking's money record says what the payment service did, and only that."""
    expected = {
        "requires_confirmation": PaymentStatus.REQUIRES_CONFIRMATION,
        "succeeded": PaymentStatus.CAPTURED,
        "canceled": PaymentStatus.VOIDED,
    }[intent.status]
    assert record.status is expected, (record, intent)
    captured = intent.amount_minor if intent.status == "succeeded" else None
    assert (record.captured.amount_minor if record.captured else None) == captured, (record, intent)
    assert record.refunded.amount_minor == intent.refunded_minor, (record, intent)
    assert record.refund_pending.amount_minor == 0, record
    theirs = {
        r["refund_id"]: r["amount_minor"] for r in refunds.values() if r["intent_id"] == intent.intent_id
    }
    ours = {r.refund_id: r.amount.amount_minor for r in record.refunds if r.status is RefundStatus.SUCCEEDED}
    assert ours == theirs, (record, theirs)
