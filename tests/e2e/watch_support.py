"""Helpers of test_watch.py: a gRPC watcher that records what it is given, the outbox as it stands,
an outbox change whose transaction commits late, and a reader of server-sent events."""

from __future__ import annotations

import asyncio
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import grpc
import httpx
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc


@dataclass
class Events:
    events: list[pb.BookingEvent] = field(default_factory=list)
    positions: list[str] = field(default_factory=list)  # of the events
    heartbeats: list[str] = field(default_factory=list)  # the heartbeats' positions

    @property
    def ids(self) -> list[str]:
        return [e.event_id for e in self.events]


class Watcher:
    """One WatchBookings call at a time; `resume` opens the next from the last position received."""

    def __init__(
        self,
        stub: booking_pb2_grpc.BookingServiceStub,
        request: pb.WatchBookingsRequest,
        metadata: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.stub, self.request, self.metadata = stub, request, metadata
        self.got = Events()
        self.last = request.start_position
        self.call: Any = None

    async def open(self) -> pb.WatchBookingsResponse:
        request = pb.WatchBookingsRequest()
        request.CopyFrom(self.request)
        request.start_position = self.last
        self.call = self.stub.WatchBookings(request, metadata=self.metadata)
        first: pb.WatchBookingsResponse = await self.call.read()
        assert first.heartbeat, first
        assert not first.HasField("event"), first
        self.last = first.position
        return first

    async def read(self) -> pb.WatchBookingsResponse:
        message = await self.call.read()
        if message is grpc.aio.EOF:
            raise EOFError
        if message.heartbeat:
            self.got.heartbeats.append(message.position)
        else:
            self.got.events.append(message.event)
            self.got.positions.append(message.position)
        self.last = message.position
        return message  # type: ignore[no-any-return]

    async def until(self, count: int, within: float = 30) -> Events:
        async with asyncio.timeout(within):
            while len(self.got.events) < count:
                await self.read()
        return self.got

    async def ended(self) -> grpc.aio.AioRpcError:
        """Reads on until the stream ends with an error; the error."""
        try:
            async with asyncio.timeout(60):
                while True:
                    await self.read()
        except grpc.aio.AioRpcError as error:
            return error

    async def close(self) -> None:
        if self.call is not None:
            self.call.cancel()
            self.call = None


async def outbox_events(
    database_url: str, *, venue_id: str = "", guest_id: str = ""
) -> list[tuple[str, str]]:
    """(event id, position) of the venue's or guest's outbox rows, in position order."""
    column, value = ("venue_id", venue_id) if venue_id else ("guest_id", guest_id)
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            f"SELECT event_id::text, xid, id FROM booking_outbox WHERE {column} = $1 ORDER BY xid, id", value
        )
    finally:
        await conn.close()
    return [(r["event_id"], f"{r['xid']}.{r['id']}") for r in rows]


async def lagging_change(database_url: str, venue_id: str, guest_id: str, hold: float) -> str:
    """Writes an outbox row as the unit of work does, then holds its transaction open for `hold`
    seconds before committing: rows with larger ids commit before it. Marked sent (no relay runs
    here, and another test's relay must not publish it). Returns its event id."""
    event_id, booking_id = str(uuid.uuid4()), str(uuid.uuid4())
    event = pb.BookingEvent(
        event_id=event_id, type="booking.updated", booking_id=booking_id, booking_version=2
    )
    event.booking.venue.venue_id, event.booking.guest.guest_id = venue_id, guest_id
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO booking_outbox (event_id, booking_id, booking_version, event_type, partition,"
                " payload, occurred_at, sent_at, venue_id, guest_id) VALUES ($1, $2, 2, 'booking.updated',"
                " $3, $4, $5, now(), $6, $7)",
                event_id,
                booking_id,
                zlib.crc32(booking_id.encode()) % 16,
                event.SerializeToString(),
                datetime.now(UTC),
                venue_id,
                guest_id,
            )
            await asyncio.sleep(hold)
    finally:
        await conn.close()
    return event_id


@dataclass
class SseEvent:
    id: str | None
    data: str | None
    event: str | None
    comments: list[str]


async def sse_events(response: httpx.Response) -> Any:
    """The events of a text/event-stream response, as they arrive (an async iterator)."""
    block: list[str] = []
    async for line in response.aiter_lines():
        if line:
            block.append(line)
            continue
        if block:
            yield _event(block)
            block = []


def _event(lines: list[str]) -> SseEvent:
    fields: dict[str, str] = {}
    comments = []
    for line in lines:
        if line.startswith(":"):
            comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")
    return SseEvent(fields.get("id"), fields.get("data"), fields.get("event"), comments)
