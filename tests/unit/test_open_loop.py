"""The benchmark's open loop (bench/open_loop.py): its arrival schedule, latency counted from the
intended send time (a queue shows, coordinated omission does not hide it), and the in-flight cap."""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.open_loop import DROPPED, OK, Call, arrival_offsets, percentile, run_open


def test_uniform_arrivals_are_evenly_spaced() -> None:
    offsets = arrival_offsets(100, 1.0, "uniform")
    assert len(offsets) == 100
    assert offsets[:3] == [0.0, 0.01, 0.02]


def test_poisson_arrivals_keep_the_rate_and_repeat_with_the_seed() -> None:
    offsets = arrival_offsets(1000, 10.0, "poisson", seed=7)
    assert 9_700 < len(offsets) < 10_300
    assert offsets == sorted(offsets)
    assert 0 < offsets[0] < offsets[-1] < 10.0
    assert offsets == arrival_offsets(1000, 10.0, "poisson", seed=7)
    assert offsets != arrival_offsets(1000, 10.0, "poisson", seed=8)
    with pytest.raises(ValueError, match="positive"):
        arrival_offsets(0, 1.0)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 100.0
    assert percentile([], 0.99) == 0.0


def _one_server(service_time: float) -> Call:
    lock = asyncio.Lock()

    async def call(slot: int, i: int) -> str:
        async with lock:  # one call at a time: a queue forms when arrivals outpace it
            await asyncio.sleep(service_time)
        return OK

    return call


async def test_an_overloaded_server_shows_its_queue() -> None:
    """Arrivals at twice what the server can answer: a closed loop would report about the service
    time (10 ms); counted from the intended send time, the late calls show the queue."""
    call = _one_server(0.01)
    row = await run_open(call, rate=200, warmup=0, duration=0.5, max_in_flight=1000, kind="uniform")
    assert row["errors"] == 0
    assert row["calls"] == 100
    assert row["p99_ms"] > 300
    assert row["offered_rps"] == 200.0


async def test_a_late_generator_counts_against_the_latency() -> None:
    """The calls answer at once, but the generator stalls 60 ms: the calls meant to go out meanwhile
    are sent late, and their latency counts from when they were meant to go."""

    async def call(slot: int, i: int) -> str:
        if i == 0:
            time.sleep(0.06)  # noqa: ASYNC251 (on purpose) blocks the loop, as a busy generator would
        return OK

    row = await run_open(call, rate=200, warmup=0, duration=0.2, max_in_flight=100, kind="uniform")
    assert row["errors"] == 0
    assert row["p99_ms"] >= 40
    assert row["send_lag_p99_ms"] >= 40


async def test_arrivals_beyond_the_cap_are_dropped_and_counted_as_errors() -> None:
    async def slow(slot: int, i: int) -> str:
        assert slot in (0, 1)
        await asyncio.sleep(0.3)
        return OK

    row = await run_open(slow, rate=100, warmup=0, duration=0.2, max_in_flight=2, kind="uniform")
    assert row["calls"] == 2
    assert row["dropped"] == 18
    assert row["codes"][DROPPED] == 18
    assert row["errors"] == 18
    assert row["peak_in_flight"] == 2
    assert row["client_cpu_us"] is not None


async def test_the_warmup_is_not_counted() -> None:
    call = _one_server(0.0)
    row = await run_open(call, rate=100, warmup=0.1, duration=0.1, max_in_flight=10, kind="uniform")
    assert row["calls"] == 10


async def test_a_failing_call_raises_after_the_window() -> None:
    async def broken(slot: int, i: int) -> str:
        raise KeyError("a bug in the scenario")

    with pytest.raises(KeyError, match="a bug"):
        await run_open(broken, rate=100, warmup=0, duration=0.05, max_in_flight=10, kind="uniform")
