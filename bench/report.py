"""The benchmark's results: ratios to the ceilings and to the seed-design baseline, the targets of
issue 19, a table and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HOT_SLOT_EXPECTED = {"OK", "ALREADY_EXISTS", "ABORTED", "FAILED_PRECONDITION"}


def row_line(row: dict[str, Any]) -> str:
    mode = "closed" if row.get("mode", "closed") == "closed" else f"open@{row.get('offered_rps', 0):.0f}/s"
    return (
        f"  {row['name']:<18} {row.get('system', 'service'):<8} {row['transport']:<4} {mode:<13} "
        f"c={row['concurrency']:<3} {row['rps']:>8.1f}/s "
        f"p50 {row['p50_ms']:>7.2f} p99 {row['p99_ms']:>8.2f} p99.9 {row['p999_ms']:>8.2f} ms "
        f"errors {row['errors']}  CPU: service {row.get('service_cpu', 0):.0%} "
        f"({row.get('service_cpu_us') or 0:.0f} us/call) "
        f"load {row.get('load_generator_cpu', 0):.0%} ({row.get('client_cpu_us') or 0:.0f} us/call) "
        f"machine {row.get('machine_cpu') or 0:.0%}" + (f" {row['codes']}" if row["errors"] else "")
    )


def find(
    results: list[dict[str, Any]],
    name: str,
    transport: str,
    concurrency: int,
    system: str = "service",
    mode: str = "closed",
) -> dict[str, Any] | None:
    """The row of that call, transport and calls in flight, of that system and mode."""
    return next(
        (
            r
            for r in results
            if (
                r["name"],
                r["transport"],
                r["concurrency"],
                r.get("system", "service"),
                r.get("mode", "closed"),
            )
            == (name, transport, concurrency, system, mode)
        ),
        None,
    )


def build(
    ceilings: dict[str, Any],
    results: list[dict[str, Any]],
    hot: dict[str, Any],
    soak: dict[str, Any],
    *,
    workers: int,
    quick: bool,
) -> dict[str, Any]:
    for row in results:
        ceiling = (
            ceilings["pgbench_create_tps"]
            if row["name"] in ("CreateBooking", "Lifecycle")
            else ceilings["echo_rpc_rps"]
        )
        row["ratio_to_ceiling"] = round(row["rps"] / ceiling, 3) if ceiling else None
        if row.get("system", "service") != "service" or row.get("mode", "closed") != "closed":
            continue
        twin = find(results, row["name"], "grpc", row["concurrency"])
        if row["transport"] == "rest" and twin and twin["rps"]:
            row["ratio_to_grpc"] = round(row["rps"] / twin["rps"], 3)
        baseline = find(results, row["name"], row["transport"], row["concurrency"], system="baseline")
        if baseline and baseline["rps"]:
            row["times_baseline"] = round(row["rps"] / baseline["rps"], 2)
    return {
        "workers": workers,
        "quick": quick,
        "ceilings": ceilings,
        "results": results,
        "hot_slot": hot,
        "memory_soak": soak,
        "targets": targets(ceilings, results, hot, soak),
    }


def targets(
    ceilings: dict[str, Any], results: list[dict[str, Any]], hot: dict[str, Any], soak: dict[str, Any]
) -> list[dict[str, Any]]:
    """Issue 19's targets (each read off one run: ratios), then the standing checks of issue 7
    (the hot slot, a flat RSS)."""
    checks: list[dict[str, Any]] = []
    for name, times, concurrency in (("CreateBooking", 3, 16), ("GetBooking", 4, 16)):
        ours, theirs = (
            find(results, name, "rest", concurrency),
            find(results, name, "rest", concurrency, system="baseline"),
        )
        if ours and theirs and theirs["rps"]:
            ratio = ours["rps"] / theirs["rps"]
            checks.append(
                _check(
                    f"{name} REST c={concurrency} >= {times}x the seed-design baseline",
                    f"{ratio:.1f}x ({ours['rps']:.0f} vs {theirs['rps']:.0f}/s)",
                    ratio >= times and ours["errors"] == 0,
                )
            )
    create64 = find(results, "CreateBooking", "grpc", 64)
    if create64:
        ratio = create64["rps"] / ceilings["pgbench_create_tps"]
        checks.append(
            _check(
                "CreateBooking gRPC c=64 >= 30% of pgbench, no errors",
                f"{ratio:.0%}, {create64['errors']} errors",
                ratio >= 0.3 and create64["errors"] == 0,
            )
        )
    for transport in ("grpc", "rest"):
        create16 = find(results, "CreateBooking", transport, 16)
        if create16:
            checks.append(
                _check(
                    f"CreateBooking {transport} c=16 closed loop p99 < 25 ms",
                    f"{create16['p99_ms']} ms",
                    create16["p99_ms"] < 25,
                )
            )
    opened = [r for r in results if r["name"] == "CreateBooking" and r.get("mode") == "open"]
    fractions = {r.get("load_fraction") for r in opened}
    if opened:
        checks.append(
            _check(
                "CreateBooking open loop reported at 50% and 80% of max rate, no drops or errors",
                "; ".join(
                    f"{r['transport']} {r['load_fraction']:.0%} ({r['offered_rps']:.0f}/s): "
                    f"p99 {r['p99_ms']} ms, {r['errors']} errors"
                    for r in opened
                ),
                {0.5, 0.8} <= fractions and all(r["errors"] == 0 for r in opened),
            )
        )
    gets = [
        r
        for r in results
        if (r["name"], r["transport"], r.get("system", "service"), r.get("mode", "closed"))
        == ("GetBooking", "grpc", "service", "closed")
    ]
    if gets:
        best = max(gets, key=lambda r: r["rps"])
        ratio = best["rps"] / ceilings["echo_rpc_rps"]
        checks.append(
            _check(
                "GetBooking gRPC >= 50% of the echo RPC",
                f"{ratio:.0%} (c={best['concurrency']})",
                ratio >= 0.5,
            )
        )
    for transport in ("grpc", "rest"):
        slots = find(results, "SearchAvailableSlots", transport, 16)
        if slots:
            checks.append(
                _check(
                    f"SearchAvailableSlots (96 slots) {transport} c=16 p99 < 50 ms",
                    f"{slots['p99_ms']} ms, {slots['errors']} errors",
                    slots["p99_ms"] < 50 and slots["errors"] == 0,
                )
            )
    if hot:
        unexpected = {c: n for c, n in hot["codes"].items() if c not in HOT_SLOT_EXPECTED}
        checks.append(
            _check(
                "(standing) 500 creates for one hot slot: only sold-out/conflict answers, one winner",
                f"{hot['codes']}, p99 {hot['p99_ms']} ms",
                not unexpected and hot["codes"].get("OK") == 1,
            )
        )
    if soak:
        checks.append(
            _check(
                "(standing) RSS flat within 10% over the soak",
                f"{soak['growth_percent']}%",
                abs(soak["growth_percent"]) <= 10,
            )
        )
    return checks


def _check(name: str, measured: str, met: bool) -> dict[str, Any]:
    return {"target": name, "measured": measured, "met": met}


def table(summary: dict[str, Any]) -> str:
    c = summary["ceilings"]
    lines = [
        f"ceilings: pgbench CreateBooking SQL {c['pgbench_create_tps']:.0f} tx/s; "
        f"echo RPC {c['echo_rpc_rps']:.0f} calls/s   (workers: {summary['workers']}; {_affinity(summary)})",
        "",
        "| call | system | transport | mode | in flight | calls/s | p50 ms | p99 ms | p99.9 ms | errors "
        "| of ceiling | of gRPC | x baseline | server CPU us/call | client CPU us/call |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary["results"]:
        mode = r.get("mode", "closed")
        if mode == "open":
            mode = f"open {r.get('load_fraction', 0):.0%} ({r.get('offered_rps', 0):.0f}/s)"
            in_flight = f"<={r['concurrency']} (peak {r.get('peak_in_flight', '?')})"
        else:
            in_flight = str(r["concurrency"])
        times = r.get("times_baseline")
        lines.append(
            f"| {r['name']} | {r.get('system', 'service')} | {r['transport']} | {mode} | {in_flight} "
            f"| {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['p999_ms']:.2f} | {r['errors']} "
            f"| {_pct(r.get('ratio_to_ceiling'))} | {_pct(r.get('ratio_to_grpc'))} "
            f"| {'' if times is None else f'{times:.1f}x'} | {r.get('service_cpu_us') or 0:.0f} "
            f"| {r.get('client_cpu_us') or 0:.0f} |"
        )
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines += [
        f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |" for t in summary["targets"]
    ]
    return "\n".join(lines)


def _affinity(summary: dict[str, Any]) -> str:
    pinned = summary.get("cpu_affinity") or {}
    if not pinned.get("load_generator"):
        return "nothing pinned"
    return (
        f"service, baseline and echo server on cores {pinned['service_baseline_echo']}, load generator "
        f"on {pinned['load_generator']}; unpinned: {pinned['unpinned']}"
    )


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 6))
    series: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in summary["results"]:
        if row.get("mode", "closed") == "closed":
            key = (row["name"], row.get("system", "service"), row["transport"])
            series.setdefault(key, []).append(row)
    for (name, system, transport), rows in sorted(series.items()):
        rows.sort(key=lambda r: r["concurrency"])
        axes.plot(
            [r["rps"] for r in rows],
            [r["p99_ms"] for r in rows],
            marker="o" if system == "service" else "x",
            linestyle=":" if system == "baseline" else "-" if transport == "grpc" else "--",
            label=f"{name} ({transport})" + (" baseline" if system == "baseline" else ""),
        )
    c = summary["ceilings"]
    axes.axvline(c["pgbench_create_tps"], color="grey", linestyle=":", label="pgbench create SQL")
    axes.axvline(c["echo_rpc_rps"], color="black", linestyle=":", label="echo RPC")
    axes.set_xlabel("calls/s (closed loop: 1, 16, 64 in flight)")
    axes.set_ylabel("p99 latency (ms)")
    axes.set_yscale("log")
    axes.set_title(f"booking-service: p99 latency against throughput (workers: {summary['workers']})")
    axes.legend(fontsize="small", ncol=2)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
