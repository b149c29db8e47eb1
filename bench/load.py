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
from datetime import timedelta
from functools import partial
from typing import Any

import grpc
from booking.v1 import booking_pb2_grpc

from bench.http1 import Http1Connection
from bench.open_loop import CALL_ERRORS, OK, cpu_seconds, percentile, run_open, summarize
from bench.scenarios import CALL_TIMEOUT, START, Clients, Op, Scenarios, as_json, create_request


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
