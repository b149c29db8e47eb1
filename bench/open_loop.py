"""Open-loop load and the statistics both loops share.

A closed loop (N workers, each sending its next call when the last one answers) slows down with the
service it measures: while the service stalls, no call is sent, so the stall shows once in its
latencies instead of in every call that would have arrived meanwhile (coordinated omission). An
open loop sends at a fixed arrival rate whatever the service does, and counts each call's latency
from the time it was *meant* to be sent: a service (or a generator) that falls behind shows its
queue in the percentiles.

Arrivals are Poisson by default (exponential gaps of mean 1/rate, from a seeded generator: the
same schedule on every run), or `uniform` (one every 1/rate s). At most `max_in_flight` calls are
outstanding; an arrival that finds them all taken is not sent: it is counted as an error (code
DROPPED, and in `dropped`) and has no latency, so a row with drops understates its percentiles
(the benchmark's targets require none).

The load generator's CPU per call (`client_cpu_us`) is its process's user and system time
(getrusage, all threads: grpc's own included) over the measured window, divided by the calls sent
in it: what the client costs, to set beside the service's figures.
"""

from __future__ import annotations

import asyncio
import random
import resource
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

OK = "OK"
DROPPED = "DROPPED"
#: Errors a transport raises instead of answering; they count as calls with that code.
CALL_ERRORS = (OSError, asyncio.IncompleteReadError, ConnectionError)


def arrival_offsets(rate: float, duration: float, kind: str = "poisson", seed: int = 0) -> list[float]:
    """Intended send times, in seconds from the start, of the calls in [0, duration)."""
    if rate <= 0:
        raise ValueError("the arrival rate must be positive")
    if kind == "uniform":
        return [i / rate for i in range(int(duration * rate))]
    if kind != "poisson":
        raise ValueError(f"unknown arrival kind {kind!r}")
    rng, offsets, t = random.Random(seed), [], 0.0
    while (t := t + rng.expovariate(rate)) < duration:
        offsets.append(t)
    return offsets


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted values (0.0 for none)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cpu_seconds() -> float:
    """This process's user and system CPU time so far (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def summarize(latencies: list[float], codes: Counter[str], duration: float, cpu: float) -> dict[str, Any]:
    """A row's figures: `calls` answered (with any code) in the window, calls/s, latency percentiles
    in ms, errors (every code but OK, drops included) and the client's CPU µs per call sent."""
    ordered = sorted(latencies)
    answered = len(ordered)
    sent = answered + codes[DROPPED]
    return {
        "calls": answered,
        "rps": round(answered / duration, 1),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 2),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 2),
        "p999_ms": round(percentile(ordered, 0.999) * 1000, 2),
        "errors": sum(codes.values()) - codes[OK],
        "codes": dict(codes),
        "client_cpu_us": round(cpu / sent * 1e6, 1) if sent else None,
    }


#: One call: (slot, sequence number) -> OK or an error code. A slot is one of the max_in_flight
#: places a call holds while outstanding (the caller may tie a connection to it).
Call = Callable[[int, int], Awaitable[str]]


async def run_open(
    call: Call,
    rate: float,
    warmup: float,
    duration: float,
    max_in_flight: int,
    kind: str = "poisson",
    seed: int = 0,
) -> dict[str, Any]:
    """Sends calls at `rate` per second for warmup + duration s; reports those meant to be sent in
    the last `duration` s, each latency counted from its intended send time."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.01
    begin, end = start + warmup, start + warmup + duration
    free = list(range(max_in_flight - 1, -1, -1))  # pop() hands out slot 0 first
    latencies: list[float] = []
    lateness: list[float] = []
    codes: Counter[str] = Counter()
    outstanding: set[asyncio.Task[None]] = set()
    peak = 0
    cpu_begin: float | None = None

    failures: list[BaseException] = []

    async def one(slot: int, i: int, intended: float, counted: bool) -> None:
        try:
            code = await call(slot, i)
        except CALL_ERRORS as error:
            code = type(error).__name__
        except Exception as error:  # a bug of the generator's: raised once the window ends
            failures.append(error)
            return
        finally:
            free.append(slot)
        if counted:
            latencies.append(loop.time() - intended)
            codes[code] += 1

    offsets = arrival_offsets(rate, warmup + duration, kind, seed)
    for i, offset in enumerate(offsets):
        intended = start + offset
        if (delay := intended - loop.time()) > 0:
            await asyncio.sleep(delay)
        counted = intended >= begin
        if counted:
            if cpu_begin is None:
                cpu_begin = cpu_seconds()
            lateness.append(loop.time() - intended)
        if not free:
            if counted:
                codes[DROPPED] += 1
            continue
        task = asyncio.create_task(one(free.pop(), i, intended, counted))
        outstanding.add(task)
        task.add_done_callback(outstanding.discard)
        peak = max(peak, max_in_flight - len(free))
    if (rest := end - loop.time()) > 0:
        await asyncio.sleep(rest)
    cpu = cpu_seconds() - (cpu_begin if cpu_begin is not None else cpu_seconds())
    if outstanding:
        await asyncio.wait(outstanding)
    if failures:
        raise failures[0]
    lateness.sort()
    return {
        **summarize(latencies, codes, duration, cpu),
        "offered_rps": round(sum(1 for offset in offsets if offset >= warmup) / duration, 1),
        "dropped": codes[DROPPED],
        "peak_in_flight": peak,
        "send_lag_p99_ms": round(percentile(lateness, 0.99) * 1000, 2),
        "arrivals": kind,
    }
