"""The load generator: a process of its own that drives the service (or the echo server, or the
seed-design baseline of bench/baseline/) and reports calls/s, latency percentiles and its own CPU per
call.

bench/run.py starts it once and sends it one JSON command per line on stdin; each answer is one JSON
line on stdout. Scenarios are the RPCs the benchmark measures, over gRPC (generated stubs) and over
REST (the seed's paths, JSON bodies); a lifecycle is create, confirm, check in, complete. A
`measure` runs a closed loop (`concurrency` workers, each sending its next call when the last one
answered) or, with `mode: "open"`, an open loop at `rate` calls/s (bench/open_loop.py: latency from
the intended send time, at most `max_in_flight` outstanding). `system: "baseline"` aims the REST
scenarios at the baseline (seeded over REST), which serves CreateBooking and GetBooking only.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import grpc
from booking.v1 import booking_pb2 as pb
from booking.v1 import booking_pb2_grpc, slots_pb2
from google.protobuf import json_format
from google.type import date_pb2

from bench.http1 import Http1Connection
from bench.open_loop import CALL_ERRORS, OK, cpu_seconds, percentile, run_open, summarize

CALL_TIMEOUT = 30.0
START = (datetime.now(UTC) + timedelta(days=30)).replace(hour=18, minute=0, second=0, microsecond=0)


def create_request(venue_id: str, unit_id: str, start: datetime = START) -> pb.CreateBookingRequest:
    request = pb.CreateBookingRequest(
        guest=pb.Guest(guest_id=f"guest-{unit_id}", name="Ada Lovelace", email="ada@example.com"),
        venue=pb.Venue(
            venue_id=venue_id,
            venue_type=pb.VENUE_TYPE_RESTAURANT,
            name="Bench Bistro",
            time_zone="Europe/Paris",
        ),
        unit_id=unit_id,
        party_size=2,
        idempotency_key=f"key-{unit_id}-{uuid.uuid4().hex[:8]}",  # as careful clients send
    )
    request.start_time.FromDatetime(start)
    request.end_time.FromDatetime(start + timedelta(hours=2))
    return request


def as_json(message: Any) -> bytes:
    return json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True)).encode()


class Clients:
    """One gRPC channel per 16 calls in flight (or `channels`), and one HTTP/1.1 connection per call
    in flight (each opened at its first request)."""

    def __init__(
        self, grpc_target: str, rest_host: str, rest_port: int, concurrency: int, channels: int = 0
    ) -> None:
        channels = (channels or max(1, concurrency // 16)) if grpc_target else 0  # none: REST only
        self.channels = [grpc.aio.insecure_channel(grpc_target) for _ in range(channels)]
        self.stubs = [booking_pb2_grpc.BookingServiceStub(c) for c in self.channels]
        self.echo: list[Any] = [c.unary_unary("/bench.Echo/Echo") for c in self.channels]
        self.http = [Http1Connection(rest_host, rest_port) for _ in range(concurrency)]

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
        for connection in self.http:
            await connection.close()


Op = Callable[[Clients, int, int], Awaitable[str]]


def _grpc(call: Callable[[Clients, int, int], Awaitable[Any]]) -> Op:
    async def op(clients: Clients, worker: int, i: int) -> str:
        try:
            await call(clients, worker, i)
        except grpc.aio.AioRpcError as error:
            return error.code().name
        return OK

    return op


async def _rest(clients: Clients, worker: int, method: str, path: str, body: bytes = b"") -> tuple[str, Any]:
    status, payload = await clients.http[worker].request(method, path, body)
    return (OK if 200 <= status < 300 else str(status)), payload


class Scenarios:
    """The operations, given the data seeded for this run."""

    def __init__(self, run: str, seeded: dict[str, Any]) -> None:
        self.run = run
        self.ids: list[str] = seeded.get("booking_ids", [])
        self.venue: str = seeded.get("venue_id", "")
        self.measurement = 0

    def new_booking(self, worker: int, i: int) -> pb.CreateBookingRequest:
        """A booking nobody else asks for: a venue per worker and measurement, a slot per call
        (so that the only refusals are real ones)."""
        venue = f"bench-{self.run}-{self.measurement}-{worker}"
        return create_request(venue, f"table-{i % 40}", START + timedelta(hours=3 * (i // 40)))

    def grpc_op(self, name: str) -> Op:
        if name == "Echo":
            return _grpc(lambda c, w, i: c.echo[w % len(c.echo)](b"ping", timeout=CALL_TIMEOUT))
        if name == "CreateBooking":
            return _grpc(
                lambda c, w, i: c.stubs[w % len(c.stubs)].CreateBooking(
                    self.new_booking(w, i), timeout=CALL_TIMEOUT
                )
            )
        if name == "GetBooking":
            return _grpc(
                lambda c, w, i: c.stubs[w % len(c.stubs)].GetBooking(
                    pb.GetBookingRequest(booking_id=self.ids[(w * 7919 + i) % len(self.ids)]),
                    timeout=CALL_TIMEOUT,
                )
            )
        if name == "ListVenueBookings":
            return _grpc(
                lambda c, w, i: c.stubs[w % len(c.stubs)].ListVenueBookings(
                    pb.ListVenueBookingsRequest(venue_id=self.venue, page_size=20), timeout=CALL_TIMEOUT
                )
            )
        if name == "CheckAvailability":
            return _grpc(lambda c, w, i: c.stubs[w % len(c.stubs)].CheckAvailability(self._availability(i)))
        if name == "Lifecycle":
            return _grpc(lambda c, w, i: self._grpc_lifecycle(c.stubs[w % len(c.stubs)], w, i))
        if name == "SearchAvailableSlots":
            return _grpc(
                lambda c, w, i: c.stubs[w % len(c.stubs)].SearchAvailableSlots(
                    self._slots(i), timeout=CALL_TIMEOUT
                )
            )
        raise ValueError(name)

    def rest_op(self, name: str) -> Op:

        async def op(c: Clients, w: int, i: int) -> str:
            if name == "CreateBooking":
                return (await _rest(c, w, "POST", "/api/v1/bookings", as_json(self.new_booking(w, i))))[0]
            if name == "GetBooking":
                return (
                    await _rest(c, w, "GET", f"/api/v1/bookings/{self.ids[(w * 7919 + i) % len(self.ids)]}")
                )[0]
            if name == "ListVenueBookings":
                return (await _rest(c, w, "GET", f"/api/v1/bookings/venue/{self.venue}?page_size=20"))[0]
            if name == "CheckAvailability":
                return (
                    await _rest(
                        c, w, "POST", "/api/v1/bookings/availability/check", as_json(self._availability(i))
                    )
                )[0]
            if name == "Lifecycle":
                return await self._rest_lifecycle(c, w, i)
            if name == "SearchAvailableSlots":
                path = "/api/v1/bookings/availability/slots"
                return (await _rest(c, w, "POST", path, as_json(self._slots(i))))[0]
            raise ValueError(name)

        return op

    def _availability(self, i: int) -> pb.CheckAvailabilityRequest:
        request = pb.CheckAvailabilityRequest(
            venue_id=self.venue, unit_id=f"seed-unit-{i % 50}", party_size=2
        )
        request.start_time.FromDatetime(START)
        request.end_time.FromDatetime(START + timedelta(hours=2))
        return request

    def _slots(self, i: int) -> slots_pb2.SearchAvailableSlotsRequest:
        """A day of 15-minute candidates (96) for two hours, on the seeded venue's first day of
        bookings: one unit asked for, held by a seeded booking from 18:00 to 20:00 UTC, so the
        slots over it are BOOKED here and the others (about 87) each cost an inventory check."""
        day = (START + timedelta(days=1)).date()
        request = slots_pb2.SearchAvailableSlotsRequest(
            venue_id=self.venue,
            local_date=date_pb2.Date(year=day.year, month=day.month, day=day.day),
            party_size=2,
            unit_ids=[f"seed-unit-{i % 50}"],
        )
        request.duration.FromTimedelta(timedelta(hours=2))
        return request

    async def _grpc_lifecycle(self, stub: Any, w: int, i: int) -> None:
        booking = await stub.CreateBooking(self.new_booking(w, i), timeout=CALL_TIMEOUT)
        for status in (
            pb.BOOKING_STATUS_CONFIRMED,
            pb.BOOKING_STATUS_CHECKED_IN,
            pb.BOOKING_STATUS_COMPLETED,
        ):
            booking = await stub.UpdateBookingStatus(
                pb.UpdateBookingStatusRequest(
                    booking_id=booking.booking_id, expected_version=booking.version, status=status
                ),
                timeout=CALL_TIMEOUT,
            )

    async def _rest_lifecycle(self, c: Clients, w: int, i: int) -> str:
        code, payload = await _rest(c, w, "POST", "/api/v1/bookings", as_json(self.new_booking(w, i)))
        for status in ("BOOKING_STATUS_CONFIRMED", "BOOKING_STATUS_CHECKED_IN", "BOOKING_STATUS_COMPLETED"):
            if code != OK:
                return code
            booking = json.loads(payload)
            body = json.dumps({"expected_version": booking["version"], "status": status}).encode()
            code, payload = await _rest(
                c, w, "POST", f"/api/v1/bookings/{booking['booking_id']}/status", body
            )
        return code


async def measure(
    op: Op, clients: Clients, concurrency: int, warmup: float, duration: float
) -> dict[str, Any]:
    """The closed loop: `concurrency` workers, each sending its next call when the last answered."""
    loop = asyncio.get_running_loop()
    begin = loop.time() + warmup
    end = begin + duration
    latencies: list[float] = []
    codes: Counter[str] = Counter()
    cpu: dict[str, float] = {}
    loop.call_at(begin, lambda: cpu.setdefault("begin", cpu_seconds()))
    loop.call_at(end, lambda: cpu.setdefault("end", cpu_seconds()))

    async def worker(w: int) -> None:
        i = 0
        while (now := loop.time()) < end:
            i += 1
            started = time.perf_counter()
            try:
                code = await op(clients, w, i)
            except CALL_ERRORS as error:
                code = type(error).__name__
            if now >= begin:
                latencies.append(time.perf_counter() - started)
                codes[code] += 1

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    spent = cpu.get("end", cpu_seconds()) - cpu.get("begin", 0.0)
    return summarize(latencies, codes, duration, spent)


async def burst(op: Op, clients: Clients, calls: int) -> dict[str, Any]:
    """`calls` calls at once (the hot-slot test): outcomes and latency of each."""

    async def one(w: int) -> tuple[str, float]:
        started = time.perf_counter()
        code = await op(clients, w, 0)
        return code, time.perf_counter() - started

    results = await asyncio.gather(*(one(w) for w in range(calls)))
    latencies = sorted(t for _, t in results)
    return {
        "calls": calls,
        "codes": dict(Counter(code for code, _ in results)),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


async def seed(grpc_target: str, run: str, bookings: int) -> dict[str, Any]:
    """Bookings for the reads to find: one venue, many units."""
    venue = f"seed-{run}"
    async with grpc.aio.insecure_channel(grpc_target) as channel:
        stub = booking_pb2_grpc.BookingServiceStub(channel)
        ids = []
        for i in range(bookings):
            start = START + timedelta(days=1 + i // 50)
            booking = await stub.CreateBooking(create_request(venue, f"seed-unit-{i % 50}", start))
            ids.append(booking.booking_id)
    return {"venue_id": venue, "booking_ids": ids}


async def seed_rest(rest_host: str, rest_port: int, run: str, bookings: int) -> dict[str, Any]:
    """The same bookings, created over REST (the baseline has no gRPC)."""
    venue, connection, ids = f"seed-rest-{run}", Http1Connection(rest_host, rest_port), []
    try:
        for i in range(bookings):
            start = START + timedelta(days=1 + i // 50)
            body = as_json(create_request(venue, f"seed-unit-{i % 50}", start))
            status, payload = await connection.request("POST", "/api/v1/bookings", body)
            if not 200 <= status < 300:
                raise RuntimeError(f"seeding over REST: {status} {payload[:300]!r}")
            ids.append(json.loads(payload)["booking_id"])
    finally:
        await connection.close()
    return {"venue_id": venue, "booking_ids": ids}


async def measure_command(command: dict[str, Any], scenarios: Scenarios, target: tuple[str, str, int]) -> Any:
    """One `measure` command: a closed loop, or (mode "open") an open loop at `rate` calls/s."""
    scenarios.measurement += 1
    open_loop = command.get("mode") == "open"
    if open_loop:  # as many gRPC channels as the closed loop's 64 in flight
        clients = Clients(*target, concurrency=command["max_in_flight"], channels=4)
    else:
        clients = Clients(*target, concurrency=command["concurrency"])
    op = (scenarios.grpc_op if command["transport"] == "grpc" else scenarios.rest_op)(command["scenario"])
    try:
        if open_loop:
            return await run_open(
                partial(op, clients),
                command["rate"],
                command["warmup"],
                command["duration"],
                command["max_in_flight"],
                command.get("arrivals", "poisson"),
                command.get("seed", 0),
            )
        return await measure(op, clients, command["concurrency"], command["warmup"], command["duration"])
    finally:
        await clients.close()


async def hot_slot(
    command: dict[str, Any], scenarios: Scenarios, clients_args: tuple[str, str, int]
) -> dict[str, Any]:
    """Many creates for one unit and one slot at once: one wins, the rest are refused cleanly."""
    venue, unit = f"hot-{scenarios.run}", f"hot-unit-{uuid.uuid4().hex[:6]}"
    clients = Clients(*clients_args, concurrency=min(command["calls"], 64))
    for channel in clients.channels:
        await channel.channel_ready()

    details: dict[str, str] = {}

    async def op(c: Clients, w: int, i: int) -> str:
        try:
            await c.stubs[w % len(c.stubs)].CreateBooking(create_request(venue, unit), timeout=CALL_TIMEOUT)
        except grpc.aio.AioRpcError as error:
            details.setdefault(error.code().name, error.details() or "")
            return error.code().name
        return OK

    try:
        return {**await burst(op, clients, command["calls"]), "details": details}
    finally:
        await clients.close()


async def serve() -> None:
    run = uuid.uuid4().hex[:8]
    systems = {"service": Scenarios(run, {}), "baseline": Scenarios(f"{run}-b", {})}
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        kind = command["command"]
        target = (command.get("grpc", ""), command.get("rest_host", "127.0.0.1"), command.get("rest_port", 0))
        system = command.get("system", "service")
        if kind == "seed":
            if system == "baseline":
                seeded = await seed_rest(target[1], target[2], run, command["bookings"])
            else:
                seeded = await seed(target[0], run, command["bookings"])
            systems[system] = Scenarios(systems[system].run, seeded)
            answer = {"venue_id": seeded["venue_id"], "bookings": len(seeded["booking_ids"])}
        elif kind == "hot_slot":
            answer = await hot_slot(command, systems["service"], target)
        elif kind == "measure":
            answer = await measure_command(command, systems[system], target)
        else:
            answer = {"error": f"unknown command {kind}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    import uvloop

    uvloop.run(serve())
