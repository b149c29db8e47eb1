"""Small helpers shared by tests: reading rich gRPC errors, building domain commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from booking_service.adapters.connections import Connections
from booking_service.domain.commands import CreateBooking, VenueDetails
from booking_service.domain.errors import StorageUnavailable
from booking_service.domain.values import Actor, ChangeSource, Guest, VenueType

API = Actor("tester", ChangeSource.API)


@dataclass
class RichError:
    code: grpc.StatusCode
    message: str
    reason: str
    metadata: dict[str, str]
    violations: dict[str, str] = field(default_factory=dict)


def rich_error(error: grpc.aio.AioRpcError) -> RichError:
    """The google.rpc.Status an RPC failed with, unpacked."""
    status: status_pb2.Status | None = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"no rich status on {error.code()}: {error.details()}"
    info = error_details_pb2.ErrorInfo()
    bad = error_details_pb2.BadRequest()
    found_info = False
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
            found_info = True
        elif detail.Is(bad.DESCRIPTOR):
            detail.Unpack(bad)
    assert found_info, "every error carries an ErrorInfo"
    assert info.domain == "booking-service"
    return RichError(
        code=error.code(),
        message=status.message,
        reason=info.reason,
        metadata=dict(info.metadata),
        violations={v.field: v.description for v in bad.field_violations},
    )


def create_command(
    start: datetime,
    *,
    venue_id: str = "venue-1",
    unit_id: str = "unit-1",
    guest_id: str = "guest-1",
    hours: int = 2,
    key: str = "",
    venue_type: VenueType = VenueType.RESTAURANT,
    time_zone: str = "Europe/Berlin",
    party_size: int = 2,
) -> CreateBooking:
    return CreateBooking(
        actor=API,
        guest=Guest(guest_id, "Grace Hopper", "grace@example.com", "+15551234567"),
        venue=VenueDetails(venue_id, venue_type, "The Venue", time_zone),
        unit_id=unit_id,
        start_time=start,
        end_time=start + timedelta(hours=hours),
        party_size=party_size,
        idempotency_key=key,
    )


class BrokenReads:
    """A read side that fails as a bug would (for the tests of unexpected failures)."""

    def __init__(self, detail: str) -> None:
        self.detail = detail

    async def get(self, booking_id: str) -> None:
        raise RuntimeError(self.detail)

    async def get_by_reference(self, reference: str) -> None:
        raise RuntimeError(self.detail)


async def assert_dead_connections_leave_the_pool(
    connections: Connections, database_url: str, attempt: Callable[[], Awaitable[object]]
) -> None:
    """Kills every connection of the database behind the pool's back, then runs `attempt` until it
    succeeds: each dead connection may fail one call (StorageUnavailable), then leave the pool. (A
    connection the driver already saw closed is replaced before it is handed out, and costs no
    call: the discarding of a connection that fails is tested in tests/integration/test_connections.py.)"""
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    failures = 0
    for _ in range(connections.max_size + 2):
        try:
            await attempt()
        except StorageUnavailable:
            failures += 1
            continue
        break
    else:
        raise AssertionError("the pool kept handing out dead connections")
    assert failures <= connections.max_size, "each dead connection failed one call at most"
