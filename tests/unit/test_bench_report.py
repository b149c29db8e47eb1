"""The benchmark's report (bench/report.py): the 'x baseline' ratio and issue 19's targets."""

from __future__ import annotations

from typing import Any

from bench import report


def _row(name: str, transport: str, concurrency: int, rps: float, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "system": "service",
        "mode": "closed",
        "transport": transport,
        "concurrency": concurrency,
        "rps": rps,
        "p50_ms": 5.0,
        "p99_ms": 20.0,
        "p999_ms": 30.0,
        "errors": 0,
        "client_cpu_us": 100.0,
        **more,
    }


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    ceilings = {"pgbench_create_tps": 1000.0, "echo_rpc_rps": 4000.0}
    return report.build(ceilings, results, {}, {}, workers=1, quick=True)


def test_times_baseline_compares_the_same_call_transport_and_calls_in_flight() -> None:
    results = [
        _row("CreateBooking", "grpc", 16, 400),
        _row("CreateBooking", "rest", 16, 450),
        _row("CreateBooking", "rest", 16, 100, system="baseline"),
        _row("CreateBooking", "rest", 64, 500),
    ]
    summary = _summary(results)
    assert results[1]["times_baseline"] == 4.5
    assert "times_baseline" not in results[0]  # the baseline speaks REST only
    assert "times_baseline" not in results[3]  # no baseline row at 64
    assert "times_baseline" not in results[2]
    assert "| 4.5x |" in report.table(summary)


def test_issue_19_targets() -> None:
    results = [
        _row("CreateBooking", "grpc", 16, 400),
        _row("CreateBooking", "grpc", 64, 350),
        _row("CreateBooking", "rest", 16, 450, p99_ms=30.0),
        _row("CreateBooking", "rest", 16, 100, system="baseline"),
        _row("GetBooking", "grpc", 64, 2100),
        _row("GetBooking", "rest", 16, 3000),
        _row("GetBooking", "rest", 16, 1000, system="baseline"),
        _row("SearchAvailableSlots", "grpc", 16, 100, p99_ms=40.0),
        *(
            _row("CreateBooking", t, 256, 200, mode="open", load_fraction=f, offered_rps=200)
            for t in ("grpc", "rest")
            for f in (0.5, 0.8)
        ),
    ]
    met = {t["target"]: t["met"] for t in _summary(results)["targets"]}
    assert met == {
        "CreateBooking REST c=16 >= 3x the seed-design baseline": True,
        "GetBooking REST c=16 >= 4x the seed-design baseline": False,
        "CreateBooking gRPC c=64 >= 30% of pgbench, no errors": True,
        "CreateBooking grpc c=16 closed loop p99 < 25 ms": True,
        "CreateBooking rest c=16 closed loop p99 < 25 ms": False,
        "CreateBooking open loop reported at 50% and 80% of max rate, no drops or errors": True,
        "GetBooking gRPC >= 50% of the echo RPC": True,
        "SearchAvailableSlots (96 slots) grpc c=16 p99 < 50 ms": True,
    }
